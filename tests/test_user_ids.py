"""Logs whose user ids are text: `prepare --text-user-ids` numbers them, and the commands that name
users (`recommend --user/--all`, `request --user`, `evaluate --per-user`) speak the log's ids."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from trainer.errors import DataError
from trainer.splits import load_data_dir, history_for
from trainer.user_ids import USERS_FILE, read_users, user_number

# Odd ids on purpose: leading zeros that a numeric read would drop, a UUID, a tab, a quote, non-ASCII.
NAMES = ["007", "anna", "b\tc", 'say "hi"', "Zoë", "3f2b6c1e-8a4d-4c1b-9e3a-2d5f7a9b0c11"]


def text_log(path, names=NAMES, events=12, seed=0):
    rng = np.random.default_rng(seed)
    rows = [(name, int(rng.integers(1, 40)), t) for name in names for t in range(events)]
    pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).to_csv(path, index=False)
    return path


def test_text_ids_are_numbered_in_sorted_order_and_the_table_reads_back(tmp_path):
    log = text_log(tmp_path / "log.csv")
    res = run_cli("prepare", "--input", str(log), "--out", str(tmp_path / "d"), "--split", "leave-one-out",
                  "--text-user-ids")
    assert res.returncode == 0, res.stderr
    numbers = {name: i for i, name in enumerate(sorted(NAMES), start=1)}
    splits = load_data_dir(tmp_path / "d")
    assert splits["train"].users == sorted(numbers.values())
    assert read_users(tmp_path / "d") == {n: name for name, n in numbers.items()}
    table = pd.read_csv(tmp_path / "d" / USERS_FILE, sep="\t", dtype={"user_id": str})
    assert list(table.columns) == ["user", "user_id"] and dict(zip(table["user_id"], table["user"])) == numbers
    meta = json.loads((tmp_path / "d" / "meta.json").read_text())
    assert meta["user_ids"] == f"text, numbered 1..N in sorted order: {USERS_FILE}" and meta["users"] == len(numbers)


def test_the_table_holds_the_users_the_filters_keep(tmp_path):
    log = tmp_path / "log.csv"
    rows = [(name, 1 + (t % 9), t) for name in ("kept", "also kept") for t in range(10)] + [("gone", 1, 0)]
    pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).to_csv(log, index=False)
    res = run_cli("prepare", "--input", str(log), "--out", str(tmp_path / "d"), "--split", "leave-one-out",
                  "--text-user-ids", "--min-user-count", "2")
    assert res.returncode == 0, res.stderr
    assert read_users(tmp_path / "d") == {1: "also kept", 3: "kept"}
    assert load_data_dir(tmp_path / "d")["train"].users == [1, 3]


def test_text_ids_without_the_flag_name_it(tmp_path):
    res = run_cli("prepare", "--input", str(text_log(tmp_path / "log.csv")), "--out", str(tmp_path / "d"))
    assert res.returncode == 2 and "found '007'" not in res.stderr  # "007" is read as a number; "anna" is not
    assert "column 'user_id' must hold integer ids" in res.stderr and "pass --text-user-ids" in res.stderr
    assert not (tmp_path / "d").exists()
    log = tmp_path / "movies.csv"
    pd.DataFrame([(1, "tt0114709", 1), (1, "tt0113497", 2)], columns=["user_id", "item_id", "timestamp"]).to_csv(
        log, index=False)
    res = run_cli("prepare", "--input", str(log), "--out", str(tmp_path / "d"), "--text-user-ids")
    assert res.returncode == 2 and "pass --text-movie-ids" in res.stderr and "'tt0114709'" in res.stderr
    assert not (tmp_path / "d").exists()
    res = run_cli("prepare", "--synthetic", "--out", str(tmp_path / "d"), "--text-user-ids")
    assert res.returncode == 2 and "--text-user-ids goes with --input" in res.stderr


def test_replacing_text_user_data_with_int_user_data_drops_the_old_table(tmp_path):
    assert run_cli("prepare", "--input", str(text_log(tmp_path / "log.csv")), "--out", str(tmp_path / "d"),
                   "--split", "leave-one-out", "--text-user-ids").returncode == 0
    res = run_cli("prepare", "--synthetic", "--users", "50", "--out", str(tmp_path / "d"), "--force")
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "d" / USERS_FILE).exists() and read_users(tmp_path / "d") is None


def test_a_log_column_called_user_keeps_the_tables_two_names_apart(tmp_path):
    from trainer.user_ids import users_table

    assert users_table({"anna": 1}, "user").decode().splitlines() == ["user\tuser_id", "1\tanna"]
    assert users_table({"anna": 1}, "customer").decode().splitlines() == ["user\tcustomer", "1\tanna"]


def test_user_number_names_what_it_cannot_find(tmp_path):
    (tmp_path / USERS_FILE).write_text("user\tuser_id\n1\tanna\n")
    assert user_number(tmp_path, "anna") == 1
    with pytest.raises(DataError, match=r"--user 'bob': not a user of .*users.tsv .*e.g. 'anna'"):
        user_number(tmp_path, "bob")
    with pytest.raises(DataError, match="--user '1': not a user"):  # the number is the table's, not the log's
        user_number(tmp_path, "1")
    with pytest.raises(DataError, match="--user 'anna': .* numbers its users with ints"):
        user_number(tmp_path / "elsewhere", "anna")
    assert user_number(tmp_path / "elsewhere", "12") == 12
    (tmp_path / USERS_FILE).write_text("id\tname\n1\tanna\n")
    with pytest.raises(DataError, match="expected the header"):
        read_users(tmp_path)


def test_commands_that_name_users_take_and_give_the_logs_ids(tmp_path):
    names = [f"user-{i:03d}" for i in range(60)] + NAMES
    log = text_log(tmp_path / "log.csv", names, events=15)
    data, run = tmp_path / "d", tmp_path / "run"
    assert run_cli("prepare", "--input", str(log), "--out", str(data), "--split", "leave-one-out",
                   "--text-user-ids").returncode == 0
    res = run_cli("train", "--data", str(data), "--out", str(run), "--epochs", "1")
    assert res.returncode == 0, res.stderr
    numbers = {name: n for n, name in read_users(data).items()}
    history = history_for(load_data_dir(data), "test")[numbers["b\tc"]]
    by_name = run_cli("recommend", "--run", str(run), "--data", str(data), "--user", "b\tc", "--k", "5")
    by_movies = run_cli("recommend", "--run", str(run), "--movies", *map(str, history), "--k", "5")
    assert by_name.returncode == 0, by_name.stderr
    assert json.loads(by_name.stdout) == json.loads(by_movies.stdout)
    res = run_cli("recommend", "--run", str(run), "--data", str(data), "--all", "--k", "2")
    assert res.returncode == 0, res.stderr
    assert [json.loads(line)["user"] for line in res.stdout.splitlines()] == sorted(names)
    res = run_cli("evaluate", "--run", str(run), "--data", str(data), "--per-user", str(tmp_path / "per_user.json"))
    assert res.returncode == 0, res.stderr
    assert set(json.loads((tmp_path / "per_user.json").read_text())["users"]) <= set(names)
