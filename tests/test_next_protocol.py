"""`evaluate --protocol next`: each movie of a split predicted from everything before it, as a session is
answered after each event; a user's metrics are the mean over their movies."""

from __future__ import annotations

import json
import math

import pytest
import torch

from conftest import run_cli
from trainer.evaluate import evaluate_run
from trainer.evaluation import build_cases, build_next_cases, evaluate_scorer
from trainer.metrics import TARGET_PAD
from trainer.prepare import prepare_log
from trainer.recommend import encode_history
from trainer.recommender import Recommender
from trainer.splits import Split, history_for, load_data_dir
from trainer.synthetic import synthetic_log
from trainer.vocab import Vocab


def test_cases_grow_the_history_one_movie_at_a_time_and_mask_it_all():
    vocab = Vocab([10, 20, 30, 40, 50], [5, 4, 3, 2, 1])  # indices 1..5
    history = {7: [10, 20, 30]}
    cases = build_next_cases(history, Split([7, 8, 9], [[40, 10, 99], [], [50]]), vocab, max_len=4)
    assert cases.users == [7, 9] and cases.skipped_users == 1
    assert cases.owner.tolist() == [0, 0, 0, 1] and cases.targets_per_user() == [3, 1]
    # what the GRU reads of everything before each event (the last max_len, as served); all of it masked
    assert cases.inputs[:3] == [[0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 1]]
    assert [sorted(set(s)) for s in cases.seen[:3]] == [[1, 2, 3], [1, 2, 3, 4], [1, 2, 3, 4]]
    # 10 was seen before its second showing (a certain miss, as served); 99 is not in the vocabulary
    assert cases.targets[:, 0].tolist() == [4, 1, TARGET_PAD, 5] and cases.n_targets.tolist() == [1, 1, 1, 1]
    assert cases.inputs[3] == [0] and cases.seen[3] == []


@pytest.mark.parametrize("max_len", [2, 5, 40])
def test_each_case_is_what_encode_history_makes_of_everything_before_its_movie(tiny_data, tiny_run, max_len):
    splits = load_data_dir(tiny_data)
    history, vocab = history_for(splits, "test"), Recommender.from_run(tiny_run).vocab
    cases = build_next_cases(history, splits["test"], vocab, max_len)
    expected = [encode_history(history.get(user, []) + movies[:j], vocab.index_of, max_len)
                for user, movies in zip(splits["test"].users, splits["test"].movies) for j in range(len(movies))]
    assert len(cases.inputs) == len(cases.seen) == len(expected) > 100
    assert [(inp, list(seen)) for inp, seen in zip(cases.inputs, cases.seen)] == expected


def test_a_users_metrics_are_the_mean_over_their_movies():
    vocab = Vocab(list(range(10, 310, 10)), list(range(30, 0, -1)))  # movie 10 * i is index i
    cases = build_next_cases({7: [10]}, Split([7, 9], [[40, 30, 20], [50]]), vocab, max_len=10)
    # one ranking whatever the input: index 1, 2, 3, ... (the start token, index 0, is never recommended)
    scorer = lambda movies, lens: -torch.arange(31, dtype=torch.float32).repeat(len(lens), 1)
    per_user: dict[str, torch.Tensor] = {}
    result = evaluate_scorer(scorer, cases, k=20, per_user=per_user)
    # user 7, 10 seen: 40 ranks 3rd (after 20, 30); then, 40 seen too, 30 ranks 2nd; then 20 1st. User 9: 50 5th.
    assert per_user["mrr@20"].tolist() == pytest.approx([(1 / 3 + 1 / 2 + 1) / 3, 1 / 5])
    assert per_user["precision@1"].tolist() == pytest.approx([1 / 3, 0.0])
    assert per_user["ndcg@10"][0].item() == pytest.approx((1 / math.log2(4) + 1 / math.log2(3) + 1) / 3)
    assert result["users"] == 2 and result["mrr@20"] == pytest.approx(((1 / 3 + 1 / 2 + 1) / 3 + 1 / 5) / 2)


def test_next_equals_what_is_served_after_each_event(tiny_data, tiny_run):
    """An independent route: the Recommender (the handler's path) asked after every event of the split."""
    splits = load_data_dir(tiny_data)
    history = history_for(splits, "test")
    rec = Recommender.from_run(tiny_run)
    mrr, hr10 = [], []
    for user, movies in zip(splits["test"].users, splits["test"].movies):
        if not movies:
            continue
        before, ranks = list(history.get(user, [])), []
        answers = rec.recommend_batch([before + movies[:j] for j in range(len(movies))], k=20)
        for movie, answer in zip(movies, answers):
            ranks.append(answer.movies.index(movie) + 1 if movie in answer.movies else None)
        mrr.append(sum(1 / r for r in ranks if r) / len(ranks))
        hr10.append(sum(1 for r in ranks if r and r <= 10) / len(ranks))
    got = evaluate_run(tiny_data, tiny_run, "test", protocol="next")
    assert got["users"] == len(mrr) > 50 and got["protocol"] == "next"
    assert got["mrr@20"] == pytest.approx(sum(mrr) / len(mrr), abs=1e-6)
    assert got["hr@10"] == pytest.approx(sum(hr10) / len(hr10), abs=1e-6)
    assert got["mrr@20"] != evaluate_run(tiny_data, tiny_run, "test")["mrr@20"]  # the set protocol differs here


def test_with_one_movie_per_user_next_is_the_set_protocol(tmp_path, tiny_run):
    data = tmp_path / "loo"
    prepare_log(synthetic_log(n_users=200, n_movies=150, n_clusters=5, n_series=15, seed=4), data, "leave-one-out",
                source="synthetic")
    splits = load_data_dir(data)
    vocab = Recommender.from_run(tiny_run).vocab
    scorer = Recommender.from_run(tiny_run).model.predict_next
    for split in ("validate", "test"):
        args = (history_for(splits, split), splits[split], vocab, 40)
        assert evaluate_scorer(scorer, build_next_cases(*args)) == evaluate_scorer(scorer, build_cases(*args))


def test_cli_protocol_flag(tiny_data, tiny_run, tmp_path):
    out = tmp_path / "per_user.json"
    res = run_cli("evaluate", "--data", str(tiny_data), "--run", str(tiny_run), "--protocol", "next",
                  "--per-user", str(out))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["protocol"] == "next" and json.loads(out.read_text())["protocol"] == "next"
    splits = load_data_dir(tiny_data)
    events = {u: len(m) for u, m in zip(splits["test"].users, splits["test"].movies) if m}
    per_user = json.loads(out.read_text())
    assert dict(zip(per_user["users"], per_user["targets"])) == events  # each user's event count
    res = run_cli("evaluate", "--data", str(tiny_data), "--run", str(tiny_run), "--protocol", "each")
    assert res.returncode == 2 and "invalid choice: 'each'" in res.stderr
