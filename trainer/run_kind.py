"""What a run directory is (a GRU run, a baseline, an ensemble, or no run), asked in one place.

`train --resume`, `export`, `ensemble`, `--distill` and `--init-from` each need one kind of run; a
wrong one is refused with the same sentence wherever it is given, naming what it is and what to
give instead.
"""

from __future__ import annotations

from pathlib import Path

from .config import TrainConfig
from .vocab import VOCAB_FILE

CONFIG_FILE = "config.json"
BEST_FILE = "best.pt"
ENSEMBLE_FILE = "ensemble.json"  # marks an `ensemble` run directory (its members are listed inside)
ENSEMBLE = "ensemble"


def run_kind(run: Path) -> str | None:
    """`"ensemble"`, the kind `config.json` names (`"gru"`, or a baseline's name such as `"pop"`), or
    None where no run is (no directory, or no config.json).

    Raises:
        RunDirError: config.json is there but unreadable.
    """
    run = Path(run)
    if (run / ENSEMBLE_FILE).exists():
        return ENSEMBLE
    if not (run / CONFIG_FILE).exists():
        return None
    return TrainConfig.load(run / CONFIG_FILE).kind


def not_a_gru_run(run: Path) -> str | None:
    """Why `run` is not a GRU run (trained or training), or None when it is. The sentence names `run`.

    Raises:
        RunDirError: its config.json is unreadable.
    """
    run = Path(run)
    if not run.is_dir():
        return f"{run}: no such run directory"
    kind = run_kind(run)
    if kind == ENSEMBLE:
        return f"{run} is an ensemble ({ENSEMBLE_FILE}): its member runs hold the trained weights"
    if kind is None:
        return f"{run} holds no {CONFIG_FILE}: not a run directory"
    if kind != "gru":
        return f"{run} is a {kind!r} baseline run: it has no trained weights (GRU runs have)"
    return None


def not_a_trained_gru_run(run: Path) -> str | None:
    """Why `run` is not a GRU run with a finished epoch (`best.pt` and `vocab.json`), or None when it is.

    Raises:
        RunDirError: its config.json is unreadable.
    """
    problem = not_a_gru_run(run)
    if problem is not None:
        return problem
    missing = [name for name in (BEST_FILE, VOCAB_FILE) if not (Path(run) / name).exists()]
    return f"{run} has no {' or '.join(missing)}: it has not finished an epoch" if missing else None
