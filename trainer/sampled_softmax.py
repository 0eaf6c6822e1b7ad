"""Sampled softmax: train against some drawn movies instead of the whole catalog.

The full softmax costs each training position a dot product with every movie, forward and backward;
with tens of thousands of movies that output layer is nearly all of an epoch (2 CPU cores, a training
step of 64 windows of 50, emb 256, hidden 512: 0.55 s at 3,416 movies, 2.5 s at 20,000, about 0.25 s of
it the embedding and GRU). `--negatives N` scores each position's next movie against N movies drawn
once per batch (shared by every position: one [positions, N] matrix product) in proportion to the
training counts raised to `--negative-alpha`, and subtracts the log of each drawn movie's expected count
from its logit, so that the drawn movies' exponentials sum, in expectation, to the rest of the catalog's.
A drawn movie that is the position's own target is left out there (an accidental hit), and the target's
own logit is not corrected, so the loss tends to the full softmax's, gradient included, as N grows
(Bengio & Senecal 2008; Blanc & Rendle 2018, whose form this is). Too few draws are noisy enough to
train a worse model (docs/training.md has the runs). Evaluation, export and serving still rank the
whole catalog: only training is sampled.
"""

from __future__ import annotations

import torch

from .batching import IGNORE_INDEX


def proposal(counts: list[int], alpha: float) -> torch.Tensor:
    """The distribution negatives are drawn from, over vocabulary indices (the start token, 0, never).

    Args:
        counts: each movie's training count, movie index i at position i - 1 (Vocab.counts).
        alpha: the counts' exponent: 0 draws every movie alike, 1 as often as it is watched.

    Returns:
        FloatTensor[len(counts) + 1] summing to 1, 0 at index 0.
    """
    if not counts:
        raise ValueError("proposal: no movies to draw negatives from")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"negative alpha must be in [0, 1], got {alpha}")
    weights = torch.tensor([0.0] + [max(float(c), 1.0) ** alpha for c in counts], dtype=torch.float64)
    return (weights / weights.sum()).float()


def sampled_softmax_loss(states: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, targets: torch.Tensor,
                         probs: torch.Tensor, negatives: int, label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean over real positions of the sampled softmax cross-entropy of each position's next movie.

    Args:
        states: FloatTensor[B, T, D], what the output layer reads (SessionGRU.features).
        weight: FloatTensor[V, D], the output layer's weight; bias: FloatTensor[V].
        targets: LongTensor[B, T], IGNORE_INDEX at padding.
        probs: FloatTensor[V], the proposal (`proposal`), on the states' device.
        negatives: how many movies to draw (with replacement) for the whole batch.
        label_smoothing: this share of each target spread over the position's candidates (its target and
            the drawn movies that are not it), as the full loss spreads it over the catalog.

    Returns:
        A scalar; its gradient estimates the full softmax cross-entropy's.
    """
    if negatives < 1:
        raise ValueError(f"negatives must be >= 1, got {negatives}")
    real = targets != IGNORE_INDEX
    h = states[real].float()  # [N, D]
    y = targets[real]
    drawn = torch.multinomial(probs, negatives, replacement=True)  # [S], shared by the batch
    log_expected = torch.log(probs * negatives)
    w, b = weight.float(), bias.float()
    true_logit = (h * w[y]).sum(-1) + b[y]
    # [N, S] is the loss's one large tensor: built in place, and reduced without a log-softmax copy of it.
    drawn_logits = (h @ w[drawn].T).add_(b[drawn] - log_expected[drawn])
    hit = drawn.unsqueeze(0) == y.unsqueeze(1)  # the target drawn as its own negative
    if label_smoothing > 0:  # every hit's logit is the same: taken out of the row's sum by count
        hits = hit.sum(-1)
        kept_sum = drawn_logits.sum(-1) - hits * (true_logit - log_expected[y])
    drawn_logits.masked_fill_(hit, float("-inf"))
    log_total = torch.logaddexp(true_logit, torch.logsumexp(drawn_logits, -1))
    nll = log_total - true_logit
    if label_smoothing > 0:
        spread = log_total - (true_logit + kept_sum) / (negatives - hits + 1)  # the target and the draws not it
        nll = (1 - label_smoothing) * nll + label_smoothing * spread
    return nll.mean() if nll.numel() else states.sum() * 0.0
