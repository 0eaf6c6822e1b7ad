"""Buckets for py-spy samples of a model worker: which part of serving a sampled stack was in.

Each sample goes to one bucket, decided by the innermost of its frames that a rule here knows, so
time in torch, json or the standard library counts for the project (or TorchServe) code that
called it. `bench_profile` records the samples under load and reports the buckets.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

from .archive import HANDLER_DIR, REPO

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")
# A handler line that calls the exported TorchScript model: its samples are the GRU's own time.
MODEL_CALL = re.compile(r"\bmodel\.(predict_next|encode|step|scores)\(")
SOURCE_DIRS = (HANDLER_DIR, REPO / "trainer")
BUCKETS = (
    "TorchScript model (GRU steps, output layer)",
    "mask seen + top-k (recommend.py)",
    "request parsing, id mapping, padding",
    "session store (session_store.py)",
    "session bookkeeping (session_flow.py)",
    "answers as JSON text (postprocess)",
    "handler, other lines",
    "TorchServe metrics and logging",
    "TorchServe worker (socket protocol, base handler)",
    "other",
)


@lru_cache(maxsize=None)
def source_line(file: str, line: int) -> str:
    """Text of `line` in the project file named `file` (by its base name, as py-spy shows the
    archive's copies), or '' for files outside the project."""
    for directory in SOURCE_DIRS:
        path = directory / Path(file).name
        if path.is_file():
            lines = path.read_text().splitlines()
            return lines[line - 1] if 0 < line <= len(lines) else ""
    return ""


def frame_bucket(frame: str, leaf: bool) -> str | None:
    """The bucket one frame decides, or None when it decides nothing (library code such as torch
    or json, whose time belongs to the project frame that called it)."""
    m = FRAME.match(frame)
    if not m:
        return None
    func, file, name = m["func"], m["file"], Path(m["file"]).name
    if leaf and MODEL_CALL.search(source_line(file, int(m["line"]))):
        return BUCKETS[0]
    if name == "recommend.py":
        return BUCKETS[1] if func in ("recommend", "mask_seen", "top_k") else BUCKETS[2]
    if name == "request_parser.py" or func.endswith(".preprocess"):
        return BUCKETS[2]
    if name in ("session_store.py", "session_cache.py"):
        return BUCKETS[3]
    if name == "session_flow.py":
        return BUCKETS[4]
    if name == "answer_text.py" or func.endswith(".postprocess"):
        return BUCKETS[5]
    if name in ("sessrec_handler.py", "noop_handler.py"):
        return BUCKETS[6]
    if "ts/metrics/" in file or file.startswith("logging/") or "/logging/" in file:
        return BUCKETS[7]
    if file.startswith("ts/") or "/ts/" in file:
        return BUCKETS[8]
    return None


def classify(stack: list[str]) -> str:
    """Bucket of one sampled stack (root first, as py-spy writes it): its innermost deciding frame.
    A model call is recognised only as the innermost frame, where the sample sat in TorchScript."""
    for depth, frame in enumerate(reversed(stack)):
        bucket = frame_bucket(frame, leaf=depth == 0)
        if bucket is not None:
            return bucket
    return BUCKETS[-1]


def parse_raw(text: str) -> Counter:
    """py-spy's `--format raw` (collapsed stacks, `frame;frame;... count` per line) -> samples per bucket."""
    out: Counter = Counter()
    for line in text.splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        out[classify(stack.split(";"))] += int(count)
    return out


def breakdown(samples: Counter, workers_us_per_req: float) -> dict[str, dict[str, float]]:
    """Each bucket's share of the samples and its estimated worker CPU per request."""
    total = sum(samples.values())
    if total == 0:
        raise RuntimeError("py-spy recorded no samples of the workers (is ptrace allowed here?)")
    return {b: {"share": samples[b] / total, "us_per_req": samples[b] / total * workers_us_per_req}
            for b in BUCKETS if samples[b]}
