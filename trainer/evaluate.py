"""`evaluate`: score a run's EXPORTED model (what is served) on a split."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

import torch

from .atomic import write_text_atomic
from .config import PROTOCOLS, TrainConfig
from .data_identity import warn_if_other_data
from .errors import ConfigError, DataError, RunDirError
from .evaluation import EvalCases, check_ranking_width, evaluate_scorer, protocol_cases
from .export import EXPORT_RECORD, MODEL_FILE, load_scripted, stale_export
from .movie_names import MovieNames
from .output_file import check_output_file
from .run_kind import CONFIG_FILE
from .splits import history_for, load_data_dir
from .user_ids import read_users
from .vocab import VOCAB_FILE, Vocab


def exported_model(run_dir: Path) -> Path:
    """The path of a finished run's model.pt; RunDirError when the run or its export is missing."""
    run_dir = Path(run_dir)
    path = run_dir / MODEL_FILE
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: no such run directory (`python -m trainer train --out {run_dir}` makes one)")
    if not path.exists():
        if (run_dir / "train.pkl").exists():  # --run and --data swapped, say
            raise RunDirError(f"{run_dir} holds split files (train.pkl): a data directory, not a run's; --run takes "
                              "what `python -m trainer train --out` made")
        raise RunDirError(f"{path}: no exported model; train the run to the end or run `python -m trainer export`")
    return path


def load_exported(run_dir: Path, refuse_stale: bool = False) -> tuple[torch.jit.ScriptModule, Vocab, TrainConfig]:
    """The TorchScript model, vocabulary and config of a finished run. A model.pt exported before
    the run's best checkpoint last changed gets a warning line, or is refused (`refuse_stale`: what
    is about to be shipped)."""
    run_dir = Path(run_dir)
    record = {EXPORT_RECORD: b""}
    model = load_scripted(exported_model(run_dir), record)
    if problem := stale_export(run_dir, record[EXPORT_RECORD]):
        if refuse_stale:
            raise RunDirError(problem)
        print(f"warning: {problem}; it answers as exported", file=sys.stderr)
    vocab = Vocab.load(run_dir / VOCAB_FILE)
    cfg = TrainConfig.load(run_dir / CONFIG_FILE)
    if cfg.model.vocab_size != vocab.size:
        raise RunDirError(f"{run_dir}: config vocab_size {cfg.model.vocab_size} != vocab.json size {vocab.size}")
    return model, vocab, cfg


def run_cases(data_dir: Path, run_dir: Path, split: str = "test", test_history: str = "train+validate",
              protocol: str = "set") -> tuple[torch.jit.ScriptModule, EvalCases]:
    """A finished run's exported model and the evaluation cases of `split`, built with its vocabulary."""
    return _run_cases(data_dir, run_dir, split, test_history, protocol)[:2]


def _run_cases(data_dir: Path, run_dir: Path, split: str, test_history: str,
               protocol: str) -> tuple[torch.jit.ScriptModule, EvalCases, Vocab]:
    """`run_cases`, and the vocabulary it built them with."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"--protocol must be {' or '.join(PROTOCOLS)}, got {protocol!r}")
    model, vocab, cfg = load_exported(run_dir)
    splits = load_data_dir(Path(data_dir))
    warn_if_other_data(run_dir, data_dir, splits)  # loaded: compared by content without a second load
    return (model, protocol_cases(protocol, history_for(splits, split, test_history), splits[split], vocab,
                                  cfg.max_len), vocab)


def evaluate_run(data_dir: Path, run_dir: Path, split: str = "test", k: int = 20,
                 test_history: str = "train+validate", device: str = "cpu",
                 per_user_file: Path | None = None, protocol: str = "set",
                 candidates: Sequence[int] | None = None, read_files: Sequence[Path] = ()) -> dict[str, Any]:
    """Full-catalog metrics of the exported model on `split` of `data_dir`.

    Args:
        data_dir: directory with train/validate/test pickles.
        run_dir: a finished run (model.pt, vocab.json, config.json).
        split: "test" or "validate".
        k: MAP cut-off.
        test_history: "train+validate" (default) or "train" (the notebook's protocol) for `test`.
        device: where the model scores (masking and top-k always run on CPU, as in serving).
        per_user_file: also write every user's metrics there as JSON (`{"users": [...], "targets":
            [target-set sizes, or event counts], "metrics": {name: [...]}}`, same order; users by the log's
            text ids when prepare numbered them, users.tsv), for paired comparisons between runs.
        protocol: "set" (the split's movies as one target set after the history) or "next" (each
            movie of the split from everything before it; a user's metrics are the mean over their movies).
        candidates: raw movie ids to rank among (a deployment's allow-list, served as `candidates`); targets
            outside them stay in the target sets, as misses. The result then says how many are in the catalog.
        read_files: other files the caller read (the candidates' id file), which `per_user_file` must not replace.

    Returns:
        Metric means over users plus `users`, `skipped_users`, `split` and `protocol`.
    """
    if per_user_file is not None:  # before the scoring, which may take minutes
        check_output_file(per_user_file, "--per-user", run=run_dir, data=data_dir, inputs=read_files)
    result, per_user = score_run(data_dir, run_dir, split, k, test_history, device, protocol, candidates)
    if not result["users"]:  # was printed as {"users": 0, ...}, without a metric, and exit status 0
        skipped = result["skipped_users"]
        raise DataError(f"{Path(data_dir) / (split + '.pkl')}: no user has movies to predict ("
                        + (f"{skipped} user(s), each with an empty list" if skipped else "it holds no users")
                        + "); there is nothing to evaluate")
    if per_user_file is not None:
        names = read_users(Path(data_dir))  # the log's text ids, for joining to the user's own tables
        if names is not None:
            per_user["users"] = [names.get(user, user) for user in per_user["users"]]
        Path(per_user_file).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(Path(per_user_file), json.dumps(per_user) + "\n")
    return result


def score_run(data_dir: Path, run_dir: Path, split: str = "test", k: int = 20, test_history: str = "train+validate",
              device: str = "cpu", protocol: str = "set",
              candidates: Sequence[int] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """`evaluate_run`'s result and its per-user values (the `per_user_file` payload), for comparisons in process."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"--k (the map@k cut-off) must be a positive int, got {k!r}")
    model, cases, vocab = _run_cases(data_dir, run_dir, split, test_history, protocol)
    check_ranking_width(k, vocab.size - 1, "--k")
    if candidates is not None and vocab.names is not None:  # a log's text ids, as the handler takes them
        candidates = MovieNames(vocab.names, vocab.movies).numbers(candidates)
    allowed = None if candidates is None else vocab.encode(dict.fromkeys(candidates))
    if allowed is not None and not allowed:
        raise DataError(f"none of the {len(candidates)} candidate id(s) is in {run_dir}'s catalog of "
                        f"{vocab.size - 1} movies; nothing could be ranked")
    model = model.to(device)
    values: dict[str, torch.Tensor] = {}
    result = evaluate_scorer(lambda m, l: model.predict_next(m.to(device), l.to(device)), cases, k, per_user=values,
                             counts=vocab.counts, allowed=allowed)
    result["split"], result["protocol"] = split, protocol
    if allowed is not None:
        result["candidates"] = len(allowed)  # distinct ids in the catalog: the others cannot be ranked
    per_user = {"run": str(run_dir), "split": split, "protocol": protocol, "users": cases.users,
                "targets": cases.targets_per_user(),
                "metrics": {name: v.tolist() for name, v in values.items()}}
    return result, per_user
