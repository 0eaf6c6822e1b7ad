"""Beyond accuracy: what the recommended lists do with the catalog, as pure functions over them.

Accuracy metrics say how often the lists hold the right movies; these say how much of the
catalog the lists ever show (coverage), how evenly they share it out (Gini index), and how
popular what they show is (mean training count): a model that recommends the same blockbusters to
everyone can score well on accuracy and still serve a narrow, popular slice. They are the ones
RecBole reports as ItemCoverage, GiniIndex and AveragePopularity.

Shared inputs:
    ranked: LongTensor[B, >=k], each case's recommended indices best first (1..n_items; `NO_ITEM`,
        -1, marks an empty slot, when masking left fewer than k movies).
    n_items: the catalog's size; movies are indices 1..n_items (0 is the start token).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: The names `catalog_metrics` reports, in its order.
CATALOG_METRICS = ("coverage@10", "coverage@20", "gini@20", "popularity@20")


def recommendation_counts(ranked: torch.Tensor, n_items: int, k: int) -> torch.Tensor:
    """How often each movie appears in the top k of all lists.

    Args:
        ranked: LongTensor[B, >=k].
        n_items: catalog size.
        k: cut-off.

    Returns:
        LongTensor[n_items]: entry i counts movie index i + 1.
    """
    if k > ranked.shape[1]:
        raise ValueError(f"k={k} exceeds the ranked list length {ranked.shape[1]}")
    shown = ranked[:, :k].reshape(-1)
    shown = shown[(shown >= 1) & (shown <= n_items)]
    return torch.bincount(shown - 1, minlength=n_items)


def item_coverage(ranked: torch.Tensor, n_items: int, k: int) -> float:
    """Share of the catalog that is in at least one list's top k (0..1)."""
    return float((recommendation_counts(ranked, n_items, k) > 0).double().mean())


def gini_index(ranked: torch.Tensor, n_items: int, k: int) -> float:
    """Gini index of how often each catalog movie is in a top k: 0 when every movie is shown
    equally often, towards 1 when a few movies take every slot. Movies never shown count, with 0.

    Returns:
        sum_i (2i - n - 1) c_i / (n sum_i c_i), counts c ascending, i = 1..n; 0.0 for empty lists.
    """
    counts = recommendation_counts(ranked, n_items, k).double().sort().values
    total = float(counts.sum())
    if total == 0:
        return 0.0
    i = torch.arange(1, n_items + 1, dtype=torch.float64)
    return float(((2 * i - n_items - 1) * counts).sum() / (n_items * total))


def average_popularity(ranked: torch.Tensor, counts: Sequence[int], k: int) -> torch.Tensor:
    """Mean training count of the movies in each list's top k (empty slots left out; 0.0 for an empty list).

    Args:
        ranked: LongTensor[B, >=k].
        counts: training count of movie index i + 1 at position i (a vocabulary's `counts`).
        k: cut-off.

    Returns:
        DoubleTensor[B].
    """
    if k > ranked.shape[1]:
        raise ValueError(f"k={k} exceeds the ranked list length {ranked.shape[1]}")
    top = ranked[:, :k]
    valid = (top >= 1) & (top <= len(counts))
    table = torch.tensor([0, *counts], dtype=torch.float64)
    popularity = torch.where(valid, table[top.clamp(0, len(counts))], torch.zeros((), dtype=torch.float64))
    shown = valid.sum(1)
    return torch.where(shown > 0, popularity.sum(1) / shown.clamp(min=1), torch.zeros_like(popularity[:, 0]))


def catalog_metrics(ranked: torch.Tensor, counts: Sequence[int]) -> dict[str, float]:
    """The beyond-accuracy figures `evaluate` reports beside the accuracy metrics.

    Args:
        ranked: LongTensor[B, >=20].
        counts: the vocabulary's training counts (its length is the catalog size).

    Returns:
        coverage@10, coverage@20, gini@20 and popularity@20 (the mean over lists of their mean
        training count).
    """
    n_items = len(counts)
    values = (item_coverage(ranked, n_items, 10), item_coverage(ranked, n_items, 20), gini_index(ranked, n_items, 20),
              float(average_popularity(ranked, counts, 20).mean()) if len(ranked) else 0.0)
    return dict(zip(CATALOG_METRICS, values))
