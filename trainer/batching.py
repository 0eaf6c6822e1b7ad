"""Training examples and length-bucketed mini-batches."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from .config import WINDOWS
from .recommend import START_INDEX
from .vocab import Vocab

IGNORE_INDEX = -100  # cross-entropy skips padded target positions


def training_sequences(movies: list[list[int]], vocab: Vocab, max_len: int, windows: str = "last",
                       user_weight: float = 0.0) -> list[torch.Tensor]:
    """Index sequences (start token + in-vocab movies) whose input part is at most `max_len` long.

    `windows="last"` keeps each user's LAST `max_len` positions (the notebook); `"all"` cuts the
    whole history into consecutive windows (overlapping by one token, so every event is a target
    exactly once). A window that starts mid-history has no start token, exactly like a served
    history longer than `max_len`. Users with nothing to predict are left out.

    With `user_weight` > 0, each window of a user with n in-vocabulary movies is listed round((n /
    max_len) ** user_weight) times (at least once), copies side by side, so an epoch weighs that user more.
    """
    if windows not in WINDOWS:
        raise ValueError(f"windows must be one of {WINDOWS}, got {windows!r}")
    if user_weight < 0:
        raise ValueError(f"user_weight must be >= 0 (0 = every window once), got {user_weight}")
    seqs = []
    for seq in movies:
        idx = [START_INDEX] + vocab.encode(seq)
        copies = max(1, round(((len(idx) - 1) / max_len) ** user_weight)) if user_weight else 1
        end = len(idx)
        while end >= 2:
            seqs.extend([torch.tensor(idx[max(0, end - max_len - 1) : end], dtype=torch.long)] * copies)
            if windows == "last":
                break
            end -= max_len
    return seqs


def shuffle_within(seq: torch.Tensor, window: int, rng: np.random.Generator) -> torch.Tensor:
    """`seq` with its movies shuffled inside blocks of `window` consecutive positions.

    The blocks start at a random offset, so their borders move from epoch to epoch; a `window` as
    long as the sequence shuffles all of it. A leading start token stays first: it marks the
    beginning of a history, which no reordering changes.
    """
    head = 1 if len(seq) and int(seq[0]) == START_INDEX else 0
    n = len(seq) - head
    if n < 2:
        return seq
    offset = int(rng.integers(window)) if window < n else 0
    # Sort by block, randomly inside a block: one argsort instead of a permutation per block.
    keys = (np.arange(n) + offset) // window + rng.random(n) * 0.5
    order = np.concatenate([np.arange(head), head + np.argsort(keys, kind="stable")])
    return seq[torch.from_numpy(order)]


def drop_items(seq: torch.Tensor, p: float, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """`(inputs, targets)` of one training sequence with each input movie after the first left out with
    probability `p`; a kept input's target stays the movie that followed it.

    After Tan, Xu & Liu (2016), who drop whole clicks from training sessions as noise: the GRU learns
    to predict the next movie from a history with gaps, as a served history has (movies watched
    elsewhere, or filtered out of the vocabulary). A left-out movie still counts as the target of the
    input before it; the first input (the start token, or a mid-history window's first movie) stays,
    so every row keeps a position to train.
    """
    inputs, targets = seq[:-1], seq[1:]
    if p <= 0 or len(inputs) < 2:
        return inputs, targets
    keep = rng.random(len(inputs)) >= p
    keep[0] = True
    kept = torch.from_numpy(np.flatnonzero(keep))
    return inputs[kept], targets[kept]


def epoch_batches(seqs: list[torch.Tensor], batch_size: int, rng: np.random.Generator, shuffle_window: int = 0,
                  item_dropout: float = 0.0) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Shuffled `(inputs LongTensor[B,T], targets LongTensor[B,T], ids LongTensor[B])` batches for one
    epoch; `ids` are the rows' positions in `seqs` (distillation looks up their soft targets).

    Sequences are shuffled, then sorted by length inside windows of 50 batches so that a batch
    holds similar lengths (little padding), and the batch order is shuffled again. With
    `shuffle_window` > 0, each sequence's movies are also reordered inside blocks of that many
    positions (`shuffle_within`), afresh every epoch; with `item_dropout` > 0, input movies are left
    out with that probability (`drop_items`), afresh every epoch, after any reordering.
    """
    if shuffle_window < 0:
        raise ValueError(f"shuffle_window must be >= 0 (0 = keep the order), got {shuffle_window}")
    if not 0.0 <= item_dropout < 1.0:
        raise ValueError(f"item_dropout must be in [0, 1) (0 = keep every movie), got {item_dropout}")
    if shuffle_window > 1:
        seqs = [shuffle_within(s, shuffle_window, rng) for s in seqs]
    # drop_items draws no random numbers at 0, so runs from before item dropout replay exactly.
    pairs = [drop_items(s, item_dropout, rng) for s in seqs]
    order = rng.permutation(len(seqs))
    window = batch_size * 50
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: len(pairs[i][0]))
        for b in range(0, len(chunk), batch_size):
            ids = chunk[b : b + batch_size]
            rows = [pairs[i] for i in ids]
            inputs = pad_sequence([x for x, _ in rows], batch_first=True, padding_value=START_INDEX)
            targets = pad_sequence([t for _, t in rows], batch_first=True, padding_value=IGNORE_INDEX)
            batches.append((inputs, targets, torch.as_tensor(ids, dtype=torch.long)))
    return [batches[i] for i in rng.permutation(len(batches))]
