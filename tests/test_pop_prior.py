"""train --pop-prior: a fixed prior on the scores wherever the model ranks, never in the training loss."""

from __future__ import annotations

import json
import math

import pytest
import torch

from tests.conftest import tiny_config
from trainer.checkpoint import read_history
from trainer.config import ModelConfig
from trainer.errors import ConfigError
from trainer.export import load_scripted, torchscript_quiet
from trainer.model import SessionGRU
from trainer.pop_prior import popularity_prior
from trainer.recommend import pad_batch
from trainer.recommender import Recommender
from trainer.serving_gru import ServingGRU
from trainer.train import train
from trainer.vocab import Vocab


def test_the_prior_is_the_weighted_log_count_and_zero_for_the_start_token():
    prior = popularity_prior(0.3, [9, 1, 0])
    assert prior.tolist() == pytest.approx([0.0, 0.3 * math.log(10), 0.3 * math.log(2), 0.0])
    assert popularity_prior(0.0, [9, 1]).tolist() == [0.0, 0.0, 0.0]


def _model_with_prior(weight: float) -> tuple[SessionGRU, torch.Tensor]:
    torch.manual_seed(0)
    model = SessionGRU(ModelConfig(vocab_size=40, emb_dim=8, hidden_dim=8)).eval()
    prior = popularity_prior(weight, list(range(39, 0, -1)))
    model.set_prior(prior)
    return model, prior


def test_ranking_outputs_carry_the_prior_and_training_logits_do_not():
    model, prior = _model_with_prior(0.5)
    movies, lens = pad_batch([[0, 3, 5], [0, 7]])
    with torch.inference_mode():
        raw = model.output(model.features(movies))  # training's logits
        assert torch.equal(model(movies), raw)
        picked = raw[torch.arange(2), lens - 1]
        torch.testing.assert_close(model.predict_next(movies, lens), picked + prior)
        torch.testing.assert_close(model.scores(model.encode(movies, lens)), picked + prior)


def test_the_export_folds_the_prior_into_the_output_bias():
    model, prior = _model_with_prior(0.5)
    with torchscript_quiet():
        served = torch.jit.script(ServingGRU(model))
    movies, lens = pad_batch([[0, 3, 5], [0, 7, 7, 2]])
    with torch.inference_mode():
        expected = model.predict_next(movies, lens)
        torch.testing.assert_close(served.predict_next(movies, lens), expected, atol=1e-5, rtol=1e-5)
        state = served.encode(movies, lens)
        torch.testing.assert_close(served.scores(state), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(served.output.bias, model.output.bias.detach() + prior)
    plain = _model_with_prior(0.0)[0]  # zeros: the layer as trained, no copy
    assert ServingGRU(plain).output is plain.output


def test_a_prior_of_the_wrong_size_is_refused():
    model, _ = _model_with_prior(0.5)
    with pytest.raises(ValueError, match=r"shape \(39,\) for 40 outputs"):
        model.set_prior(torch.zeros(39))


def test_a_run_with_a_prior_trains_as_without_and_serves_the_prior(tiny_data, tiny_run, tmp_path):
    weight = 0.7
    run = tmp_path / "prior"
    train(tiny_config(tiny_data, pop_prior=weight), run, progress=False)
    assert json.loads((run / "config.json").read_text())["pop_prior"] == weight
    # The same seed trains the same weights: the prior is in no loss.
    assert [r["train_loss"] for r in read_history(run)] == [r["train_loss"] for r in read_history(tiny_run)]
    # What is exported and served is the trained layer plus the prior.
    best = torch.load(run / "best.pt", weights_only=True)
    raw = SessionGRU(ModelConfig(**best["config"]["model"])).eval()
    raw.load_state_dict(best["model"])
    vocab = Vocab.load(run / "vocab.json")
    exported = load_scripted(run / "model.pt")
    movies, lens = pad_batch([[0, 1, 2, 3], [0, 5]])
    with torch.inference_mode():
        torch.testing.assert_close(exported.predict_next(movies, lens),
                                   raw.predict_next(movies, lens) + popularity_prior(weight, vocab.counts),
                                   atol=1e-4, rtol=1e-5)


def test_a_large_prior_recommends_the_most_watched_unseen_movies(tiny_data, tmp_path):
    run = tmp_path / "popular"
    train(tiny_config(tiny_data, pop_prior=1000.0, epochs=1), run, progress=False)
    recommender = Recommender.from_run(run)
    vocab = Vocab.load(run / "vocab.json")
    by_count = sorted(range(len(vocab.movies)), key=lambda i: -vocab.counts[i])
    history = [vocab.movies[by_count[0]], vocab.movies[by_count[2]]]
    expected = [vocab.movies[i] for i in by_count if vocab.movies[i] not in history][:5]
    counts = {vocab.movies[i]: vocab.counts[i] for i in by_count}
    got = recommender.recommend(history, k=5).movies
    assert [counts[m] for m in got] == [counts[m] for m in expected]  # ties may swap equal counts


def test_a_prior_that_is_not_finite_is_refused(tiny_data, tmp_path):
    with pytest.raises(ConfigError, match="pop.prior"):
        train(tiny_config(tiny_data, pop_prior=float("nan")), tmp_path / "nan", progress=False)
    assert not (tmp_path / "nan").exists()
