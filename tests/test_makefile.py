"""The Makefile's user-facing targets with the paths users pass them, run for real through `make`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
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


def test_train_starts_from_the_run_init_from_names(tmp_path: Path):
    data, first, second = tmp_path / "data", tmp_path / "week 1", tmp_path / "week 2"
    assert main(["prepare", "--synthetic", "--users", "200", "--movies", "100", "--out", str(data)]) == 0
    assert main(["train", "--data", str(data), "--out", str(first), "--epochs", "1"]) == 0
    res = make("train", f"DATA={data}", f"RUN={second}", "EPOCHS=1", f"INIT_FROM={first}")
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"initialised from {first} (init_keep 0.5): 100 of this vocabulary's 100 movies carried over" in res.stdout
    assert json.loads((second / "config.json").read_text())["init_from"] == str(first)


def test_data_target_prepares_a_directory_with_spaces_once(tmp_path: Path):
    data = tmp_path / "new data"
    res = make("data", f"DATA={data}")
    assert res.returncode == 0, res.stdout + res.stderr
    assert sorted(p.name for p in data.iterdir()) == ["meta.json", "test.pkl", "train.pkl", "validate.pkl"]
    stamp = (data / "train.pkl").stat().st_mtime_ns
    res = make("data", f"DATA={data}")  # already there: nothing rewritten
    assert res.returncode == 0 and (data / "train.pkl").stat().st_mtime_ns == stamp, res.stdout + res.stderr



def test_archive_packs_the_users_model_configs(tmp_path: Path):
    # `make archive` is how README's job builds archives, so a user's own knobs must reach it there too,
    # for each archive separately; make runs in tmp_path so the repo's model_store is left alone.
    data, run = tmp_path / "data", tmp_path / "run"
    assert main(["prepare", "--synthetic", "--users", "200", "--movies", "100", "--out", str(data)]) == 0
    assert main(["train", "--data", str(data), "--out", str(run), "--epochs", "1"]) == 0
    mine = tmp_path / "my config.yaml"
    mine.write_text((REPO / "handler" / "model-config.yaml").read_text().replace("batchSize: 16", "batchSize: 4"))
    mine_sessions = tmp_path / "my-sessions.yaml"
    mine_sessions.write_text((REPO / "handler" / "model-config-sessions.yaml").read_text()
                             .replace("batchSize: 16", "batchSize: 8"))

    def packed(name: str) -> str:
        with zipfile.ZipFile(tmp_path / "model_store" / name) as mar:
            # the archiver keeps the file's own name; TorchServe finds it through the manifest
            return mar.read(json.loads(mar.read("MAR-INF/MANIFEST.json"))["model"]["configFile"]).decode()

    res = subprocess.run(["make", "--no-print-directory", "-f", str(REPO / "Makefile"), "-o", ".venv/.sessrec-setup",
                          f"PY={sys.executable}", "archive", f"RUN={run}", f"MODEL_CONFIG={mine}",
                          f"SESSIONS_MODEL_CONFIG={mine_sessions}"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "batchSize: 4" in packed("sessrec.mar") and "batchSize: 8" in packed("sessrec_sessions.mar")
    res = subprocess.run(["make", "--no-print-directory", "-f", str(REPO / "Makefile"), "-o", ".venv/.sessrec-setup",
                          f"PY={sys.executable}", "archive", f"RUN={run}"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "batchSize: 16" in packed("sessrec.mar") and "batchSize: 16" in packed("sessrec_sessions.mar")
