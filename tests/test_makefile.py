"""The Makefile's user-facing targets with the paths users pass them, run for real through `make`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from trainer.__main__ import main

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args: str) -> subprocess.CompletedProcess:
    # `-o` keeps make from (re)running setup: this interpreter already has everything installed.
    return subprocess.run(["make", "--no-print-directory", "-o", ".venv/.sessrec-setup", f"PY={sys.executable}", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def test_train_evaluate_recommend_take_paths_with_spaces(tmp_path: Path):
    # macOS users keep work under "Google Drive/..." and the like: DATA and RUN with spaces must reach
    # the CLI as one argument each, not as argparse's "unrecognized arguments".
    data, run = tmp_path / "my data", tmp_path / "my runs" / "first run"
    assert main(["prepare", "--synthetic", "--users", "200", "--movies", "100", "--out", str(data)]) == 0
    res = make("train", f"DATA={data}", f"RUN={run}", "EPOCHS=1")
    assert res.returncode == 0, res.stdout + res.stderr
    assert (run / "model.pt").is_file()
    res = make("evaluate", f"DATA={data}", f"RUN={run}")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "map@20" in json.loads(res.stdout.strip().splitlines()[-1])
    res = make("recommend", f"DATA={data}", f"RUN={run}")
    assert res.returncode == 0, res.stdout + res.stderr
    assert len(json.loads(res.stdout.strip().splitlines()[-1])["movies"]) == 10


def test_data_target_prepares_a_directory_with_spaces_once(tmp_path: Path):
    data = tmp_path / "new data"
    res = make("data", f"DATA={data}")
    assert res.returncode == 0, res.stdout + res.stderr
    assert sorted(p.name for p in data.iterdir()) == ["meta.json", "test.pkl", "train.pkl", "validate.pkl"]
    stamp = (data / "train.pkl").stat().st_mtime_ns
    res = make("data", f"DATA={data}")  # already there: nothing rewritten
    assert res.returncode == 0 and (data / "train.pkl").stat().st_mtime_ns == stamp, res.stdout + res.stderr

