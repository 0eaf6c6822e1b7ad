"""Baselines are exported and scored exactly like the GRU."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from trainer.baselines import build_baseline
from trainer.recommend import pad_batch, recommend


def test_pop_recommends_most_popular_unseen():
    seqs = [[1, 2, 3], [1, 2], [1], [4]]
    model = build_baseline("pop", seqs, vocab_size=6)
    idx, _ = recommend(model.predict_next(*pad_batch([[0, 1]])), [[1]], 3)
    assert idx[0].tolist() == [2, 3, 4]


def test_sr_follows_what_came_next():
    # 3 is always followed by 5 one step later; 1 (popular) never after 3.
    seqs = [[3, 5, 1], [3, 5], [1, 1, 1, 2], [1, 2], [3, 5, 2]]
    model = build_baseline("sr", seqs, vocab_size=7, window=1, n_last=1)
    idx, _ = recommend(model.predict_next(*pad_batch([[0, 4, 3]])), [[4, 3]], 1)
    assert idx[0, 0] == 5


def test_sknn_votes_with_similar_users():
    seqs = [[1, 2, 3, 6], [1, 2, 3, 6], [4, 5, 2], [4, 5, 1]]
    model = build_baseline("sknn", seqs, vocab_size=7, k=2)
    idx, _ = recommend(model.predict_next(*pad_batch([[0, 1, 2, 3]])), [[1, 2, 3]], 1)
    assert idx[0, 0] == 6
    cold = model.predict_next(*pad_batch([[0]]))  # no history: popularity prior only
    assert int(cold[0, 1:].argmax()) + 1 in (1, 2)


@pytest.mark.parametrize("name", ["pop", "sr", "sknn"])
def test_baseline_run_is_evaluated_like_the_gru(tiny_data, tmp_path, name):
    run = tmp_path / name
    res = run_cli("baseline", "--name", name, "--data", str(tiny_data), "--out", str(run), "--min-count", "2")
    assert res.returncode == 0, res.stderr
    fitted = json.loads(res.stdout.strip().splitlines()[-1])
    out = json.loads(run_cli("evaluate", "--data", str(tiny_data), "--run", str(run), "--split", "validate").stdout)
    assert out["map@20"] == pytest.approx(fitted["val"]["map@20"], abs=1e-9)
    assert out["users"] == fitted["val"]["users"] > 0
    # servable statelessly, but a session archive needs a GRU state to step
    assert run_cli("archive", "--run", str(run), "--out", str(tmp_path / "store")).returncode == 0
    res = run_cli("archive", "--run", str(run), "--out", str(tmp_path / "store"), "--sessions")
    assert res.returncode == 2 and "session archives need the GRU's step()" in res.stderr
