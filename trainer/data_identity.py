"""Which data a run learned from, so that scoring it on other data says so instead of printing
metrics that only look like an evaluation.

A run records a digest of the split files it learned from (train.pkl fits the model and the
vocabulary, validate.pkl picks its epoch) in `data.json`. Evaluation on another data directory with
the same files (a copy, another path to it) agrees; other files (another data set, a re-prepared
split) get a warning, and `train --resume` refuses them.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from .atomic import write_text_atomic

DATA_FILE = "data.json"
LEARNED_FROM = ("train.pkl", "validate.pkl")


def data_digest(data_dir: Path) -> str:
    """SHA-256 over the names and bytes of the split files a run learns from."""
    digest = hashlib.sha256()
    for name in LEARNED_FROM:
        digest.update(name.encode() + b"\0")
        with open(Path(data_dir) / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def record_data(run_dir: Path, data_dir: Path, digest: str | None = None) -> None:
    """Write `run_dir/data.json`: where the data was and the digest of what was read there."""
    body = {"data": str(data_dir), "files": list(LEARNED_FROM), "sha256": digest or data_digest(data_dir)}
    write_text_atomic(Path(run_dir) / DATA_FILE, json.dumps(body, indent=2) + "\n")


def recorded_digest(run_dir: Path) -> str | None:
    """The digest a run recorded; None for runs from before data.json, or unreadable records."""
    try:
        return str(json.loads((Path(run_dir) / DATA_FILE).read_text())["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def learned_from(run_dir: Path, data_dir: Path) -> bool | None:
    """Whether `run_dir` learned from the very files `data_dir` holds (wherever they are now); None
    when the run recorded nothing (runs trained before data.json existed)."""
    recorded = recorded_digest(run_dir)
    return None if recorded is None else recorded == data_digest(data_dir)


def other_data(run_dir: Path, data_dir: Path) -> str | None:
    """A sentence saying that `run_dir` learned from other files than `data_dir` holds; None when
    they are the same or the run recorded nothing."""
    if learned_from(run_dir, data_dir) is not False:
        return None
    return (f"{run_dir} learned from other data than {data_dir} holds (its {' and '.join(LEARNED_FROM)} differ "
            f"from those recorded in {Path(run_dir) / DATA_FILE})")


def warn_if_other_data(run_dir: Path, data_dir: Path) -> None:
    """Print a warning line to stderr when `run_dir` learned from other data than `data_dir`: scores
    of a model on users and movies it never learned from are not an evaluation of that model."""
    problem = other_data(run_dir, data_dir)
    if problem:
        print(f"warning: {problem}; scores here do not measure the run on the data it was trained for",
              file=sys.stderr)
