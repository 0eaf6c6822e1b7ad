"""TorchScript export of a run's best model: `RUN_DIR/model.pt`, loadable without project code."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import warnings
from pathlib import Path
from typing import Iterator

import torch

from .atomic import write_atomic
from .config import TrainConfig
from .errors import RunDirError
from .model import SessionGRU
from .pop_prior import popularity_prior
from .recommend import pad_batch
from .run_kind import BEST_FILE, ENSEMBLE, ENSEMBLE_FILE, not_a_gru_run, not_a_trained_gru_run, run_kind
from .serving_gru import ServingGRU
from .vocab import VOCAB_FILE, Vocab

MODEL_FILE = "model.pt"
#: Inside model.pt (a TorchScript extra file): the SHA-256 of the best.pt it was exported from, so
#: that a run resumed after `export` and improved is not served or scored as if it were its best.
EXPORT_RECORD = "sessrec_export.json"


@contextlib.contextmanager
def torchscript_quiet() -> Iterator[None]:
    """TorchScript is deprecated in torch 2.13, yet it is what loads without project code (in
    TorchServe too): silence exactly its script/save/load deprecation notices, no other warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.(script|save|load)` is deprecated",
                                category=DeprecationWarning)
        yield


def load_scripted(path: Path, extra_files: dict[str, bytes] | None = None) -> torch.jit.ScriptModule:
    """`torch.jit.load` on CPU, eval mode; `extra_files` (name -> b"") is filled with those saved inside
    (b"" for one that is not)."""
    with torchscript_quiet():
        return torch.jit.load(str(path), map_location="cpu", _extra_files=extra_files or {}).eval()


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def stale_export(run_dir: Path, record: bytes) -> str | None:
    """Why RUN/model.pt, whose EXPORT_RECORD is `record`, is not the export of the run's best.pt now,
    or None (it is; or the run has no best.pt, or the export predates the record)."""
    best = Path(run_dir) / BEST_FILE
    if not record or not best.exists():
        return None
    try:
        exported_from = json.loads(record).get("best_sha256")
    except (ValueError, AttributeError):  # not ours: nothing to compare
        return None
    if exported_from == _sha256(best):
        return None
    return (f"{Path(run_dir) / MODEL_FILE} was exported from an earlier best checkpoint than {best} now holds "
            f"(the run went on after the export); `python -m trainer export --run {run_dir}` exports its best")


def load_best_model(run_dir: Path) -> tuple[SessionGRU, TrainConfig]:
    """Rebuild the best epoch's eager model from `best.pt` (config travels inside it)."""
    path = Path(run_dir) / BEST_FILE
    if not path.exists():
        raise RunDirError(not_a_trained_gru_run(run_dir) or f"{path}: no best checkpoint")
    state = torch.load(path, map_location="cpu", weights_only=True)
    cfg = TrainConfig.from_dict(state["config"])
    model = SessionGRU(cfg.model)
    model.load_state_dict(state["model"])
    if cfg.pop_prior:  # a constant of the run, not in the checkpoint (pop_prior.py)
        model.set_prior(popularity_prior(cfg.pop_prior, Vocab.load(Path(run_dir) / VOCAB_FILE).counts))
    return model.eval(), cfg


def _check_same(name: str, expected: torch.Tensor, got: torch.Tensor) -> None:
    if expected.shape != got.shape:
        raise RuntimeError(f"exported {name} returns shape {tuple(got.shape)}, the trained model {tuple(expected.shape)}")
    # fp32 rounding grows with the size of the terms summed, so the tolerance follows the outputs' scale:
    # a model trained at a large lr has scores in the hundreds, where 1e-5 absolute is below rounding.
    scale = max(1.0, float(expected.abs().max())) if expected.numel() else 1.0
    if not torch.allclose(expected, got, atol=1e-5 * scale, rtol=1e-5):
        raise RuntimeError(f"exported {name} differs from the trained model's by {(expected - got).abs().max():.3g} "
                           f"(largest output {scale:.3g})")


def save_scripted(module: torch.nn.Module, path: Path, check_inputs: list[list[int]],
                  reference: torch.nn.Module | None = None, record: dict | None = None) -> None:
    """Script `module` on CPU in eval mode, check it against `reference` (default: itself, eager) on
    `check_inputs` for every serving method the reference has, and save atomically (with `record`
    as EXPORT_RECORD inside)."""
    module = module.cpu().eval()
    reference = (reference or module).cpu().eval()
    with torchscript_quiet():
        scripted = torch.jit.script(module)
    movies, lens = pad_batch(check_inputs)
    with torch.inference_mode():
        _check_same("predict_next", reference.predict_next(movies, lens), scripted.predict_next(movies, lens))
        if hasattr(reference, "step"):
            state = reference.encode(movies, lens)
            _check_same("encode", state, scripted.encode(movies, lens))
            nxt = movies[:, 0].clamp(min=1) % reference.vocab_size
            _check_same("step", reference.step(state, nxt), scripted.step(state, nxt))
            _check_same("scores", reference.scores(state), scripted.scores(state))
    buf = io.BytesIO()
    with torchscript_quiet():
        torch.jit.save(scripted, buf, _extra_files={EXPORT_RECORD: json.dumps(record)} if record else {})
    write_atomic(path, buf.getvalue())


#: The longest history an export is checked on: twice the most ids a request may carry (handler
#: max_ids), longer than any MovieLens user's. A --max-len past it (say 10**9, for "all of it")
#: is checked at this length, instead of building a check input of max_len ids after training.
CHECK_LEN = 2000


def check_inputs(vocab_size: int, max_len: int) -> list[list[int]]:
    """Histories an export is checked on: the start token alone, a short one, and a full input window
    (at most CHECK_LEN long)."""
    v = vocab_size
    return [[0], [0, 1 % v, 2 % v], [0] + [(7 * i) % v for i in range(1, min(max_len, CHECK_LEN))]]


def export_run(run_dir: Path) -> Path:
    """Write `RUN_DIR/model.pt` from the best checkpoint and return its path."""
    if run_kind(run_dir) == ENSEMBLE:
        raise RunDirError(f"{not_a_gru_run(run_dir)}; its model.pt comes from `python -m trainer ensemble`, "
                          "not from a checkpoint")
    model, cfg = load_best_model(run_dir)
    out = Path(run_dir) / MODEL_FILE
    save_scripted(ServingGRU(model), out, check_inputs(cfg.model.vocab_size, cfg.max_len), reference=model,
                  record={"best_sha256": _sha256(Path(run_dir) / BEST_FILE)})
    return out


def ensemble_members(run_dir: Path) -> list[Path]:
    """The member runs of an ensemble run directory.

    Each member is looked for first at its path relative to the ensemble, so that runs moved or copied
    together still find each other; then at the path it was given when the ensemble was built (relative
    to the current directory), which is all that ensembles built before the relative path was recorded have.
    """
    run_dir = Path(run_dir)
    found = []
    for member in json.loads((run_dir / ENSEMBLE_FILE).read_text())["members"]:
        near = run_dir / member["from_ensemble"] if "from_ensemble" in member else None
        found.append(near if near is not None and near.exists() else Path(member["run"]))
    return found
