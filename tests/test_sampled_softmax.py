"""Sampled softmax (`train --negatives N`): its gradient estimates the full softmax's, its edge cases,
and a run trained with it that evaluates, exports and replays from its seed like any other."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from conftest import run_cli, tiny_config
from trainer.batching import IGNORE_INDEX
from trainer.checkpoint import read_history as history
from trainer.run_text import loss_text
from trainer.sampled_softmax import proposal, sampled_softmax_loss
from trainer.train import train

V, D = 40, 6


def _case(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    states = torch.randn(3, 5, D, generator=gen, requires_grad=True)
    output = nn.Linear(D, V)
    targets = torch.randint(1, V, (3, 5), generator=gen)
    targets[2, 3:] = IGNORE_INDEX  # a shorter window, padded
    counts = sorted(torch.randint(1, 500, (V - 1,), generator=gen).tolist(), reverse=True)
    return states, output, targets, counts


def test_the_proposal_is_the_counts_to_the_power_alpha_and_never_the_start_token():
    counts = [9, 4, 1]
    assert proposal(counts, 0.0).tolist() == pytest.approx([0, 1 / 3, 1 / 3, 1 / 3])
    assert proposal(counts, 1.0).tolist() == pytest.approx([0, 9 / 14, 4 / 14, 1 / 14])
    assert proposal(counts, 0.5).tolist() == pytest.approx([0, 3 / 6, 2 / 6, 1 / 6])
    with pytest.raises(ValueError, match="negative alpha must be in \\[0, 1\\], got 1.5"):
        proposal(counts, 1.5)
    with pytest.raises(ValueError, match="no movies"):
        proposal([], 0.5)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_with_many_draws_the_loss_and_its_gradient_approach_the_full_softmax(alpha):
    # The log(expected count) correction is what makes a skewed proposal (alpha 1) estimate the full
    # softmax; without it frequent movies would be over-counted as negatives.
    states, output, targets, counts = _case()
    full = nn.functional.cross_entropy(output(states).flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)
    (full_grad,) = torch.autograd.grad(full, states)
    torch.manual_seed(0)
    sampled = sampled_softmax_loss(states, output.weight, output.bias, targets, proposal(counts, alpha), 200_000)
    (sampled_grad,) = torch.autograd.grad(sampled, states)
    assert sampled.item() == pytest.approx(full.item(), rel=0.02)
    cosine = nn.functional.cosine_similarity(sampled_grad.flatten(), full_grad.flatten(), dim=0)
    assert cosine > 0.995, cosine
    assert sampled_grad[2, 3:].abs().sum() == 0  # padding learns nothing


def test_a_target_drawn_as_its_own_negative_is_left_out():
    states, output, targets, counts = _case()
    targets[targets != IGNORE_INDEX] = 7
    only_seven = torch.zeros(V)
    only_seven[7] = 1.0
    # Every draw is movie 7, every position's own target: nothing is left to compete with it.
    for smoothing in (0.0, 0.3):
        loss = sampled_softmax_loss(states, output.weight, output.bias, targets, only_seven, 16, smoothing)
        assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_label_smoothing_spreads_over_the_candidates_and_padding_counts_for_nothing():
    states, output, targets, counts = _case()
    probs = proposal(counts, 0.5)
    torch.manual_seed(1)
    plain = sampled_softmax_loss(states, output.weight, output.bias, targets, probs, 64)
    torch.manual_seed(1)
    smooth = sampled_softmax_loss(states, output.weight, output.bias, targets, probs, 64, 0.2)
    assert smooth.item() > plain.item() > 0  # the target alone is the cheapest distribution to be scored on
    padded = torch.cat([targets, torch.full((3, 4), IGNORE_INDEX)], 1)
    wider = torch.cat([states, torch.randn(3, 4, D)], 1)
    torch.manual_seed(1)
    assert sampled_softmax_loss(wider, output.weight, output.bias, padded, probs, 64).item() == pytest.approx(plain.item())
    with pytest.raises(ValueError, match="negatives must be >= 1, got 0"):
        sampled_softmax_loss(states, output.weight, output.bias, targets, probs, 0)


def test_a_sampled_run_trains_evaluates_and_replays_from_its_seed(tiny_data, tiny_run, tmp_path):
    run = tmp_path / "sampled"
    train(tiny_config(tiny_data, negatives=16, negative_alpha=0.75), run, progress=False)
    saved = json.loads((run / "config.json").read_text())
    assert (saved["negatives"], saved["negative_alpha"]) == (16, 0.75)
    assert loss_text(saved) == ", sampled softmax, 16 negatives a batch drawn by training count ** 0.75"  # benchmark tables
    assert loss_text(json.loads((tiny_run / "config.json").read_text())) == ""
    rows = history(run)
    assert rows[0]["train_loss"] != history(tiny_run)[0]["train_loss"]  # same seed: only the loss differs
    again = tmp_path / "again"
    train(tiny_config(tiny_data, negatives=16, negative_alpha=0.75), again, progress=False)
    assert [r["train_loss"] for r in history(again)] == [r["train_loss"] for r in rows]
    # Evaluation ranks the whole catalog, as for any run: the exported model scores every movie.
    res = run_cli("evaluate", "--data", str(tiny_data), "--run", str(run))
    assert res.returncode == 0, res.stderr
    best = max(rows, key=lambda r: r["val"]["map@20"])
    assert json.loads(res.stdout)["map@20"] > 0 and best["val"]["map@20"] > 0


@pytest.mark.parametrize("flags, message", [
    (["--negatives", "-1"], "--negatives must be >= 0 (0 = the full softmax), got -1"),
    (["--negatives", "8", "--negative-alpha", "2"], "--negative-alpha must be in [0, 1], got 2.0"),
    (["--negatives", "8", "--target", "rest"], "--negatives 8 cannot be combined with --target rest"),
    (["--negative-alpha", "0"], "--negative-alpha shapes the draws of --negatives N"),  # else read by nothing
])
def test_bad_sampling_flags_are_cli_errors_that_write_nothing(tiny_data, tmp_path, flags, message):
    res = run_cli("train", "--data", str(tiny_data), "--out", str(tmp_path / "r"), *flags)
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_sampling_cannot_be_combined_with_distillation(tiny_data, tiny_run, tmp_path):
    res = run_cli("train", "--data", str(tiny_data), "--out", str(tmp_path / "r"), "--negatives", "8",
                  "--distill", str(tiny_run))
    assert res.returncode == 2 and "--negatives 8 cannot be combined with --distill" in res.stderr, res.stderr
