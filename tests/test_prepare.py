"""`prepare`: logs to split files, orders, filters, and refuses bad input without writing."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from conftest import run_cli
from trainer.splits import load_data_dir


def write_log(path, rows, cols=("user_id", "item_id", "timestamp")):
    pd.DataFrame(rows, columns=list(cols)).to_csv(path, sep="\t" if path.suffix == ".tsv" else ",", index=False)
    return path


def prepare_loo(tmp_path, rows, out="out", *flags):
    """`prepare` a TSV log of `rows` leave-one-out into tmp_path/out; (the result, the splits)."""
    log = write_log(tmp_path / "log.tsv", rows)
    res = run_cli("prepare", "--input", str(log), "--out", str(tmp_path / out), "--split", "leave-one-out", *flags)
    assert res.returncode == 0, res.stderr
    return res, load_data_dir(tmp_path / out)


def test_stable_order_and_leave_one_out(tmp_path):
    # User 1's events share timestamps: file order must break the tie (a then b then c ...).
    rows = [(1, 30, 5), (1, 10, 5), (2, 40, 1), (1, 20, 5), (1, 50, 9), (2, 41, 2), (2, 42, 3), (1, 60, 1)]
    _, splits = prepare_loo(tmp_path, rows)
    assert splits["train"].as_dict() == {1: [60, 30, 10], 2: [40]}
    assert splits["validate"].as_dict() == {1: [20], 2: [41]}
    assert splits["test"].as_dict() == {1: [50], 2: [42]}
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["split"] == "leave-one-out" and "stable" in meta["order"]


def test_temporal_split_uses_global_cut_points(tmp_path):
    rows = [(u, 100 * u + t, t) for u in (1, 2) for t in range(10)]  # times 0..9, 20 events
    log = write_log(tmp_path / "log.csv", rows)
    res = run_cli("prepare", "--input", str(log), "--out", str(tmp_path / "out"), "--split", "temporal",
                  "--val-frac", "0.2", "--test-frac", "0.2")
    assert res.returncode == 0, res.stderr
    splits = load_data_dir(tmp_path / "out")
    assert splits["train"].as_dict() == {u: [100 * u + t for t in range(6)] for u in (1, 2)}
    assert splits["validate"].as_dict() == {u: [100 * u + 6, 100 * u + 7] for u in (1, 2)}
    assert splits["test"].as_dict() == {u: [100 * u + 8, 100 * u + 9] for u in (1, 2)}


def test_iso_date_times_order_by_the_instant_they_name(tmp_path):
    # User 1's events in time order are 12 (10:00 UTC), 10 (12:00+01:00 = 11:00 UTC), 11 (11:30, no
    # offset: UTC) and 13 (the next day); compared as text the order would be 13 last but 10 before 12.
    rows = [(1, 10, "2024-03-01T12:00:00+01:00"), (1, 11, "2024-03-01 11:30:00"), (1, 12, "2024-03-01T10:00:00Z"),
            (1, 13, "2024-03-02"), (2, 20, "2024-02-01"), (2, 21, "2024-03-01"), (2, 22, "2024-03-05")]
    log = write_log(tmp_path / "log.csv", rows)
    res = run_cli("prepare", "--input", str(log), "--out", str(tmp_path / "out"), "--split", "leave-one-out")
    assert res.returncode == 0, res.stderr
    splits = load_data_dir(tmp_path / "out")
    assert splits["train"].as_dict() == {1: [12, 10], 2: [20]}
    assert splits["validate"].as_dict() == {1: [11], 2: [21]} and splits["test"].as_dict() == {1: [13], 2: [22]}
    assert json.loads((tmp_path / "out" / "meta.json").read_text())["time"].startswith("ISO 8601 date-times")


def test_parquet_times_order_as_times_not_as_text(tmp_path):
    # Numbers stored as text must order as numbers (999 before 1000), and timestamp columns by instant.
    text = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [5, 6, 7], "timestamp": ["1000", "999", "20"]})
    text.to_parquet(tmp_path / "text.parquet")
    stamps = text.assign(timestamp=pd.to_datetime(["2024-01-03", "2024-01-02", "2023-12-31"]))
    stamps.to_parquet(tmp_path / "stamps.parquet")
    for name, kind in (("text", "numbers"), ("stamps", "date-times")):
        res = run_cli("prepare", "--input", str(tmp_path / f"{name}.parquet"), "--out", str(tmp_path / name),
                      "--split", "leave-one-out")
        assert res.returncode == 0, res.stderr
        splits = load_data_dir(tmp_path / name)
        assert (splits["train"].as_dict(), splits["validate"].as_dict(), splits["test"].as_dict()) == \
            ({1: [7]}, {1: [6]}, {1: [5]}), name
        assert json.loads(res.stdout)["time"].startswith(kind)


def test_whole_number_ids_written_as_floats_are_taken_as_ints(tmp_path):
    # A pandas column that once held an empty cell is written as 10.0, 11.0, ...
    log = write_log(tmp_path / "log.csv", [(1.0, 10.0, 1), (1.0, 11.0, 2), (1.0, 2.0**53, 3)])
    res = run_cli("prepare", "--input", str(log), "--out", str(tmp_path / "out"), "--split", "leave-one-out")
    assert res.returncode == 0, res.stderr
    splits = load_data_dir(tmp_path / "out")
    assert (splits["train"].as_dict(), splits["test"].as_dict()) == ({1: [10]}, {1: [2**53]})
    assert all(type(m) is int for m in splits["test"].movies[0])


def test_min_counts_filter_before_splitting(tmp_path):
    rows = [(1, 7, 0), (1, 8, 1), (1, 7, 2), (2, 7, 3), (2, 9, 4), (3, 9, 5)]
    log = write_log(tmp_path / "log.tsv", rows)
    res = run_cli("prepare", "--input", str(log), "--out", str(tmp_path / "out"), "--split", "leave-one-out",
                  "--min-item-count", "2", "--min-user-count", "2")
    assert res.returncode == 0, res.stderr
    meta = json.loads(res.stdout)
    assert meta["events_kept"] == 4 and meta["users"] == 2  # item 8 and then user 3 dropped


def test_times_too_coarse_for_the_cut_points_are_named(tmp_path, capsys):
    # Events at a cut time go to the later period: with two distinct times the validate period
    # was written empty (train then failed far from the cause), with one time training was.
    from trainer.errors import DataError
    from trainer.prepare import prepare_log, read_log

    def prepare(times, name):
        rows = [(u, 100 * u + i, t) for u in range(1, 21) for i, t in enumerate(times)]
        log = write_log(tmp_path / f"{name}.csv", rows)
        return prepare_log(read_log(log, "user_id", "item_id", "timestamp"), tmp_path / name, "temporal", source=name)

    with pytest.raises(DataError, match=r"^same: no event is before the validation cut time 7, .* are the times all equal"):
        prepare([7] * 10, "same")
    with pytest.raises(DataError, match=r"^two: the validate period holds 0\.0% of the events, asked 10\.0%: the times are "
                       r"too coarse"):
        prepare([0] * 5 + [1] * 5, "two")
    assert not (tmp_path / "same").exists() and not (tmp_path / "two").exists()
    meta = prepare([0, 1, 2, 3, 4, 5, 5, 5, 5, 9], "skewed")  # validate takes the whole block at its cut
    assert meta["splits"]["validate"]["events"] == 80 and meta["splits"]["test"]["events"] == 20
    assert "warning: the validate period holds 40.0% of the events, asked 10.0%" in capsys.readouterr().err
    # only newcomers after the validation cut: the validate period would be written empty
    with pytest.raises(DataError, match=r"^input: every event of the validate period \(1\) is from a user with no "
                       r"training events"):
        prepare_log(pd.DataFrame({"user": [1] * 8 + [2, 3], "item": range(10), "time": range(10), "row": range(10)}),
                    tmp_path / "new", "temporal")


def test_rows_repeating_user_item_and_time_are_dropped_unless_kept(tmp_path):
    # User 1's log was written twice at the end: kept, the test target (60) would be the movie the
    # history already ends with, masked at evaluation, so a miss whatever the model does; and item 60's
    # two rows would pass --min-item-count 2. A rewatch at another time (10 at 1 and 4) stays.
    rows = [(1, 10, 1), (1, 20, 2), (1, 30, 3), (1, 10, 4), (1, 60, 5), (1, 60, 5), (2, 20, 1), (2, 30, 2)]
    res, splits = prepare_loo(tmp_path, rows)
    assert splits["train"].as_dict() == {1: [10, 20, 30], 2: [20, 30]}
    assert splits["validate"].as_dict() == {1: [10]} and splits["test"].as_dict() == {1: [60]}
    meta = json.loads(res.stdout)
    assert (meta["events_in"], meta["duplicates_dropped"], meta["events_kept"]) == (8, 1, 7)
    assert meta["keep_duplicates"] is False

    res, splits = prepare_loo(tmp_path, rows, "kept", "--keep-duplicates", "--min-item-count", "2")
    assert splits["test"].as_dict() == {1: [60]} and splits["validate"].as_dict() == {1: [60]}
    assert json.loads(res.stdout)["duplicates_dropped"] == 0
    _, splits = prepare_loo(tmp_path, rows, "min2", "--min-item-count", "2")
    assert 60 not in splits["test"].as_dict().get(1, [])  # one event after dropping


@pytest.mark.parametrize("rows, cols, extra, message", [
    ([(1, 2, 3)], ("user", "item_id", "timestamp"), [], r"missing column\(s\) \['user_id'\]"),
    ([(1, "x", 3)], ("user_id", "item_id", "timestamp"), [], r"column 'item_id' must hold integer ids \(64-bit\); found 'x' at event 1"),
    ([(1, 2.5, 3)], ("user_id", "item_id", "timestamp"), [], r"column 'item_id' must hold integer ids"),
    ([(1, None, 3), (1, 4, 5)], ("user_id", "item_id", "timestamp"), [],
     r"column 'item_id' must hold integer ids \(64-bit\); found an empty value at event 1"),
    # Read back as uint64: a cast to int64 would have wrapped it to a negative id.
    ([(1, 2, 1), (1, 2**63 + 5, 2)], ("user_id", "item_id", "timestamp"), [], r"found 9223372036854775813 at event 2"),
    ([(1, 2, 1), (2**70, 3, 2)], ("user_id", "item_id", "timestamp"), [], r"column 'user_id' .* found 1180591620717411303424 at event 2"),
    ([(1, 2, 1000), (1, 3, "abc"), (1, 4, 999)], ("user_id", "item_id", "timestamp"), [],
     r"column 'timestamp': event 2 \(in file order\) has time 'abc', not a number"),
    ([(1, 2, "2024-03-01"), (1, 3, "3/1/2024"), (1, 4, "2024-03-02")], ("user_id", "item_id", "timestamp"), [],
     r"event 2 \(in file order\) has time '3/1/2024', not an ISO 8601 date-time"),
    ([(1, 2, True), (1, 3, False)], ("user_id", "item_id", "timestamp"), [], r"column 'timestamp' holds booleans"),
    ([(1, True, 1), (1, False, 2)], ("user_id", "item_id", "timestamp"), [], r"column 'item_id' .* found True at event 1"),
    ([], ("user_id", "item_id", "timestamp"), [], r"no rows"),
    ([(1, 2, 3)], ("user_id", "item_id", "timestamp"), ["--min-user-count", "0"], r"--min-user-count must be >= 1"),
    ([(1, 2, 3)], ("user_id", "item_id", "timestamp"), ["--time-col", "item_id"],
     r"--item-col 'item_id' and --time-col 'item_id' must name three different columns"),
    ([(1, 2, 3), (1, 3, 4)], ("user_id", "item_id", "timestamp"), ["--min-item-count", "5"], r"no events left"),
])
def test_bad_logs_fail_clearly_and_write_nothing(tmp_path, rows, cols, extra, message):
    log = write_log(tmp_path / "log.tsv", rows, cols)
    out = tmp_path / "out"
    res = run_cli("prepare", "--input", str(log), "--out", str(out), *extra)
    assert res.returncode == 2
    assert res.stderr.startswith("error: ") and pytest.importorskip("re").search(message, res.stderr), res.stderr
    assert not out.exists() or not any(out.iterdir())


def test_missing_input_and_refused_overwrite(tmp_path):
    res = run_cli("prepare", "--input", str(tmp_path / "none.tsv"), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "none.tsv: file not found" in res.stderr
    log = write_log(tmp_path / "log.tsv", [(1, 2, 0), (1, 3, 1), (1, 4, 2)])
    assert run_cli("prepare", "--input", str(log), "--out", str(tmp_path / "o"), "--split", "leave-one-out").returncode == 0
    before = (tmp_path / "o" / "train.pkl").read_bytes()
    res = run_cli("prepare", "--input", str(log), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "--force" in res.stderr
    assert (tmp_path / "o" / "train.pkl").read_bytes() == before


def test_synthetic_data_is_deterministic(tmp_path):
    from trainer.synthetic import synthetic_log
    a = synthetic_log(n_users=100, n_movies=600, n_series=5, seed=1)
    b = synthetic_log(n_users=100, n_movies=600, n_series=5, seed=1)
    pd.testing.assert_frame_equal(a, b)
    # long tail: the most watched movie is far above the median one
    counts = a["item"].value_counts()
    assert counts.iloc[0] > 4 * counts.median()


def test_synthetic_small_catalogs_work_and_too_small_ones_are_cli_errors(tmp_path):
    from trainer.synthetic import synthetic_log
    small = synthetic_log(n_users=60, n_movies=30, seed=2)  # 12 clusters over 30 movies: some stay empty
    assert small["item"].between(1, 30).all() and small["user"].nunique() == 60
    res = run_cli("prepare", "--synthetic", "--movies", "200", "--users", "50", "--out", str(tmp_path / "ok"))
    assert res.returncode == 0, res.stderr
    res = run_cli("prepare", "--synthetic", "--movies", "10", "--out", str(tmp_path / "bad"))
    assert res.returncode == 2 and "--movies >= 24" in res.stderr
    assert not (tmp_path / "bad").exists()
    res = run_cli("prepare", "--synthetic", "--seed", "-1", "--out", str(tmp_path / "bad"))
    assert res.returncode == 2 and "--seed must be an int in 0..2**63-1, got -1" in res.stderr
    assert not (tmp_path / "bad").exists()


def test_a_file_where_the_output_directory_should_be_is_a_cli_error(tmp_path):
    # The system's own error (a path in the way, a permission, a full disk) names the path, no traceback.
    log = write_log(tmp_path / "log.tsv", [(1, 2, 0), (1, 3, 1), (1, 4, 2)])
    (tmp_path / "taken").write_text("mine")
    res = run_cli("prepare", "--input", str(log), "--out", str(tmp_path / "taken"), "--split", "leave-one-out")
    assert res.returncode == 2, res.stderr
    assert res.stderr == f"error: {tmp_path / 'taken'}: exists and is not a directory; choose another --out\n"
    assert (tmp_path / "taken").read_text() == "mine"


@pytest.mark.parametrize("flags, message", [
    # each was dropped without a word: a leave-one-out split "with --val-frac 0.3" was the plain one
    (["--input", "LOG", "--split", "leave-one-out", "--val-frac", "0.3"], "--val-frac goes with --split temporal"),
    (["--input", "LOG", "--users", "50"], "--users goes with --synthetic"),
    (["--input", "LOG", "--cache-dir", "c", "--base-url", "http://x"], "--cache-dir and --base-url go with --dataset"),
    (["--synthetic", "--user-col", "u", "--time-col", "t"],
     "--user-col and --time-col go with --input; here they would be ignored"),
])
def test_flags_the_source_or_split_would_ignore_are_refused(tmp_path, capsys, flags, message):
    from trainer.__main__ import main

    log = write_log(tmp_path / "log.tsv", [(1, 2, 0), (1, 3, 1), (1, 4, 2)])
    assert main(["prepare", "--out", str(tmp_path / "o"), *[str(log) if f == "LOG" else f for f in flags]]) == 2
    assert re.match(f"error: {re.escape(message)}", capsys.readouterr().err)
    assert not (tmp_path / "o").exists()
    # given where they apply, they are read
    assert main(["prepare", "--input", str(log), "--out", str(tmp_path / "loo"), "--split", "leave-one-out"]) == 0
    assert main(["prepare", "--synthetic", "--users", "40", "--movies", "30", "--seed", "1",
                 "--out", str(tmp_path / "syn")]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["users"] <= 40


def test_out_is_checked_before_the_log_is_read_and_a_run_directory_is_refused(tmp_path, capsys):
    # A run directory used to receive the split files beside its own; a data directory holding splits
    # was refused only after the whole log had been read (minutes for a large one, or a download).
    from trainer.__main__ import main

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "vocab.json").write_text("{}")
    missing = tmp_path / "not-read-yet.tsv"  # never opened: the refusal comes first
    assert main(["prepare", "--input", str(missing), "--out", str(run)]) == 2
    assert f"error: {run} is a run directory (config.json, vocab.json)" in capsys.readouterr().err
    log = write_log(tmp_path / "log.tsv", [(1, 2, 0), (1, 3, 1), (1, 4, 2)])
    assert main(["prepare", "--input", str(log), "--out", str(tmp_path / "d"), "--split", "leave-one-out"]) == 0
    assert main(["prepare", "--input", str(missing), "--out", str(tmp_path / "d")]) == 2
    assert "already holds split files; pass --force" in capsys.readouterr().err
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "vocab.json"]

    # and train names a data directory given as --out
    assert main(["train", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "d")]) == 2
    assert "holds split files (train.pkl): a data directory, not a run's" in capsys.readouterr().err


def test_the_help_names_the_defaults_the_readers_apply():
    # The flags default to None (so an ignored one can be told apart); the defaults the help states
    # live in the readers' signatures, and must not drift from it.
    import inspect

    from trainer.cli_parser import build_parser
    from trainer.cli_prepare import LOG_COLUMNS, RATING_COLUMN, SYNTHETIC, TEMPORAL
    from trainer.prepare import prepare_log
    from trainer.synthetic import synthetic_log

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["prepare"]
    helps = {a.dest: a.help for a in sub._actions}
    defaults = {**LOG_COLUMNS, "rating_col": RATING_COLUMN,
                **{flag: inspect.signature(synthetic_log).parameters[arg].default for flag, arg in SYNTHETIC.items()},
                **{name: inspect.signature(prepare_log).parameters[name].default for name in TEMPORAL}}
    for flag, default in defaults.items():
        assert f"(default {default})" in helps[flag], (flag, default, helps[flag])


def test_min_rating_drops_low_rated_events_before_the_filters_and_the_split(tmp_path):
    # Low-rated events leave the histories (user 1's movie 11), so no split holds them, and user 3,
    # who rated only low, leaves the data.
    rows = [(1, 10, 1, 5), (1, 11, 2, 2), (1, 12, 3, 4), (1, 13, 4, 4.5), (2, 10, 1, 4), (2, 11, 2, 1),
            (2, 13, 3, 5), (2, 14, 4, 3), (2, 10, 5, 5), (3, 12, 1, 1)]
    log = write_log(tmp_path / "log.csv", rows, ("user_id", "item_id", "timestamp", "stars"))
    res = run_cli("prepare", "--input", str(log), "--out", str(tmp_path / "out"), "--split", "leave-one-out",
                  "--min-rating", "4", "--rating-col", "stars")
    assert res.returncode == 0, res.stderr
    splits = load_data_dir(tmp_path / "out")
    assert splits["train"].as_dict() == {1: [10], 2: [10]}
    assert splits["validate"].as_dict() == {1: [12], 2: [13]}
    assert splits["test"].as_dict() == {1: [13], 2: [10]}
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert (meta["events_in"], meta["min_rating"], meta["below_min_rating_dropped"], meta["events_kept"]) == (10, 4, 4, 6)
    assert meta["users"] == 2
    # --min-item-count counts the kept events: movie 12 has two events, one rated 4, so it goes,
    # and user 1, left with two movies, is too short to hold any out
    res = run_cli("prepare", "--input", str(log), "--out", str(tmp_path / "counted"), "--split", "leave-one-out",
                  "--min-rating", "4", "--rating-col", "stars", "--min-item-count", "2")
    assert res.returncode == 0, res.stderr
    splits = load_data_dir(tmp_path / "counted")
    assert splits["train"].as_dict() == {1: [10, 13], 2: [10]} and splits["test"].as_dict() == {2: [10]}
    # without it every event is a watch, and the log needs no rating column at all
    res = run_cli("prepare", "--input", str(write_log(tmp_path / "plain.tsv", [r[:3] for r in rows])),
                  "--out", str(tmp_path / "all"), "--split", "leave-one-out")
    assert res.returncode == 0, res.stderr
    assert load_data_dir(tmp_path / "all")["test"].as_dict() == {1: [13], 2: [10]}
    assert "min_rating" not in json.loads((tmp_path / "all" / "meta.json").read_text())


@pytest.mark.parametrize("cols, rows, flags, message", [
    (("user_id", "item_id", "timestamp", "rating"), [(1, 2, 3, 4), (1, 3, 4, "five")], ["--min-rating", "4"],
     r"column 'rating' must hold numbers \(ratings\); found 'five' at event 2"),
    (("user_id", "item_id", "timestamp", "rating"), [(1, 2, 3, 4), (1, 3, 4, None)], ["--min-rating", "4"],
     r"column 'rating' must hold numbers \(ratings\); found an empty value at event 2"),
    (("user_id", "item_id", "timestamp"), [(1, 2, 3)], ["--min-rating", "4"],
     r"missing column\(s\) \['rating'\]; found .* \(choose with --user-col/--item-col/--time-col/--rating-col\)"),
    (("user_id", "item_id", "timestamp", "rating"), [(1, 2, 3, 1), (1, 3, 4, 2)], ["--min-rating", "4"],
     r"every event is rated below --min-rating 4"),
    (("user_id", "item_id", "timestamp", "rating"), [(1, 2, 3, 4)], ["--min-rating", "nan"],
     r"--min-rating must be a finite number, got nan"),
    (("user_id", "item_id", "timestamp", "rating"), [(1, 2, 3, 4)], ["--min-rating", "4", "--rating-col", "timestamp"],
     r"--rating-col 'timestamp' names the user, movie or time column"),
    (("user_id", "item_id", "timestamp", "rating"), [(1, 2, 3, 4)], ["--rating-col", "rating"],
     r"--rating-col goes with --min-rating; here it would be ignored"),
])
def test_bad_ratings_and_rating_flags_fail_clearly_and_write_nothing(tmp_path, cols, rows, flags, message):
    log = write_log(tmp_path / "log.tsv", rows, cols)
    res = run_cli("prepare", "--input", str(log), "--out", str(tmp_path / "out"), *flags)
    assert res.returncode == 2 and res.stderr.startswith("error: ") and re.search(message, res.stderr), res.stderr
    assert not (tmp_path / "out").exists()


def test_the_built_in_data_has_no_ratings_to_filter(tmp_path, capsys):
    from trainer.__main__ import main

    assert main(["prepare", "--synthetic", "--min-rating", "4", "--out", str(tmp_path / "o")]) == 2
    assert "--min-rating goes with --input or --dataset (the built-in data has no ratings)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
