"""Training examples and length-bucketed mini-batches."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from .config import WINDOWS
from .recommend import START_INDEX
from .vocab import Vocab

IGNORE_INDEX = -100  # cross-entropy skips padded target positions


def training_sequences(movies: list[list[int]], vocab: Vocab, max_len: int, windows: str = "last") -> list[torch.Tensor]:
    """Index sequences (start token + in-vocab movies) whose input part is at most `max_len` long.

    `windows="last"` keeps each user's LAST `max_len` positions (the notebook); `"all"` cuts the
    whole history into consecutive windows (overlapping by one token, so every event is a target
    exactly once). A window that starts mid-history has no start token, exactly like a served
    history longer than `max_len`. Users with nothing to predict are left out.
    """
    if windows not in WINDOWS:
        raise ValueError(f"windows must be one of {WINDOWS}, got {windows!r}")
    seqs = []
    for seq in movies:
        idx = [START_INDEX] + vocab.encode(seq)
        end = len(idx)
        while end >= 2:
            seqs.append(torch.tensor(idx[max(0, end - max_len - 1) : end], dtype=torch.long))
            if windows == "last":
                break
            end -= max_len
    return seqs


def epoch_batches(seqs: list[torch.Tensor], batch_size: int,
                  rng: np.random.Generator) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Shuffled `(inputs LongTensor[B,T], targets LongTensor[B,T], ids LongTensor[B])` batches for one
    epoch; `ids` are the rows' positions in `seqs` (distillation looks up their soft targets).

    Sequences are shuffled, then sorted by length inside windows of 50 batches so that a batch
    holds similar lengths (little padding), and the batch order is shuffled again.
    """
    order = rng.permutation(len(seqs))
    window = batch_size * 50
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: len(seqs[i]))
        for b in range(0, len(chunk), batch_size):
            ids = chunk[b : b + batch_size]
            rows = [seqs[i] for i in ids]
            inputs = pad_sequence([s[:-1] for s in rows], batch_first=True, padding_value=START_INDEX)
            targets = pad_sequence([s[1:] for s in rows], batch_first=True, padding_value=IGNORE_INDEX)
            batches.append((inputs, targets, torch.as_tensor(ids, dtype=torch.long)))
    return [batches[i] for i in rng.permutation(len(batches))]
