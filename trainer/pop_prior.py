"""The popularity prior (`train --pop-prior W`): W x log(1 + training count) added to every movie's score
wherever the model ranks (validation, `evaluate`, the export, the handler), never to the training loss.

Why at inference only: the output layer's bias already learns how popular each movie is, and would
learn away a prior added inside the loss. What it cannot learn is what label smoothing takes from it:
smoothing trains the scores toward a share spread evenly over the catalog, which lifts rarely watched
movies, and the prior gives popular ones that share back (logit adjustment; Menon et al. 2021 subtract
such a term for balanced accuracy, here it is added for accuracy on the logged distribution). On the
ml-1m preset's --amp runs at seeds 7 and 8 (label smoothing 0.1), validation map@20 rose from 0.1426 to
0.1435 at W = 0.15, the best of 0-0.4 (docs/presets.md has every figure). W < 0 lowers popular movies.

It is a constant of the run (W and the vocabulary's counts), so the export folds it into the output
layer's bias: serving pays nothing for it. The checkpoints hold the trained weights without it (a warm
start takes those). A teacher's soft targets (--distill) leave it out too: they are its trained distribution,
since the student adds its own prior wherever it ranks and would otherwise count it twice.
"""

from __future__ import annotations

from typing import Sequence

import torch


def popularity_prior(weight: float, counts: Sequence[int]) -> torch.Tensor:
    """The scores' prior over the model's outputs.

    Args:
        weight: W; 0 gives zeros (the model's scores as they are).
        counts: each vocabulary movie's training count, in index order from index 1 (`Vocab.counts`).

    Returns:
        FloatTensor[len(counts) + 1]: W x log(1 + count), with 0 for index 0 (the start token, never ranked).
    """
    prior = torch.zeros(len(counts) + 1)
    if weight:
        prior[1:] = weight * torch.log1p(torch.as_tensor(list(counts), dtype=torch.float32))
    return prior
