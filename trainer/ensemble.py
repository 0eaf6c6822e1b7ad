"""`ensemble`: several finished GRU runs served as one model that averages their predictions.

On ML-1M one seed moves test ndcg@10 by up to ~0.008, and averaging two or three seeds' next-movie
distributions beats every single one of them (BENCHMARKS.md). The ensemble is a run directory like
any other (model.pt, vocab.json, config.json), so `evaluate`, `archive` and sessions take it as is;
each request costs one GRU pass per member.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, List

import torch
from torch import nn

from .atomic import write_text_atomic
from .data_identity import DATA_FILE, recorded, same_records
from .errors import RunDirError
from .export import MODEL_FILE, check_inputs, load_best_model, save_scripted
from .run_lock import claim_run_dir
from .serving_gru import ServingGRU
from .run_kind import CONFIG_FILE, ENSEMBLE_FILE
from .vocab import VOCAB_FILE


class Ensemble(nn.Module):
    """Members' mean log-probabilities, with the serving interface of one GRU.

    The state of each layer is the members' states side by side ([L, B, sum of hidden sizes]), so
    the handler stores and batches it exactly like a single GRU's. Scores are mean log-softmax, not
    logits: members trained apart put their logits on different scales, their probabilities not.
    """

    def __init__(self, members: List[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.sizes: List[int] = [int(m.hidden) if hasattr(m, "hidden") else int(m.gru.hidden_size) for m in members]
        self.vocab_size: int = int(members[0].vocab_size)

    @torch.jit.export
    def encode(self, movies: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """States of every member after each sequence: FloatTensor[L, B, sum H]."""
        return torch.cat([m.encode(movies, lens) for m in self.members], dim=-1)

    @torch.jit.export
    def step(self, state: torch.Tensor, movies: torch.Tensor) -> torch.Tensor:
        """Advance every member's state by one movie each."""
        parts = torch.split(state, self.sizes, dim=-1)
        out: List[torch.Tensor] = []
        for i, m in enumerate(self.members):
            out.append(m.step(parts[i], movies))
        return torch.cat(out, dim=-1)

    @torch.jit.export
    def scores(self, state: torch.Tensor) -> torch.Tensor:
        """Mean next-movie log-probability over members: FloatTensor[B, V]."""
        parts = torch.split(state, self.sizes, dim=-1)
        logps: List[torch.Tensor] = []
        for i, m in enumerate(self.members):
            logps.append(torch.log_softmax(m.scores(parts[i]), dim=-1))
        return torch.stack(logps).mean(0)

    @torch.jit.export
    def predict_next(self, movies: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        return self.scores(self.encode(movies, lens))

    def forward(self, movies: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        return self.predict_next(movies, lens)


def _member(run: Path) -> tuple[nn.Module, dict[str, Any], str]:
    model, cfg = load_best_model(run)  # GRU runs only: baselines have no best.pt
    vocab = (run / VOCAB_FILE).read_text()
    return model, cfg.to_dict(), vocab


def build_ensemble(runs: list[Path], out_dir: Path) -> Path:
    """Write an ensemble run directory from finished GRU runs and return its model path.

    Raises:
        RunDirError: fewer than two runs, a run that is not a finished GRU run, or runs that do not
            share the vocabulary, the input window and the layer count (the state layout needs them).
    """
    runs = [Path(r) for r in runs]
    if len(runs) < 2:
        raise RunDirError(f"an ensemble needs at least two runs, got {len(runs)}")
    seen: dict[Path, Path] = {}
    for run in runs:  # a run given twice would only count double in the average
        if run.resolve() in seen:
            raise RunDirError(f"{run} is given twice (also as {seen[run.resolve()]}); an ensemble's runs must differ")
        seen[run.resolve()] = run
    members = [_member(r) for r in runs]
    _, first_cfg, first_vocab = members[0]
    for run, (_, cfg, vocab) in zip(runs[1:], members[1:]):
        if vocab != first_vocab:
            raise RunDirError(f"{run}: its vocabulary differs from {runs[0]}'s; ensemble runs trained on the same "
                              "data with the same --min-count")
        for key, a, b in (("max_len", cfg["max_len"], first_cfg["max_len"]),
                          ("layers", cfg["model"]["layers"], first_cfg["model"]["layers"])):
            if a != b:
                raise RunDirError(f"{run}: {key} {a} differs from {runs[0]}'s {b}; ensemble members must agree on it")
    out_dir = Path(out_dir)
    with claim_run_dir(out_dir, resume=False, resumable=False):
        eager = Ensemble([m for m, _, _ in members])
        served = Ensemble([ServingGRU(m) for m, _, _ in members])
        save_scripted(served, out_dir / MODEL_FILE, check_inputs(first_cfg["model"]["vocab_size"], first_cfg["max_len"]),
                      reference=eager)
        shutil.copyfile(runs[0] / VOCAB_FILE, out_dir / VOCAB_FILE)
        # config.json carries what serving and evaluation read (vocabulary size, input window); the
        # members' own configurations are in ensemble.json.
        write_text_atomic(out_dir / CONFIG_FILE, json.dumps(first_cfg, indent=2) + "\n")
        records = [recorded(r) for r in runs]
        if None not in records and all(same_records(records[0], r) for r in records[1:]):
            shutil.copyfile(runs[0] / DATA_FILE, out_dir / DATA_FILE)  # members that learned from one data set
        write_text_atomic(out_dir / ENSEMBLE_FILE, json.dumps(
            {"members": [{"run": str(r), "from_ensemble": os.path.relpath(r.resolve(), out_dir.resolve()), "config": cfg}
                         for r, (_, cfg, _) in zip(runs, members)]}, indent=2) + "\n")
    return out_dir / MODEL_FILE
