"""Training windows and batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainer.batching import IGNORE_INDEX, epoch_batches, training_sequences
from trainer.vocab import Vocab


def test_all_windows_make_every_event_a_target_exactly_once():
    vocab = Vocab(list(range(100, 130)), [1] * 30)
    history = [100 + (i % 30) for i in range(23)]
    last = training_sequences([history], vocab, max_len=5, windows="last")
    assert len(last) == 1 and last[0].tolist() == vocab.encode(history)[-6:]
    windows = training_sequences([history], vocab, max_len=5, windows="all")
    assert all(len(w) <= 6 for w in windows)
    targets = sorted(t for w in windows for t in w[1:].tolist())
    assert targets == sorted(vocab.encode(history))
    assert windows[-1][0].item() == 0  # the first window begins with the start token
    with pytest.raises(ValueError):
        training_sequences([history], vocab, 5, windows="some")


def test_batches_pad_inputs_and_ignore_padded_targets():
    seqs = [torch.tensor([0, 1, 2, 3]), torch.tensor([0, 4]), torch.tensor([0, 5, 6])]
    batches = epoch_batches(seqs, batch_size=8, rng=np.random.default_rng(0))
    assert len(batches) == 1
    inputs, targets, ids = batches[0]
    assert inputs.shape == targets.shape == (3, 3)
    assert (targets == IGNORE_INDEX).sum() == 3  # 9 positions, 6 real targets
    got = {tuple(t[t != IGNORE_INDEX].tolist()) for t in targets}
    assert got == {(1, 2, 3), (4,), (5, 6)}
    # ids name each row's sequence: its targets are that sequence's movies after the first
    for row, i in zip(targets, ids.tolist()):
        assert row[row != IGNORE_INDEX].tolist() == seqs[i][1:].tolist()
