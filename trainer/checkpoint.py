"""Run-directory state: the resumable checkpoint, the best model, and the metrics history."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch

from .atomic import write_atomic, write_text_atomic

CKPT_FILE = "ckpt.pt"
HISTORY_FILE = "history.jsonl"


def save_torch(obj: Any, path: Path) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_atomic(path, buf.getvalue())


def load_checkpoint(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / CKPT_FILE
    if not path.exists():
        return None
    # weights_only=False: the checkpoint holds numpy RNG state; it is our own file from this run.
    return torch.load(path, map_location="cpu", weights_only=False)


def rewrite_history(run_dir: Path, history: list[dict[str, Any]]) -> None:
    """Make `history.jsonl` match the checkpoint exactly (a kill can land between the two writes)."""
    write_text_atomic(Path(run_dir) / HISTORY_FILE, "".join(json.dumps(row) + "\n" for row in history))


def append_history(run_dir: Path, row: dict[str, Any]) -> None:
    with open(Path(run_dir) / HISTORY_FILE, "a") as fh:
        fh.write(json.dumps(row) + "\n")


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    """The per-epoch rows of `history.jsonl` (empty before the first epoch)."""
    path = Path(run_dir) / HISTORY_FILE
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def run_config(run_dir: Path) -> dict[str, Any]:
    """A run's config.json with every current setting (one saved before a setting existed gets its default),
    so that readers index it instead of repeating the defaults; RunDirError names a missing or invalid file."""
    from .config import TrainConfig

    return TrainConfig.load(Path(run_dir) / "config.json").to_dict()


def selection_metric(run_dir: Path) -> str:
    """The validation metric that chose the run's best epoch (its config's `select_metric`)."""
    return str(run_config(run_dir)["select_metric"])


def best_row(history: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """The history row of the best epoch by validation `metric`: the first of equal bests, as training keeps
    the first."""
    return max(history, key=lambda r: r["val"][metric])


def best_val(history: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """Validation metrics of the best epoch by `metric` (the epoch `history_timings` names)."""
    return best_row(history, metric)["val"]


def history_timings(history: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """Best epoch by validation `metric` (`selection_metric` of the run) and the run's timings, from its history."""
    best = best_row(history, metric)["epoch"]
    per_epoch = [r["train_seconds"] + r["eval_seconds"] for r in history]
    return {"best_epoch": best, "epochs_run": len(history),
            "seconds_per_epoch": round(sum(r["train_seconds"] for r in history) / len(history), 1),
            # the median resists epochs slowed by other work on the machine
            "median_seconds_per_epoch": round(sorted(r["train_seconds"] for r in history)[len(history) // 2], 1),
            "time_to_best_seconds": round(sum(per_epoch[:best]), 1), "total_seconds": round(sum(per_epoch), 1)}
