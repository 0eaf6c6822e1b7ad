"""Train several runs at once, each a `python -m trainer train` process with its share of the cores.

One small-batch GRU run uses neither many cores nor a GPU fully. On 2 cores, two ML-1M runs side by side
(1 thread each) took 257-258 s per epoch against 152-159 s for one run alone on both: 1.2x the work per
hour. Each run's share is rewritten whenever a run starts or ends and followed within 50 batches
(thread_share.py), so a run left alone takes the cores the others freed: `recipe ml-1m-distilled
--epochs 1 --jobs 2` took 13 min 11 s against 15 min 8 s one run after the other (14 min 53 s when the
last teacher kept the 1 thread it started with: 253 s per epoch against 152 s). A run killed midway
resumes from its last finished epoch, as any run does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from .errors import SessrecError
from .seed_sweep import train_args
from .thread_share import ENV, write_share


def log_path(run: Path) -> Path:
    """Where a side-by-side run's output goes: beside the run directory, which training owns."""
    return run.with_name(run.name + ".log")


def share_path(run: Path) -> Path:
    """The file that tells a side-by-side run its share of the cores (thread_share.py)."""
    return run.with_name(run.name + ".threads")


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
    cores = os.cpu_count() or 1
    running: dict[Path, subprocess.Popen] = {}
    failed: list[Path] = []

    def rebalance() -> int:
        share = max(1, cores // max(len(running), 1))
        for run in running:
            write_share(share_path(run), share)
        return share

    try:
        while queue or running:
            while queue and len(running) < jobs:
                run, args = queue.pop(0)
                # Its share from the start; rebalance() then writes it for every run going.
                threads = max(1, cores // (len(running) + 1))
                env = {**os.environ, "OMP_NUM_THREADS": str(threads), ENV: str(share_path(run))}
                with open(log_path(run), "a") as log:
                    running[run] = subprocess.Popen([sys.executable, "-m", "trainer", *args], stdout=log,
                                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
                print(f"started {run} (threads each: {rebalance()}; log {log_path(run)})", flush=True)
            time.sleep(0.5)
            for run, proc in list(running.items()):
                if proc.poll() is not None:
                    del running[run]
                    share_path(run).unlink(missing_ok=True)
                    print(f"{'finished' if proc.returncode == 0 else 'FAILED'} {run}"
                          + (f" (threads each now: {rebalance()})" if running else ""), flush=True)
                    if proc.returncode != 0:
                        failed.append(run)
    finally:  # interrupted: stop the runs (each resumes from its last finished epoch next time)
        for proc in running.values():
            proc.terminate()
        for run, proc in running.items():
            proc.wait()
            share_path(run).unlink(missing_ok=True)
    if failed:
        raise SessrecError("; ".join(f"training {run} failed, see {log_path(run)}:\n{_tail(log_path(run))}"
                                     for run in failed))
