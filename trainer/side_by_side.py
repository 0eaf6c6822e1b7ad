"""Train several runs at once, each a `python -m trainer train` process with its share of the cores.

One small-batch GRU run uses neither many cores nor a GPU fully. On 2 cores, two ML-1M runs side by side
(1 thread each) took 257-258 s per epoch against 152-159 s for one run alone on both: 1.2x the work per
hour. A process keeps the thread count it started with, so a run that starts beside another and then
finds itself alone stays slow (ML-1M: 253 s per epoch on 1 thread). With three teachers and `--jobs 2`
on 2 cores that cancelled the gain: `recipe ml-1m-distilled --epochs 1` took 14 min 53 s against
15 min 8 s one run after the other. It pays when the runs divide evenly among the jobs. A run killed
midway resumes from its last finished epoch, as any run does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from .errors import SessrecError
from .seed_sweep import train_args


def log_path(run: Path) -> Path:
    """Where a side-by-side run's output goes: beside the run directory, which training owns."""
    return run.with_name(run.name + ".log")


def _tail(path: Path, lines: int = 5) -> str:
    text = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return "\n".join(text[-lines:])


def train_side_by_side(data: Path, plans: list[tuple[Path, list[str]]], jobs: int) -> None:
    """Train (or resume) each `(run, train flags)` of `plans`, `jobs` at a time; finished runs are skipped.

    Raises:
        SessrecError: when any run failed, after the others have ended; names each failed run and its log.
    """
    if jobs < 1:
        raise SessrecError(f"--jobs must be >= 1, got {jobs}")
    queue = [(run, args) for run, flags in plans if (args := train_args(data, run, flags)) is not None]
    running: dict[Path, subprocess.Popen] = {}
    failed: list[Path] = []
    try:
        while queue or running:
            while queue and len(running) < jobs:
                run, args = queue.pop(0)
                # Its share of the cores among the runs that will be going with it: more threads than
                # cores make every run slower; a last run alone gets them all.
                threads = max(1, (os.cpu_count() or 1) // min(jobs, len(running) + 1 + len(queue)))
                env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
                with open(log_path(run), "a") as log:
                    running[run] = subprocess.Popen([sys.executable, "-m", "trainer", *args], stdout=log,
                                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
                print(f"started {run} (OMP_NUM_THREADS={threads}; log {log_path(run)})", flush=True)
            time.sleep(0.5)
            for run, proc in list(running.items()):
                if proc.poll() is not None:
                    del running[run]
                    print(f"{'finished' if proc.returncode == 0 else 'FAILED'} {run}", flush=True)
                    if proc.returncode != 0:
                        failed.append(run)
    finally:  # interrupted: stop the runs (each resumes from its last finished epoch next time)
        for proc in running.values():
            proc.terminate()
        for proc in running.values():
            proc.wait()
    if failed:
        raise SessrecError("; ".join(f"training {run} failed, see {log_path(run)}:\n{_tail(log_path(run))}"
                                     for run in failed))
