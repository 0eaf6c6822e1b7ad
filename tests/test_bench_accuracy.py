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
