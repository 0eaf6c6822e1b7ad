"""Shared fixtures: small data generated in the test session, and one tiny trained run."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import torch

from trainer.config import ModelConfig, TrainConfig
from trainer.prepare import prepare_log
from trainer.synthetic import synthetic_log

REPO = Path(__file__).resolve().parents[1]
#: the recorded ML-1M CPU runs behind BENCHMARKS.md's CPU-steps table
CPU_STEPS = REPO / "docs" / "ablations" / "ml-1m-cpu-steps.json"


def cpu_v6_rows() -> list[dict]:
    """The CPU-steps rows of preset v6: v5 runs continued with patience 10 (the same configuration) and runs
    started as v6, found by their directories' names."""
    rows = json.loads(CPU_STEPS.read_text())["rows"]
    return [r for r in rows if re.fullmatch(r"ml-1m-gru-(v5-amp-pat10|v6-amp)-seed\d+", r["run"])]


#: torch's thread count when the test session started (the machine's default).
SESSION_THREADS = torch.get_num_threads()


@pytest.fixture(autouse=True)
def torch_threads_restored() -> Iterator[None]:
    """Every test ends with torch at the session's thread count.

    The handler sets torch's process-wide thread count from model-config.yaml (1), as a TorchServe
    worker should; in the one pytest process that leaked into every later test, and into the
    session's tiny run when a later test was the first to ask for it. Where MKL splits a product by
    thread count (an Intel Xeon with AVX-512 here), a run trained at 1 thread differs in the last bits
    from the same run at 2, so the same-seed test failed. Restoring after each test, not before,
    keeps what a module's handler fixture set for its own tests; session fixtures, set up before
    any module's, then always train at the session's count.
    """
    yield
    torch.set_num_threads(SESSION_THREADS)


def tiny_config(data: Path, **overrides) -> TrainConfig:
    cfg = TrainConfig(data=str(data), epochs=3, batch_size=64, min_count=2, max_len=40, patience=5, seed=3,
                      model=ModelConfig(emb_dim=16, hidden_dim=16))
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


def run_cli(*args: str, cwd: Path = REPO, timeout: float = 300, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run `python -m trainer ...` as a user would, capturing output (`stdin`: text piped in)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "trainer", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, input=stdin)


@contextlib.contextmanager
def cli_error(capsys: pytest.CaptureFixture, pattern: str) -> Iterator[None]:
    """The block ends a command the way every sessrec command reports a problem it names: one
    `error: ...` line on stderr matching `pattern`, and exit status 2."""
    with pytest.raises(SystemExit) as exc:
        yield
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("error: ") and re.search(pattern, err), (exc.value.code, err)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "tiny"
    prepare_log(synthetic_log(n_users=300, n_movies=150, n_clusters=5, n_series=15, seed=11), out, "temporal",
                source="synthetic")
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_data) -> Path:
    from trainer.train import train

    run = tmp_path_factory.mktemp("runs") / "tiny"
    train(tiny_config(tiny_data), run, progress=False)
    return run


#: Text ids for the text-catalog fixtures: a title with quotes and an accent, and ids that only look
#: like numbers ("007" is not 7, and "42" is no int); every other movie m is "tt" and seven digits.
ODD_NAMES = {1: 'Amélie "2001"', 2: "007", 3: "42"}


def text_name(movie: int) -> str:
    return ODD_NAMES.get(movie, f"tt{movie:07d}")


@pytest.fixture(scope="session")
def text_data(tmp_path_factory) -> Path:
    """tiny_data's log with text movie ids, prepared as a user's log is: `--text-movie-ids`."""
    import pandas as pd

    from trainer.prepare import read_log

    root = tmp_path_factory.mktemp("data")
    df = synthetic_log(n_users=300, n_movies=150, n_clusters=5, n_series=15, seed=11)
    pd.DataFrame({"user_id": df["user"], "item_id": df["item"].map(text_name), "timestamp": df["time"]}).to_csv(
        root / "log.tsv", sep="\t", index=False)
    out = root / "text"
    prepare_log(read_log(root / "log.tsv", "user_id", "item_id", "timestamp", text_movie_ids=True), out, "temporal",
                source="log.tsv")
    return out


@pytest.fixture(scope="session")
def text_run(tmp_path_factory, text_data) -> Path:
    from trainer.train import train

    run = tmp_path_factory.mktemp("runs") / "text"
    train(tiny_config(text_data), run, progress=False)
    return run
