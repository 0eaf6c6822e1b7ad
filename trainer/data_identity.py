"""Which data a run learned from, so that scoring it on other data says so instead of printing
metrics that only look like an evaluation.

A run records what it learned from (train.pkl fits the model and the vocabulary, validate.pkl picks
its epoch) in `data.json`: a digest of the files' bytes, and one of their content (users and movies,
however they were pickled). Evaluation on another data directory with the same splits (a copy,
another path to it, the same splits pickled again another way) agrees; other splits (another data
set, a re-prepared split) get a warning, and `train --resume` refuses them. The bytes are compared
first: equal files need no loading.
"""

from __future__ import annotations

import hashlib
import json
import sys
from array import array
from pathlib import Path
from typing import Any

from .atomic import write_text_atomic
from .splits import Split, load_data_dir

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


def content_digest(splits: dict[str, Split]) -> str:
    """SHA-256 over what the learned-from splits hold: each one's users, history lengths and movies
    as 64-bit ints (the id range splits admit), so the pickling does not matter."""
    digest = hashlib.sha256()
    for name in LEARNED_FROM:
        split = splits[name.removesuffix(".pkl")]
        digest.update(name.encode() + b"\0")
        digest.update(array("q", [len(split.users)]).tobytes() + array("q", split.users).tobytes())
        digest.update(array("q", [len(m) for m in split.movies]).tobytes())
        for movies in split.movies:
            digest.update(array("q", movies).tobytes())
    return digest.hexdigest()


def _content_of(data_dir: Path, splits: dict[str, Split] | None) -> str:
    """`content_digest` of `data_dir`'s splits, loading them unless the caller already has."""
    return content_digest(splits if splits is not None else load_data_dir(Path(data_dir)))


def data_record(data_dir: Path, splits: dict[str, Split] | None = None) -> dict[str, Any]:
    """What `data.json` records of `data_dir` (`splits`: its splits, when already loaded). The path is
    kept as given and resolved: a relative one alone names nothing from another working directory."""
    return {"data": str(data_dir), "data_resolved": str(Path(data_dir).resolve()), "files": list(LEARNED_FROM),
            "sha256": data_digest(data_dir), "content_sha256": _content_of(data_dir, splits)}


def recorded_dirs(record: dict[str, Any]) -> list[Path]:
    """Where the data `record` names may be, most specific first: the resolved path, then the path as
    given (relative to the current directory; records from before the resolved path have only this)."""
    paths = [record.get(key) for key in ("data_resolved", "data")]
    return list(dict.fromkeys(Path(p) for p in paths if isinstance(p, str) and p))


def record_data(run_dir: Path, data_dir: Path, record: dict[str, Any] | None = None) -> None:
    """Write `run_dir/data.json`: `record`, or `data_record(data_dir)`."""
    body = record if record is not None else data_record(data_dir)
    write_text_atomic(Path(run_dir) / DATA_FILE, json.dumps(body, indent=2) + "\n")


def recorded(run_dir: Path) -> dict[str, Any] | None:
    """The record a run wrote; None for runs from before data.json, or unreadable records. Records
    from before `content_sha256` have only the files' digest."""
    try:
        record = json.loads((Path(run_dir) / DATA_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("sha256"), str) else None


def same_records(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two records name the same splits: the same bytes, or the same content."""
    return a["sha256"] == b["sha256"] or (a.get("content_sha256") is not None
                                          and a.get("content_sha256") == b.get("content_sha256"))


def holds(record: dict[str, Any], data_dir: Path, splits: dict[str, Split] | None = None) -> bool:
    """Whether `data_dir` holds the splits `record` names. Loads them only when the bytes differ
    and the record has a content digest (`splits`: already loaded)."""
    if record["sha256"] == data_digest(data_dir):
        return True
    if record.get("content_sha256") is None:
        return False
    return record["content_sha256"] == _content_of(data_dir, splits)


def learned_from(run_dir: Path, data_dir: Path, splits: dict[str, Split] | None = None) -> bool | None:
    """Whether `run_dir` learned from the splits `data_dir` holds (wherever they are now); None
    when the run recorded nothing (runs trained before data.json existed). `splits`: `data_dir`'s
    splits, when the caller has loaded them already."""
    record = recorded(run_dir)
    return None if record is None else holds(record, data_dir, splits)


def other_data(run_dir: Path, data_dir: Path, splits: dict[str, Split] | None = None) -> str | None:
    """A sentence saying that `run_dir` learned from other splits than `data_dir` holds; None when
    they are the same or the run recorded nothing."""
    if learned_from(run_dir, data_dir, splits) is not False:
        return None
    return (f"{run_dir} learned from other data than {data_dir} holds (its {' and '.join(LEARNED_FROM)} differ "
            f"from those recorded in {Path(run_dir) / DATA_FILE})")


def warn_if_other_data(run_dir: Path, data_dir: Path, splits: dict[str, Split] | None = None) -> None:
    """Print a warning line to stderr when `run_dir` learned from other data than `data_dir`: scores
    of a model on users and movies it never learned from are not an evaluation of that model."""
    problem = other_data(run_dir, data_dir, splits)
    if problem:
        print(f"warning: {problem}; scores here do not measure the run on the data it was trained for",
              file=sys.stderr)
