"""The training targets: next movie, rest of the window (`--target rest`), and how a run picks one."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from conftest import run_cli, tiny_config
from trainer.batching import IGNORE_INDEX
from trainer.config import TrainConfig
from trainer.errors import ConfigError
from trainer.losses import rest_loss, training_loss
from trainer.train import train


def _batch(seed: int = 0, vocab: int = 13):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(4, 6, vocab, generator=gen, requires_grad=True)
    targets = torch.randint(0, vocab, (4, 6), generator=gen)
    targets[0, 2] = targets[0, 4]  # a movie twice in one rest: it weighs twice
    targets[1, 4:] = IGNORE_INDEX
    targets[2, 1:] = IGNORE_INDEX  # a single target: plain cross-entropy
    return logits, targets


def _reference(logits: torch.Tensor, targets: torch.Tensor, smoothing: float) -> torch.Tensor:
    """The same loss over the whole catalog: counts of the movies at t and after, normalised, smoothed."""
    vocab = logits.shape[-1]
    real = targets != IGNORE_INDEX
    counts = nn.functional.one_hot(targets.clamp(min=0), vocab).float() * real.unsqueeze(-1)
    rest = counts.flip(1).cumsum(1).flip(1)
    target = (1 - smoothing) * rest / rest.sum(-1, keepdim=True).clamp(min=1) + smoothing / vocab
    per_position = -(target * torch.log_softmax(logits, -1)).sum(-1)
    return per_position[real].mean()


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_rest_loss_is_the_cross_entropy_against_the_rest_of_each_row(smoothing):
    logits, targets = _batch()
    assert torch.allclose(rest_loss(logits, targets, smoothing), _reference(logits, targets, smoothing), atol=1e-6)


def test_a_row_with_one_target_is_the_plain_cross_entropy():
    logits, targets = _batch(1)
    single = targets.clone()
    single[:, 1:] = IGNORE_INDEX  # every row: its first position only
    want = nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX)(logits.flatten(0, 1), single.flatten())
    assert torch.allclose(rest_loss(logits, single), want, atol=1e-6)
    # with more of the row ahead, the first position's target is no longer one movie
    assert not torch.allclose(rest_loss(logits, targets), want, atol=1e-3)


def test_padding_gets_no_gradient_and_a_position_none_from_what_came_before():
    logits, targets = _batch(2)
    rest_loss(logits, targets).backward()
    grad = logits.grad
    assert grad[1, 4:].abs().sum() == 0 and grad[2, 1:].abs().sum() == 0
    assert grad[0, 5].abs().sum() > 0
    # the last real position of a row learns its own target only: the same gradient as plain cross-entropy
    last = logits.detach()[0, 5].clone().requires_grad_(True)
    nn.functional.cross_entropy(last.unsqueeze(0), targets[0, 5:6]).backward()
    real = int((targets != IGNORE_INDEX).sum())
    assert torch.allclose(grad[0, 5] * real, last.grad, atol=1e-6)


def test_bad_smoothing_is_refused_by_name():
    logits, targets = _batch()
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        rest_loss(logits, targets, 1.0)


def test_the_config_picks_the_loss():
    logits, targets = _batch(3)
    ids = torch.arange(4)
    cfg = TrainConfig(label_smoothing=0.1)
    plain = nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX, label_smoothing=0.1)(logits.flatten(0, 1), targets.flatten())
    assert torch.allclose(training_loss(cfg, None, torch.device("cpu"))(logits, targets, ids), plain)
    cfg.target = "rest"
    assert torch.allclose(training_loss(cfg, None, torch.device("cpu"))(logits, targets, ids), rest_loss(logits, targets, 0.1))


def test_target_settings_are_checked_by_name():
    with pytest.raises(ConfigError, match="--target must be next or rest, got 'all'"):
        TrainConfig(target="all").validate()
    with pytest.raises(ConfigError, match="--target rest cannot be combined with --distill"):
        TrainConfig(target="rest", distill=["some/run"]).validate()


def test_train_with_target_rest_end_to_end(tiny_data, tiny_run, tmp_path):
    run = tmp_path / "rest"
    train(tiny_config(tiny_data, shuffle_window=40, target="rest"), run, progress=False)
    assert json.loads((run / "config.json").read_text())["target"] == "rest"
    mine = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    plain = [json.loads(line) for line in (tiny_run / "history.jsonl").read_text().splitlines()]
    assert mine[0]["train_loss"] != plain[0]["train_loss"]
    res = run_cli("evaluate", "--data", str(tiny_data), "--run", str(run), "--split", "validate")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["map@20"] == pytest.approx(max(r["val"]["map@20"] for r in mine))
    # the flag is part of what the run learns: resuming cannot change it
    res = run_cli("train", "--data", str(tiny_data), "--out", str(run), "--resume", "--target", "next")
    assert res.returncode == 2 and "cannot change --target" in res.stderr, res.stderr
    res = run_cli("train", "--data", str(tiny_data), "--out", str(tmp_path / "bad"), "--target", "both")
    assert res.returncode == 2 and "invalid choice: 'both'" in res.stderr, res.stderr
