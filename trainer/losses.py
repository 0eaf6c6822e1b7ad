"""What each training position learns: the next movie, the rest of its window, or the teachers too.

`--target next` (the default) is the usual cross-entropy on the movie that follows. `--target rest`
asks each position for every movie still ahead in its window, as one uniform soft target. It is
meant for reordered windows (`--shuffle-window`): when a window is reshuffled every epoch, its next
movie is a random draw from the movies not yet read, so the next-movie loss is a one-sample
estimate of exactly this target, and `rest` is its expectation. Same objective, no sampling noise
(on MovieLens-100k it scored higher on the test period; docs/presets.md gives the runs).
In the logged order `rest` is a different objective: everything the window's user watched next.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .batching import IGNORE_INDEX
from .config import TrainConfig
from .distill import SoftTargets, batch_targets, distill_loss
from .sampled_softmax import proposal, sampled_softmax_loss


def rest_loss(logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean over real positions of the cross-entropy against a uniform target over the rest of the row.

    Position t's target puts weight 1/n on each of its row's targets at positions t, t+1, ... (n of
    them; a movie that occurs twice there weighs twice). Those log-probabilities are gathered as a
    [B, T, T] table, so what this adds to plain cross-entropy's memory grows with the window, not
    with the catalog.

    Args:
        logits: FloatTensor[B, T, V].
        targets: LongTensor[B, T], IGNORE_INDEX at padding, which only ends a row.
        label_smoothing: as `nn.CrossEntropyLoss`'s: this share of each target spread over all movies.

    Returns:
        A scalar; where a row has a single real target it equals `nn.CrossEntropyLoss` there.
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    logp = torch.log_softmax(logits.float(), -1)
    real = targets != IGNORE_INDEX
    steps = targets.shape[1]
    # picked[b, t, j]: log-probability that position t gives to row b's target at position j
    picked = logp.gather(-1, targets.clamp(min=0).unsqueeze(1).expand(-1, steps, -1))
    ahead = torch.ones(steps, steps, dtype=torch.bool, device=targets.device).triu()  # j >= t
    weight = (ahead.unsqueeze(0) & real.unsqueeze(1)).to(logp.dtype)
    nll = -(picked * weight).sum(-1) / weight.sum(-1).clamp(min=1)
    # the smoothing term reduces the whole [B, T, V] tensor (and back-propagates through it): only when used
    data = nll if label_smoothing == 0 else (1 - label_smoothing) * nll - label_smoothing * logp.mean(-1)
    return data[real].sum() / real.sum().clamp(min=1)


def training_loss(cfg: TrainConfig, soft: SoftTargets | None, device: torch.device,
                  output: nn.Linear | None = None,
                  counts: list[int] | None = None) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss of a batch `(outputs, targets, ids)` for `cfg`: the next movie (cross-entropy), the rest
    of the window (`rest_loss`), or `distill_loss` with the teachers' soft targets, all from the model's
    logits; with `cfg.negatives`, the sampled softmax from its features (SessionGRU.features), scored by
    `output` against movies drawn by their training `counts` (Vocab.counts)."""
    if cfg.negatives:
        if output is None or counts is None:
            raise ValueError("a sampled loss needs the output layer and the training counts")
        probs = proposal(counts, cfg.negative_alpha).to(device)
        return lambda states, targets, ids: sampled_softmax_loss(states, output.weight, output.bias, targets, probs,
                                                                 cfg.negatives, cfg.label_smoothing)
    if soft is not None:
        return lambda logits, targets, ids: distill_loss(logits, targets, *batch_targets(soft, ids, device),
                                                         cfg.distill_weight, cfg.label_smoothing)
    if cfg.target == "rest":
        return lambda logits, targets, ids: rest_loss(logits, targets, cfg.label_smoothing)
    ce = nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX, label_smoothing=cfg.label_smoothing)
    return lambda logits, targets, ids: ce(logits.float().flatten(0, 1), targets.flatten())
