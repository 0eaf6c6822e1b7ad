"""Metrics against independent references: ml_metrics for MAP@k, plain Python loops for the rest."""

from __future__ import annotations

import math
import random

import ml_metrics
import pytest
import torch

from trainer.metrics import TARGET_PAD, ranking_metrics
from trainer.recommend import NO_ITEM


def random_cases(seed: int, n: int = 200, catalog: int = 60, k: int = 20):
    """Unique recommendation lists (some shorter than k) and target sets, some with OOV ids."""
    rnd = random.Random(seed)
    ranked, actual = [], []
    for _ in range(n):
        length = k if rnd.random() < 0.8 else rnd.randint(0, k)
        ranked.append(rnd.sample(range(1, catalog), length))
        targets = rnd.sample(range(1, catalog), rnd.randint(1, 30))
        # out-of-vocabulary targets: never recommendable, must still count in |targets|
        targets += [-(1000 + i) for i in range(rnd.randint(0, 3))]
        actual.append(targets)
    return ranked, actual


def to_tensors(ranked, actual, k):
    r = torch.full((len(ranked), k), NO_ITEM, dtype=torch.long)
    for i, row in enumerate(ranked):
        r[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    in_vocab = [[t for t in a if t >= 0] for a in actual]
    width = max(len(t) for t in in_vocab)
    t = torch.full((len(actual), width), TARGET_PAD, dtype=torch.long)
    for i, row in enumerate(in_vocab):
        t[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return r, t, torch.tensor([len(a) for a in actual])


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [1, 5, 20])
def test_map_at_k_equals_ml_metrics(seed, k):
    ranked, actual = random_cases(seed)
    r, t, n = to_tensors(ranked, actual, 20)
    ours = ranking_metrics(r, t, n, k=k)[f"map@{k}"]
    ref = ml_metrics.mapk(actual, ranked, k=k)
    assert abs(float(ours.mean()) - ref) < 1e-9
    for i in range(len(actual)):
        assert abs(float(ours[i]) - ml_metrics.apk(actual[i], ranked[i], k=k)) < 1e-9


def reference(ranked_row, targets, k):
    hits = [1 if (i < len(ranked_row) and ranked_row[i] in targets) else 0 for i in range(k)]
    dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
    idcg = sum(1 / math.log2(i + 2) for i in range(min(len(targets), k)))
    first = next((i for i, h in enumerate(hits) if h), None)
    return {
        "precision": sum(hits) / k,
        "recall": sum(hits) / len(targets),
        "hr": float(any(hits)),
        "ndcg": dcg / idcg,
        "mrr": 0.0 if first is None else 1.0 / (first + 1),
    }


@pytest.mark.parametrize("seed", range(3))
def test_other_metrics_match_python_reference(seed):
    ranked, actual = random_cases(seed + 100)
    r, t, n = to_tensors(ranked, actual, 20)
    ours = ranking_metrics(r, t, n, k=20)
    for i in range(len(actual)):
        for cut in (1, 5, 10, 20):
            assert float(ours[f"precision@{cut}"][i]) == pytest.approx(reference(ranked[i], set(actual[i]), cut)["precision"])
        for cut in (10, 20):
            ref = reference(ranked[i], set(actual[i]), cut)
            assert float(ours[f"recall@{cut}"][i]) == pytest.approx(ref["recall"])
            assert float(ours[f"hr@{cut}"][i]) == ref["hr"]
            assert float(ours[f"ndcg@{cut}"][i]) == pytest.approx(ref["ndcg"])
        assert float(ours["mrr@20"][i]) == pytest.approx(reference(ranked[i], set(actual[i]), 20)["mrr"])


def test_oov_targets_count_as_misses():
    # One hit among 1 in-vocab + 3 OOV targets: recall 1/4, not 1/1.
    r = torch.tensor([[5, 6, 7] + [NO_ITEM] * 17])
    t = torch.tensor([[5]])
    out = ranking_metrics(r, t, torch.tensor([4]), k=20)
    assert float(out["recall@20"][0]) == pytest.approx(0.25)
    assert float(out["map@20"][0]) == pytest.approx(1.0 / 4)
    # A user whose targets are all OOV scores zero everywhere.
    out = ranking_metrics(r, torch.tensor([[TARGET_PAD]]), torch.tensor([2]), k=20)
    assert all(float(v[0]) == 0.0 for v in out.values())


def test_empty_slots_never_hit():
    r = torch.full((1, 20), NO_ITEM, dtype=torch.long)
    out = ranking_metrics(r, torch.tensor([[3]]), torch.tensor([1]), k=20)
    assert float(out["hr@20"][0]) == 0.0
