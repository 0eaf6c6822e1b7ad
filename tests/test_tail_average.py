"""The tail average (`--tail-average`): the mean of the last N end-of-epoch weights trained at a lowered lr,
judged by validation beside the weights themselves, without changing the course of training."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from conftest import run_cli, tiny_config
from trainer.checkpoint import read_history as history
from trainer.config import ModelConfig
from trainer.model import SessionGRU
from trainer.optim import EpochAverage
from trainer.pop_prior import popularity_prior
from trainer.train import train


def noisy(data, **overrides):
    """A high lr, lowered after every epoch without a better validation map@20: the weights jump
    around the optimum, which is where their mean ranks better than any one of them."""
    settings = dict(epochs=10, lr=0.3, lr_schedule="plateau", lr_patience=0, lr_decay=0.7, batch_size=16,
                    patience=20, tail_average=3)
    return tiny_config(data, **{**settings, **overrides})


def _fill(model: nn.Module, value: float) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)


def test_the_average_is_the_mean_of_the_last_n_epochs():
    model = nn.Linear(3, 2)
    average = EpochAverage(model, size=2)
    for epoch, value in [(4, 1.0), (5, 2.0), (6, 6.0)]:
        _fill(model, value)
        average.add(model, epoch)
    assert average.epochs == [5, 6] and average.ready
    assert all(torch.equal(p, torch.full_like(p, 4.0)) for p in average.model.parameters())
    assert not average.model.training and all(not p.requires_grad for p in average.model.parameters())


def test_one_epoch_is_not_an_average_and_the_prior_is_not_averaged():
    model = SessionGRU(ModelConfig(vocab_size=20, emb_dim=8, hidden_dim=8, tied=True))
    model.set_prior(popularity_prior(0.15, [0] + [3] * 18))
    prior = model.prior.clone()
    average = EpochAverage(model, size=3)
    _fill(model, 0.5)
    average.add(model, 1)
    assert not average.ready
    _fill(model, 1.5)
    average.add(model, 2)
    assert average.model.output.weight is average.model.embedding.weight  # still one tied parameter
    assert torch.equal(average.model.embedding.weight, torch.full_like(average.model.embedding.weight, 1.0))
    assert torch.equal(average.model.prior, prior)
    with pytest.raises(ValueError, match="at least 2 epochs, got 1"):
        EpochAverage(model, size=1)


def test_training_keeps_the_better_of_the_weights_and_their_average(tiny_data, tmp_path):
    run = tmp_path / "tail"
    train(noisy(tiny_data), run, progress=False)
    rows = history(run)
    lowered = [r["epoch"] for r in rows if r["lr"] < 0.3]
    for r in rows:
        if "val_average" not in r:
            assert r["epoch"] <= lowered[0]  # judged only once two epochs at a lowered lr are kept
            continue
        first, last = r["average_of"]
        assert first in lowered and last == r["epoch"] and last - first <= 2
        assert r["val"] == max(r["val_weights"], r["val_average"], key=lambda v: v["map@20"])
    chose = [r["epoch"] for r in rows if "val_average" in r and r["val"] == r["val_average"]]
    assert chose, rows  # the premise of this data: noisy weights, whose mean wins some epochs
    best = torch.load(run / "best.pt", weights_only=True)
    ckpt = torch.load(run / "ckpt.pt", weights_only=False)
    assert best["val"] == max((r["val"] for r in rows), key=lambda v: v["map@20"])
    # This run's best is the average at its last epoch: best.pt holds the mean of the kept weights,
    # the newest of which are the last epoch's own (ckpt.pt).
    assert best["epoch"] == rows[-1]["epoch"] in chose
    kept = ckpt["tail"]["kept"]
    assert all(torch.equal(kept[-1][k], ckpt["model"][k]) for k in kept[-1])
    for name in kept[0]:
        assert torch.allclose(best["model"][name], torch.stack([k[name] for k in kept]).mean(0))
    # what is exported and served scores what validation judged
    res = run_cli("evaluate", "--data", str(tiny_data), "--run", str(run), "--split", "validate")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["map@20"] == pytest.approx(best["val"]["map@20"], abs=1e-9)


def test_training_runs_the_same_course_with_and_without_it(tiny_data, tmp_path):
    plain, tail = tmp_path / "plain", tmp_path / "tail"
    train(noisy(tiny_data, tail_average=0), plain, progress=False)
    train(noisy(tiny_data), tail, progress=False)
    assert [(r["lr"], r["train_loss"]) for r in history(plain)] == [(r["lr"], r["train_loss"]) for r in history(tail)]
    assert [r["val"] for r in history(plain)] == [r.get("val_weights", r["val"]) for r in history(tail)]
    a, b = (torch.load(r / "ckpt.pt", weights_only=False)["model"] for r in (plain, tail))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_restores_the_kept_epochs(tiny_data, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train(noisy(tiny_data), straight, progress=False)
    train(noisy(tiny_data, epochs=8), resumed, progress=False)
    train(noisy(tiny_data), resumed, resume=True, progress=False)
    keys = ("val", "val_weights", "val_average", "average_of")
    assert [{k: r.get(k) for k in keys} for r in history(resumed)] == \
        [{k: r.get(k) for k in keys} for r in history(straight)]
    a, b = (torch.load(r / "best.pt", weights_only=True) for r in (straight, resumed))
    assert a["epoch"] == b["epoch"] and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


@pytest.mark.parametrize("flags, message", [
    (["--tail-average", "1", "--lr-schedule", "plateau"], "--tail-average must be 0 (off) or >= 2 epochs, got 1"),
    (["--tail-average", "-3", "--lr-schedule", "plateau"], "--tail-average must be 0 (off) or >= 2 epochs, got -3"),
    (["--tail-average", "3", "--lr-schedule", "plateau", "--ema", "0.9"], "cannot be combined with --ema 0.9"),
    (["--tail-average", "3"], "needs an lr that is lowered")])
def test_bad_tail_average_flags_are_cli_errors(tiny_data, tmp_path, flags, message):
    res = run_cli("train", "--data", str(tiny_data), "--out", str(tmp_path / "r"), *flags)
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert not (tmp_path / "r").exists()
