"""`evaluate` on a split with nothing to predict says so instead of printing a result without metrics."""

from __future__ import annotations

import pickle
import shutil

import pytest

from conftest import run_cli


@pytest.mark.parametrize("test_split, message", [
    (([], []), "test.pkl: no user has movies to predict (it holds no users)"),
    (([3, 5], [[], []]), "test.pkl: no user has movies to predict (2 user(s), each with an empty list)"),
])
def test_a_split_with_nothing_to_predict_is_an_error(tiny_run, tiny_data, tmp_path, test_split, message):
    # Before: {"users": 0, "skipped_users": ..., "split": "test", ...} and exit status 0.
    data = shutil.copytree(tiny_data, tmp_path / "data")
    (data / "test.pkl").write_bytes(pickle.dumps(test_split))
    per_user = tmp_path / "per_user.json"
    res = run_cli("evaluate", "--run", str(tiny_run), "--data", str(data), "--per-user", str(per_user))
    assert res.returncode == 2 and f"error: {data / message}; there is nothing to evaluate" in res.stderr
    assert not per_user.exists()
