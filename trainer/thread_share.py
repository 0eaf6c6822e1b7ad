"""Training runs side by side share the cores, and the share follows them as runs end.

A process's OMP_NUM_THREADS is fixed when it starts, so a run started beside another would stay on
its half of the cores after the other ended (ML-1M: 253 s per epoch on 1 thread against 152 s on 2).
side_by_side.py therefore writes each run's share into a file named by SESSREC_THREADS_FILE, and the
training loop reads it every 50 batches. Measured here: a process started with 1 thread that sets 2
runs a GRU step at the 2-thread speed (1.58 s against 2.73 s for the same work), and ML-1M's last teacher
took 152 s per epoch instead of 253 s.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .atomic import write_text_atomic

ENV = "SESSREC_THREADS_FILE"


def write_share(path: Path, threads: int) -> None:
    """Tell the run reading `path` to use `threads` torch threads (it looks every 50 batches)."""
    write_text_atomic(path, f"{threads}\n")


def follow_share() -> int | None:
    """Set torch's thread count to this run's share, when it runs side by side; returns the share.

    Without the variable (a run of its own), or with a file that cannot be read as a count, the
    thread count stays as it is: sharing is an optimisation and never stops a run.
    """
    path = os.environ.get(ENV)
    if not path:
        return None
    try:
        threads = int(Path(path).read_text())
    except (OSError, ValueError):
        return None
    if threads >= 1 and threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    return threads
