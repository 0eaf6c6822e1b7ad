"""Training windows and batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainer.batching import IGNORE_INDEX, drop_items, epoch_batches, shuffle_within, training_sequences
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


def test_user_weight_repeats_each_users_windows_by_their_history_length():
    vocab = Vocab(list(range(100, 400)), [1] * 300)
    histories = [[100 + i for i in range(n)] for n in (3, 10, 40, 90, 250)]
    plain = training_sequences(histories, vocab, max_len=10)
    unweighted = training_sequences(histories, vocab, 10, user_weight=0.0)
    assert len(plain) == 5 and [w.tolist() for w in unweighted] == [w.tolist() for w in plain]
    weighted = training_sequences(histories, vocab, max_len=10, user_weight=0.5)
    # round((n / 10) ** 0.5), at least 1: 3 -> 1, 10 -> 1, 40 -> 2, 90 -> 3, 250 -> 5; copies side by side, same window
    expected = [w for w, r in zip(plain, (1, 1, 2, 3, 5)) for _ in range(r)]
    assert len(weighted) == 12 and all(torch.equal(a, b) for a, b in zip(weighted, expected))
    # windows "all": every window of a user repeats as often (250 movies: 25 windows, each 5 times)
    all_windows = training_sequences(histories[-1:], vocab, max_len=10, windows="all", user_weight=0.5)
    assert len(all_windows) == 5 * len(training_sequences(histories[-1:], vocab, max_len=10, windows="all"))
    # unknown movies do not count: only in-vocabulary ones make a history heavy
    assert len(training_sequences([[1] * 400 + [100]], vocab, 10, user_weight=1.0)) == 1
    with pytest.raises(ValueError, match="user_weight must be >= 0"):
        training_sequences(histories, vocab, 10, user_weight=-1.0)


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


def test_shuffle_within_reorders_inside_blocks_and_keeps_the_start_token():
    rng = np.random.default_rng(0)
    seq = torch.tensor([0, *range(10, 40)])  # start token + 30 movies
    moved = set()
    for _ in range(200):
        out = shuffle_within(seq, 5, rng)
        assert out[0].item() == 0 and sorted(out.tolist()) == seq.tolist()
        # a movie stays in its block of 5 consecutive positions (wherever that block began)
        positions = {m: p for p, m in enumerate(out.tolist())}
        assert all(abs(positions[m] - p) < 5 for p, m in enumerate(seq.tolist()))
        moved |= {p for p, m in enumerate(out.tolist()) if m != seq[p].item()}
    assert moved == set(range(1, 31))  # block borders move between calls: every position gets reordered
    whole = [shuffle_within(seq, 50, rng) for _ in range(200)]
    assert any(w[-1].item() == 10 for w in whole)  # a window as long as the sequence: anywhere to anywhere
    mid = torch.tensor([7, 8, 9, 11])  # a window from mid-history has no start token: all of it moves
    assert any(shuffle_within(mid, 4, rng)[0].item() != 7 for _ in range(50))


def test_shuffled_batches_keep_each_rows_movies_and_replay_from_the_same_seed():
    seqs = [torch.tensor([0, *range(1 + 10 * i, 9 + 10 * i)]) for i in range(6)]
    batches = epoch_batches(seqs, batch_size=4, rng=np.random.default_rng(5), shuffle_window=50)
    reordered = 0
    for inputs, targets, ids in batches:
        for x, t, i in zip(inputs, targets, ids.tolist()):
            t = t[t != IGNORE_INDEX]
            assert x[0].item() == 0 and sorted(t.tolist()) == seqs[i][1:].tolist()
            assert x[1 : len(t)].tolist() == t[:-1].tolist()  # inputs and targets: one reordered sequence
            reordered += t.tolist() != seqs[i][1:].tolist()
    assert reordered >= 5
    again = epoch_batches(seqs, batch_size=4, rng=np.random.default_rng(5), shuffle_window=50)
    assert all(torch.equal(a, b) for x, y in zip(batches, again) for a, b in zip(x, y))  # resume replays it
    plain = epoch_batches(seqs, batch_size=4, rng=np.random.default_rng(5), shuffle_window=0)
    assert all(sorted(t[t != IGNORE_INDEX].tolist()) == t[t != IGNORE_INDEX].tolist() for _, ts, _ in plain for t in ts)
    with pytest.raises(ValueError, match="shuffle_window must be >= 0"):
        epoch_batches(seqs, 4, np.random.default_rng(0), shuffle_window=-1)


def test_drop_items_leaves_inputs_out_and_keeps_each_kept_inputs_own_target():
    rng = np.random.default_rng(3)
    seq = torch.tensor([0, *range(10, 60)])  # start token + 50 movies
    kept_shares = []
    for _ in range(200):
        x, t = drop_items(seq, 0.3, rng)
        assert len(x) == len(t) and x[0].item() == 0  # the first input always stays
        assert all(t[i].item() == x[i].item() + 1 if x[i] else t[i].item() == 10 for i in range(len(x)))
        assert x.tolist() == sorted(x.tolist())  # order kept: only gaps
        kept_shares.append(len(x) / 50)
    assert 0.65 < float(np.mean(kept_shares)) < 0.75  # about 1 - p of the 50 inputs (the first always)
    x, t = drop_items(seq, 0.0, rng)
    assert torch.equal(x, seq[:-1]) and torch.equal(t, seq[1:])
    short = torch.tensor([7, 8])  # one input: nothing to leave out
    assert [v.tolist() for v in drop_items(short, 0.9, rng)] == [[7], [8]]


def test_item_dropout_batches_differ_by_epoch_and_without_it_draw_no_random_numbers():
    seqs = [torch.tensor([0, *range(1 + 100 * i, 41 + 100 * i)]) for i in range(8)]
    rng = np.random.default_rng(1)
    first = epoch_batches(seqs, batch_size=4, rng=rng, item_dropout=0.25)
    second = epoch_batches(seqs, batch_size=4, rng=rng, item_dropout=0.25)
    rows = lambda batches: {int(i): x[x != 0].tolist() for xs, _, ids in batches for x, i in zip(xs, ids)}
    a, b = rows(first), rows(second)
    assert set(a) == set(range(8)) and any(a[i] != b[i] for i in a)  # other movies left out next epoch
    for inputs, targets, ids in first:
        for x, t, i in zip(inputs, targets, ids.tolist()):
            real = t != IGNORE_INDEX
            assert real.sum() < 40 and x[0].item() == 0  # some inputs left out, the start token kept
            full = seqs[i].tolist()
            assert all(full[full.index(m) + 1] == n for m, n in zip(x[real].tolist(), t[real].tolist()))
    # 0 draws nothing, so a run without item dropout replays exactly as before the option existed
    plain, state = np.random.default_rng(9), np.random.default_rng(9)
    epoch_batches(seqs, 4, plain, item_dropout=0.0)
    state.permutation(len(seqs)), state.permutation(2)
    assert plain.bit_generator.state == state.bit_generator.state
    with pytest.raises(ValueError, match="item_dropout must be in \\[0, 1\\)"):
        epoch_batches(seqs, 4, np.random.default_rng(0), item_dropout=1.0)
