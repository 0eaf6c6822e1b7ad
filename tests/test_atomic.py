"""Whole-or-nothing writes (trainer/atomic.py) when the disk fills up part-way."""

from __future__ import annotations

import errno
import os

import pytest

from trainer.atomic import open_text_atomic, write_atomic


def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as the system raises it: without a file name


@pytest.mark.parametrize("writer", ["bytes", "text"])
def test_a_full_disk_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch, writer):
    # The CLI said only "error: [Errno 28] No space left on device", whatever it was writing.
    path = tmp_path / "best.pt"
    path.write_bytes(b"old")
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError) as caught:
        if writer == "bytes":
            write_atomic(path, b"new")
        else:
            with open_text_atomic(path) as fh:
                fh.write("new\n")
    assert caught.value.filename == str(path) and caught.value.errno == errno.ENOSPC
    assert "No space left on device" in caught.value.strerror
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["best.pt"]


def test_other_errors_pass_through_unchanged(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", "/somewhere/else")

    monkeypatch.setattr(os, "fsync", denied)
    with pytest.raises(PermissionError) as caught:
        write_atomic(tmp_path / "x", b"new")
    assert caught.value.filename == "/somewhere/else" and os.listdir(tmp_path) == []


def test_the_cli_reports_a_full_disk_by_file(tiny_data, tmp_path):
    # A real full disk needs a mount (root); here the command's fsync fails as a full disk's does.
    import subprocess
    import sys

    from conftest import REPO

    code = ("import errno, os, sys\n"
            "os.fsync = lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))\n"
            "from trainer.__main__ import main\n"
            f"sys.exit(main(['train', '--data', {str(tiny_data)!r}, '--out', {str(tmp_path / 'run')!r}, '--epochs', '1']))\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path / 'run'}/"), res.stderr
    assert "cannot write it (No space left on device)" in res.stderr
