"""bench_accuracy's tables: what they show is what the runs measured."""

from __future__ import annotations

from trainer.bench_accuracy import BENCHES, validation_lines


def test_validation_table_rows_carry_each_runs_values_and_bold_the_leader_per_column():
    rows = [{"model": "pop", "val": {"users": 81, "map@20": 0.0648, "recall@20": 0.1278}},
            {"model": "sknn", "val": {"users": 81, "map@20": 0.0488, "recall@20": 0.1234}},
            {"model": "GRU", "val": {"users": 81, "map@20": 0.0641, "recall@20": 0.1662}},
            {"model": "tie", "val": {"users": 81, "map@20": 0.06480000001, "recall@20": 0.1}}]
    lines = validation_lines({"metrics": ["map@20", "recall@20"], "validation_table": True}, rows)
    assert "81 users" in lines[1]
    table = {line.split(" | ")[0].lstrip("| "): line for line in lines if line.startswith("| ") and "---" not in line}
    assert table["pop"] == "| pop | **0.0648** | 0.1278 |"
    assert table["sknn"] == "| sknn | 0.0488 | 0.1234 |"
    assert table["GRU"] == "| GRU | 0.0641 | **0.1662** |"
    assert table["tie"] == "| tie | **0.0648** | 0.1000 |"  # equal as shown: both bold


def test_only_benches_that_ask_for_it_get_a_validation_table():
    assert validation_lines({"metrics": ["map@20"]}, [{"model": "GRU", "test": {"map@20": 0.1}}]) == []
    assert BENCHES["ml-100k"].get("validation_table") and not BENCHES["ml-1m"].get("validation_table")


def test_seed_spread_gives_each_periods_mean_range_and_the_seeds_strictly_above_each_baseline():
    from trainer.seed_spread import seed_spread_lines

    runs = [{"seed": s, "test": {"map@20": t}, "val": {"map@20": v}}
            for s, t, v in ((1, 0.08, 0.05), (2, 0.09, 0.07), (3, 0.10, 0.06))]
    baselines = [{"model": "pop", "test": {"map@20": 0.09}, "val": {"map@20": 0.01}},
                 {"model": "sknn", "test": {"map@20": 0.2}, "val": {"map@20": 0.065}}]
    lines = seed_spread_lines({"runs": runs}, baselines, ["map@20"], "CMD")
    assert "seeds 1-3 (`CMD`)" in lines[1]
    assert lines[3] == "| period | metric | GRU, mean of 3 seeds (min-max) | pop | sknn |"
    # 0.09 equals pop's test value: not above it
    assert lines[5] == ("| test | map@20 | 0.0900 (0.0800-0.1000) | 0.0900 (GRU above on 1 of 3) | "
                        "0.2000 (GRU above on 0 of 3) |")
    assert lines[6] == ("| validation | map@20 | 0.0600 (0.0500-0.0700) | 0.0100 (GRU above on 3 of 3) | "
                        "0.0650 (GRU above on 1 of 3) |")
    # baselines without validation metrics: the test period only; seeds not consecutive are listed
    lines = seed_spread_lines({"runs": runs[::2]}, [{"model": "pop", "test": {"map@20": 0.0}}], ["map@20"], "CMD")
    assert "seeds 1, 3 " in lines[1] and len(lines) == 6 and lines[-1].startswith("| test |")
