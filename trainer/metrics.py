"""Ranking metrics as pure functions over batched tensors.

Shared inputs:
    ranked: LongTensor[B, k], recommended indices best first; `NO_ITEM` (-1) marks an empty slot.
    targets: LongTensor[B, M], each user's in-vocabulary target indices, padded with `TARGET_PAD`.
    n_targets: LongTensor[B], size of each user's whole target set, out-of-vocabulary targets
        included: they can never be recommended, so they count as misses instead of vanishing.
"""

from __future__ import annotations

import torch

TARGET_PAD = -2  # never equal to a recommended index, nor to NO_ITEM


def hits_matrix(ranked: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """BoolTensor[B, k]: whether the movie at each rank is one of the user's targets.

    Args:
        ranked: LongTensor[B, k].
        targets: LongTensor[B, M].

    Returns:
        BoolTensor[B, k].
    """
    return (ranked.unsqueeze(2) == targets.unsqueeze(1)).any(dim=2)


def _cut(hits: torch.Tensor, k: int) -> torch.Tensor:
    if k > hits.shape[1]:
        raise ValueError(f"k={k} exceeds the ranked list length {hits.shape[1]}")
    return hits[:, :k].double()


def precision_at_k(hits: torch.Tensor, k: int) -> torch.Tensor:
    """Hits in the top k divided by k, per user: DoubleTensor[B]."""
    return _cut(hits, k).sum(1) / k


def recall_at_k(hits: torch.Tensor, n_targets: torch.Tensor, k: int) -> torch.Tensor:
    """Hits in the top k divided by the size of the whole target set, per user."""
    return _cut(hits, k).sum(1) / n_targets.double()


def hit_rate_at_k(hits: torch.Tensor, k: int) -> torch.Tensor:
    """1.0 where the top k holds at least one target, per user."""
    return (_cut(hits, k).sum(1) > 0).double()


def ndcg_at_k(hits: torch.Tensor, n_targets: torch.Tensor, k: int) -> torch.Tensor:
    """Binary-gain NDCG@k; the ideal list has min(|targets|, k) hits at the top."""
    gains = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float64))
    dcg = (_cut(hits, k) * gains).sum(1)
    ideal_len = n_targets.clamp(max=k)
    idcg = torch.cumsum(gains, 0)[(ideal_len - 1).clamp(min=0)]
    return torch.where(ideal_len > 0, dcg / idcg, torch.zeros_like(dcg))


def mrr_at_k(hits: torch.Tensor, k: int) -> torch.Tensor:
    """Reciprocal rank of the first hit within the top k, 0 if none."""
    h = _cut(hits, k)
    first = torch.argmax(h, dim=1)  # first True; 0 when there is none, handled below
    return torch.where(h.sum(1) > 0, 1.0 / (first.double() + 1.0), torch.zeros(h.shape[0], dtype=torch.float64))


def average_precision_at_k(hits: torch.Tensor, n_targets: torch.Tensor, k: int) -> torch.Tensor:
    """AP@k exactly as `ml_metrics.apk`: sum of precision@i at each hit i <= k, over min(|targets|, k).

    Args:
        hits: BoolTensor[B, >=k] from `hits_matrix` (recommendations hold no duplicates).
        n_targets: LongTensor[B], whole target-set sizes (> 0).
        k: cut-off.

    Returns:
        DoubleTensor[B].
    """
    h = _cut(hits, k)
    ranks = torch.arange(1, k + 1, dtype=torch.float64)
    precision_at_hits = torch.cumsum(h, 1) / ranks * h
    return precision_at_hits.sum(1) / n_targets.clamp(max=k).double()


def ranking_metrics(ranked: torch.Tensor, targets: torch.Tensor, n_targets: torch.Tensor, k: int = 20) -> dict[str, torch.Tensor]:
    """Every per-user metric sessrec reports, keyed as in `evaluate`'s JSON output.

    Args:
        ranked: LongTensor[B, >=max(k, 20)].
        targets: LongTensor[B, M].
        n_targets: LongTensor[B], > 0.
        k: cut-off of `map@k`.

    Returns:
        Mapping of metric name to DoubleTensor[B].
    """
    hits = hits_matrix(ranked, targets)
    out = {f"map@{k}": average_precision_at_k(hits, n_targets, k)}
    for cut in (1, 5, 10, 20):
        out[f"precision@{cut}"] = precision_at_k(hits, cut)
    for cut in (10, 20):
        out[f"recall@{cut}"] = recall_at_k(hits, n_targets, cut)
        out[f"hr@{cut}"] = hit_rate_at_k(hits, cut)
        out[f"ndcg@{cut}"] = ndcg_at_k(hits, n_targets, cut)
    out["mrr@20"] = mrr_at_k(hits, 20)
    return out


def metric_names(k: int = 20) -> tuple[str, ...]:
    """The names `ranking_metrics` reports with map cut-off `k`, in its order (what training may select on).

    Args:
        k: cut-off of `map@k`.

    Returns:
        The metric names.
    """
    width = max(k, 20)
    one = torch.ones(1, dtype=torch.long)
    return tuple(ranking_metrics(torch.zeros((1, width), dtype=torch.long), one.reshape(1, 1), one, k))
