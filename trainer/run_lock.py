"""One writer per run directory.

A second `train --resume` on a run whose first process is still going (the terminal closed, the
job looked dead) would interleave two runs' checkpoints, history and export in one directory.
So every command that writes a run directory holds an advisory lock on the directory itself
(flock on its descriptor) while it writes: nothing is added to the directory, and the kernel
drops the lock when the process ends, however it ends, so a killed run leaves no stale lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import sys
from pathlib import Path
from typing import Iterator

from .errors import RunDirError
from .run_kind import CONFIG_FILE, not_a_gru_run

_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
#: The error when another process holds a run directory; {pid} becomes " (pid N)" where Linux tells N.
BUSY_RUN = ("another process{pid} is writing this run directory (a training still running?); wait for it to end, "
            "or stop it and then --resume")


def prepare_run_dir(out_dir: Path, resume: bool, resumable: bool = True) -> None:
    """Refuse to overwrite a run: a new run needs an absent or empty directory (`resumable`: whether
    the command has a --resume to suggest; baselines and ensembles are rebuilt, not resumed)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirError(f"{out_dir}: exists and is not a directory; choose another --out")
    if resume:
        if not (out_dir / CONFIG_FILE).exists():
            raise RunDirError(f"{out_dir}: nothing to resume (no {CONFIG_FILE}); start without --resume")
        # Resuming trains into the directory: a baseline's or an ensemble's model.pt would be replaced.
        problem = not_a_gru_run(out_dir)
        if problem is not None:
            raise RunDirError(f"{problem}; only GRU runs train or resume")
        return
    if out_dir.exists() and any(out_dir.iterdir()):
        if (out_dir / "train.pkl").exists():  # --out given the --data directory, say
            raise RunDirError(f"{out_dir} holds split files (train.pkl): a data directory, not a run's; "
                              "choose another --out")
        raise RunDirError(f"{out_dir}: run directory exists and is not empty; "
                          + ("use --resume to continue it or choose another --out" if resumable else
                             "choose another --out, or delete it to build this one again"))
    out_dir.mkdir(parents=True, exist_ok=True)


def lock_holder(fd: int, locks: Path = Path("/proc/locks")) -> int | None:
    """The pid holding a flock on the file open as `fd`, from Linux's /proc/locks; None where it
    cannot be told (another OS, a file system that reports other device numbers)."""
    st = os.fstat(fd)
    want = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    try:
        lines = locks.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 12345 fe:00:2146676 0 EOF"; a waiter's line has "->" after the number
        if len(fields) < 6 or fields[1] != "FLOCK":
            continue
        try:
            major, minor, inode = fields[5].split(":")
            if (int(major, 16), int(minor, 16), int(inode)) == want:
                return int(fields[4])
        except ValueError:
            continue
    return None


@contextlib.contextmanager
def run_lock(run_dir: Path, busy: str = BUSY_RUN) -> Iterator[None]:
    """Hold `run_dir` for this process for the block.

    Args:
        run_dir: the directory to hold.
        busy: what the error says when another process holds it, with `{pid}` where its pid goes.
    Raises:
        RunDirError: `run_dir` is not a directory, or another process holds it.
    """
    run_dir = Path(run_dir)
    try:
        fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        raise RunDirError(f"{run_dir}: no such run directory") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = lock_holder(fd)
            raise RunDirError(f"{run_dir}: " + busy.format(pid=f" (pid {pid})" if pid else "")) from None
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED:
                raise
            # some network file systems refuse flock: go on unguarded, as before this lock existed
            print(f"warning: {run_dir}: cannot lock ({exc.strerror}); make sure no other process writes this run",
                  file=sys.stderr)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def claim_run_dir(out_dir: Path, resume: bool, resumable: bool = True) -> Iterator[None]:
    """Lock the run directory and check it (under the lock, so two starts cannot both pass):
    a new run needs an absent or empty directory; a resumed one its config.json (`resumable`: False
    for commands without --resume, whose refusal must not suggest it).

    A new run that fails (or is interrupted) before it has a checkpoint leaves the directory as it
    found it: absent, or empty. Its first files (config, vocabulary, data record) would otherwise
    make the next try into the same --out fail as "not empty; use --resume", with nothing to resume.
    A run with a checkpoint keeps everything, for --resume.

    Raises:
        RunDirError: naming what is wrong with `out_dir`.
    """
    from .checkpoint import CKPT_FILE

    out_dir = Path(out_dir)
    created = not out_dir.exists()
    prepare_run_dir(out_dir, resume, resumable)  # refuse a foreign directory before creating or locking anything
    with run_lock(out_dir):
        prepare_run_dir(out_dir, resume, resumable)  # empty, so all it will hold is this run's
        try:
            yield
        except BaseException:
            if not resume and not (out_dir / CKPT_FILE).exists():
                _empty(out_dir, remove=created)
            raise


def _empty(run_dir: Path, remove: bool) -> None:
    """Delete what a failed new run wrote into `run_dir` (and `run_dir` itself when `remove`)."""
    for entry in run_dir.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    if remove:
        with contextlib.suppress(OSError):
            run_dir.rmdir()
