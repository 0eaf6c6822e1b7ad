"""One writer per run directory: a second train/--resume/baseline/ensemble/export is refused while
another process writes the run, and the run is left exactly as it was."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, run_cli, tiny_config
from trainer.baseline_run import run_baseline
from trainer.ensemble import build_ensemble
from trainer.errors import RunDirError
from trainer.run_lock import claim_run_dir, run_lock
from trainer.train import train

# the holder is this test's process, whose pid the message names (Linux's /proc/locks)
BUSY = rf"another process \(pid {os.getpid()}\) is writing this run directory"


def snapshot(run) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir())}


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    return run


def test_resume_is_refused_while_the_run_is_held(run_copy, tiny_data):
    before = snapshot(run_copy)
    with run_lock(run_copy):
        with pytest.raises(RunDirError, match=f"{run_copy}: {BUSY}"):
            train(tiny_config(tiny_data, epochs=5), run_copy, resume=True, progress=False)
        # a second process: the CLI names the problem, exit status 2
        res = run_cli("train", "--resume", "--data", str(tiny_data), "--out", str(run_copy), "--epochs", "5")
        assert res.returncode == 2 and re.search(BUSY, res.stderr), res.stderr
        res = run_cli("export", "--run", str(run_copy))
        assert res.returncode == 2 and re.search(BUSY, res.stderr), res.stderr
    assert snapshot(run_copy) == before


def test_a_new_run_is_refused_while_its_directory_is_held(tiny_data, tiny_run, tmp_path):
    out = tmp_path / "new"
    out.mkdir()
    with run_lock(out):
        with pytest.raises(RunDirError, match=BUSY):
            train(tiny_config(tiny_data, epochs=1), out, progress=False)
        with pytest.raises(RunDirError, match=BUSY):
            run_baseline("pop", tiny_data, out, min_count=2)
        twin = shutil.copytree(tiny_run, tmp_path / "twin")  # an ensemble's runs must be two directories
        with pytest.raises(RunDirError, match=BUSY):
            build_ensemble([tiny_run, twin], out)
        assert list(out.iterdir()) == []
    # released at the end of the block: the same call now trains
    summary = train(tiny_config(tiny_data, epochs=1), out, progress=False)
    assert (out / "model.pt").exists() and summary["best_epoch"] == 1


def test_a_killed_holder_leaves_no_stale_lock(run_copy, tiny_data):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from trainer.run_lock import run_lock\n"
         "with run_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(600)", str(run_copy)],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunDirError, match=rf"another process \(pid {holder.pid}\) is writing"):
            with run_lock(run_copy):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    deadline = time.monotonic() + 10
    while True:  # the kernel drops the lock with the process; nothing to clean up
        try:
            with run_lock(run_copy):
                break
        except RunDirError:
            assert time.monotonic() < deadline, "the lock outlived its process"
            time.sleep(0.1)
    summary = train(tiny_config(tiny_data, epochs=4), run_copy, resume=True, progress=False)
    assert summary["epochs_run"] == 4


def test_the_directory_checks_still_name_the_problem(tiny_run, tmp_path):
    not_dir = tmp_path / "file"
    not_dir.write_text("x")
    with pytest.raises(RunDirError, match="exists and is not a directory"):
        with claim_run_dir(not_dir, resume=False):
            pass
    with pytest.raises(RunDirError, match="nothing to resume"):
        with claim_run_dir(tmp_path / "absent", resume=True):
            pass
    assert not (tmp_path / "absent").exists()
    with pytest.raises(RunDirError, match="exists and is not empty; use --resume to continue it"):
        with claim_run_dir(tiny_run, resume=False):
            pass
    # baseline and ensemble have no --resume: suggesting it sent the user to an argparse error
    with pytest.raises(RunDirError, match="is not empty; choose another --out, or delete it to build this one again"):
        with claim_run_dir(tiny_run, resume=False, resumable=False):
            pass
    with pytest.raises(RunDirError, match="nowhere: no such run directory"):
        with run_lock(tmp_path / "nowhere"):
            pass


def test_lock_holder_reads_proc_locks_and_ignores_what_it_cannot_parse(tmp_path):
    from trainer.run_lock import lock_holder

    d = tmp_path / "d"
    d.mkdir()
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        st = os.fstat(fd)
        dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}"
        fake = tmp_path / "locks"
        fake.write_text(f"1: POSIX  ADVISORY  WRITE 11 {dev}:{st.st_ino} 0 EOF\n"
                        f"2: FLOCK  ADVISORY  WRITE 22 {dev}:{st.st_ino + 1} 0 EOF\n"
                        "3: FLOCK  ADVISORY  WRITE xx zz 0 EOF\n"
                        f"4: -> FLOCK  ADVISORY  WRITE 44 {dev}:{st.st_ino} 0 EOF\n"
                        f"5: FLOCK  ADVISORY  WRITE 55 {dev}:{st.st_ino} 0 EOF\n")
        assert lock_holder(fd, fake) == 55  # not the POSIX lock, another inode, a bad line or a waiter
        fake.write_text(f"1: FLOCK  ADVISORY  WRITE 22 {dev}:{st.st_ino + 1} 0 EOF\n")
        assert lock_holder(fd, fake) is None
        assert lock_holder(fd, tmp_path / "no-such-file") is None
    finally:
        os.close(fd)
