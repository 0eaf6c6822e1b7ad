"""Catalog (beyond-accuracy) metrics against plain-Python references, and in evaluate's output."""

from __future__ import annotations

import json
import random

import pytest
import torch

from conftest import run_cli
from trainer.catalog_metrics import average_popularity, catalog_metrics, gini_index, item_coverage
from trainer.recommend import NO_ITEM


def random_lists(seed: int, n: int = 150, catalog: int = 80, k: int = 20, skew: float = 1.5):
    """Unique lists drawn with a popularity skew (some shorter than k), as an int matrix padded with NO_ITEM."""
    rnd = random.Random(seed)
    weights = [1 / (i + 1) ** skew for i in range(catalog)]
    rows = []
    for _ in range(n):
        length = k if rnd.random() < 0.85 else rnd.randint(0, k)
        row: list[int] = []
        while len(row) < length:
            item = rnd.choices(range(1, catalog + 1), weights)[0]
            if item not in row:
                row.append(item)
        rows.append(row)
    ranked = torch.full((n, k), NO_ITEM, dtype=torch.long)
    for i, row in enumerate(rows):
        ranked[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return rows, ranked


def gini_reference(counts: list[int]) -> float:
    # the mean-absolute-difference definition, not the sorted-rank one the code uses
    n, total = len(counts), sum(counts)
    return sum(abs(a - b) for a in counts for b in counts) / (2 * n * total)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_plain_python(seed):
    catalog = 80
    rows, ranked = random_lists(seed, catalog=catalog)
    train_counts = [random.Random(seed).randint(1, 500) for _ in range(catalog)]
    for k in (5, 10, 20):
        top = [row[:k] for row in rows]
        assert item_coverage(ranked, catalog, k) == pytest.approx(len({m for row in top for m in row}) / catalog)
        shown = [sum(m == item for row in top for m in row) for item in range(1, catalog + 1)]
        assert gini_index(ranked, catalog, k) == pytest.approx(gini_reference(shown))
        expected = [sum(train_counts[m - 1] for m in row) / len(row) if row else 0.0 for row in top]
        assert average_popularity(ranked, train_counts, k).tolist() == pytest.approx(expected)


def test_the_extremes():
    same = torch.tensor([[1, 2, 3]] * 4)  # everyone gets the same three of ten movies
    assert item_coverage(same, 10, 3) == pytest.approx(0.3)
    assert gini_index(same, 10, 3) == pytest.approx(gini_reference([4, 4, 4] + [0] * 7)) == pytest.approx(0.7)
    spread = torch.tensor([[1, 2], [3, 4], [5, 6]])  # every movie once
    assert item_coverage(spread, 6, 2) == 1.0 and gini_index(spread, 6, 2) == pytest.approx(0.0)
    empty = torch.full((2, 20), NO_ITEM, dtype=torch.long)
    assert catalog_metrics(empty, [5] * 30) == {"coverage@10": 0.0, "coverage@20": 0.0, "gini@20": 0.0,
                                                "popularity@20": 0.0}
    with pytest.raises(ValueError, match="k=25 exceeds the ranked list length 20"):
        item_coverage(empty, 30, 25)


def test_evaluate_and_training_report_them_and_they_tell_pop_from_the_gru(tiny_data, tiny_run, tmp_path):
    gru = json.loads(run_cli("evaluate", "--data", str(tiny_data), "--run", str(tiny_run)).stdout)
    assert run_cli("baseline", "--name", "pop", "--data", str(tiny_data), "--out", str(tmp_path / "pop")).returncode == 0
    pop = json.loads(run_cli("evaluate", "--data", str(tiny_data), "--run", str(tmp_path / "pop")).stdout)
    for metric in ("coverage@10", "coverage@20", "gini@20", "popularity@20"):
        assert metric in gru and metric in pop
    # pop gives every user the same list, less what each has seen: a narrow, popular slice
    assert pop["coverage@20"] < gru["coverage@20"] and pop["gini@20"] > gru["gini@20"]
    assert pop["popularity@20"] > gru["popularity@20"]
    rows = [json.loads(line) for line in (tiny_run / "history.jsonl").read_text().splitlines()]
    assert all("coverage@20" in row["val"] for row in rows)
