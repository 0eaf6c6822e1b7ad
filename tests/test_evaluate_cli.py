"""`evaluate` and `recommend --data` on splits with nothing in them say so, by name."""

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


def test_recommend_for_the_first_test_user_of_a_data_dir_without_test_users_says_so(tiny_run, tiny_data, tmp_path):
    # Before: an IndexError traceback (the first of no test users).
    data = shutil.copytree(tiny_data, tmp_path / "data")
    (data / "test.pkl").write_bytes(pickle.dumps(([], [])))
    res = run_cli("recommend", "--run", str(tiny_run), "--data", str(data))
    assert res.returncode == 2 and "test.pkl has no users, so there is no first test user to take; name one with --user" \
        in res.stderr, res.stderr
    user = pickle.loads((data / "train.pkl").read_bytes())[0][0]
    assert run_cli("recommend", "--run", str(tiny_run), "--data", str(data), "--user", str(user)).returncode == 0
