"""Metrics by target-set size: groups, means and winners computed from per-user payloads."""

from __future__ import annotations

import pytest

from trainer.breakdown import breakdown_lines, by_target_count


def payload(users, targets, values):
    return {"users": users, "targets": targets, "metrics": {"map@20": values, "precision@20": [v / 2 for v in values]}}


USERS = [10, 11, 12, 13, 14, 15]
TARGETS = [1, 3, 6, 19, 20, 250]  # two users in each group: 1-4, 5-19, 20+


def test_groups_split_at_the_edges_and_name_each_group_winner():
    per_user = {"next": payload(USERS, TARGETS, [0.5, 0.3, 0.2, 0.2, 0.1, 0.1]),
                "knn": payload(USERS, TARGETS, [0.1, 0.1, 0.2, 0.2, 0.4, 0.2])}
    rows = by_target_count(per_user, "map@20")
    assert [(r["group"], r["users"]) for r in rows] == [("1-4", 2), ("5-19", 2), ("20+", 2)]
    assert rows[0]["means"] == pytest.approx({"next": 0.4, "knn": 0.1}) and rows[0]["best"] == "next"
    assert rows[1]["best"] == "next"  # a tie goes to the model listed first
    assert rows[2]["means"] == pytest.approx({"next": 0.1, "knn": 0.3}) and rows[2]["best"] == "knn"


def test_empty_groups_are_left_out_and_the_table_marks_each_best_cell():
    per_user = {"a": payload([1, 2], [1, 2], [0.2, 0.4]), "b": payload([1, 2], [1, 2], [0.1, 0.1])}
    assert [r["group"] for r in by_target_count(per_user, "map@20")] == ["1-4"]
    lines = breakdown_lines(per_user, ["map@20", "precision@20"])
    assert lines[0] == "| model | map@20, 1-4 movies (2 users) | precision@20, 1-4 movies (2 users) |"
    assert lines[2] == "| a | **0.3000** | **0.1500** |" and lines[3] == "| b | 0.1000 | 0.0500 |"


def test_payloads_on_other_users_or_without_target_counts_are_refused():
    good = payload(USERS, TARGETS, [0.1] * 6)
    with pytest.raises(ValueError, match="other users"):
        by_target_count({"a": good, "b": payload(USERS[::-1], TARGETS, [0.1] * 6)}, "map@20")
    with pytest.raises(ValueError, match="no 'targets'"):
        by_target_count({"a": {"users": USERS, "metrics": good["metrics"]}}, "map@20")
