"""Offline recommendations (`Recommender`, `python -m trainer recommend`) against the served handler."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from conftest import run_cli
from handler_harness import Harness, extract_archive
from trainer.errors import ConfigError, DataError, RunDirError
from trainer.recommender import Recommendation, Recommender
from trainer.splits import history_for, load_data_dir


@pytest.fixture(scope="module")
def rec(tiny_run):
    return Recommender.from_run(tiny_run)


@pytest.fixture(scope="module")
def harness(tiny_run, tmp_path_factory):
    return Harness(extract_archive(tiny_run, tmp_path_factory.mktemp("mar")))


def random_requests(movies: list[int], n: int, seed: int) -> list[dict]:
    """Histories of 0-120 movies (some unknown ids, repeats), exclusions, and k up to past the catalog."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        history = [rng.choice(movies) if rng.random() > 0.05 else rng.randint(10**6, 10**6 + 9)
                   for _ in range(rng.randint(0, 120))]
        out.append({"movies": history, "exclude": rng.sample(movies, rng.randint(0, 5)),
                    "k": rng.choice([1, 5, 20, 60, len(movies)])})
    return out


def test_answers_equal_the_served_ones(rec, harness):
    requests = random_requests(rec.vocab.movies, 48, seed=0)
    served = harness.call(requests)  # one batch of 48, as TorchServe would hand the handler
    for req, (status, body) in zip(requests, served):
        assert status == 200
        ans = rec.recommend(req["movies"], req["k"], req["exclude"])
        assert ans.movies == body["movies"] and ans.unknown == body["unknown"]
        assert ans.scores == pytest.approx(body["scores"], abs=1e-5)  # other batch, other summation order
        assert not set(ans.movies) & (set(req["movies"]) | set(req["exclude"]))
    # k past what is left: fewer movies, no placeholder
    everything = rec.recommend(rec.vocab.movies[:-3], k=10)
    assert sorted(everything.movies) == sorted(rec.vocab.movies[-3:]) and len(everything.scores) == 3


def test_batches_in_chunks_keep_input_order(rec):
    requests = random_requests(rec.vocab.movies, 7, seed=1)
    histories, excludes = [r["movies"] for r in requests], [r["exclude"] for r in requests]
    whole = rec.recommend_batch(histories, 15, excludes)
    chunked = rec.recommend_batch(histories, 15, excludes, batch_size=3)
    for a, b, h, e in zip(whole, chunked, histories, excludes):
        assert a.movies == b.movies == rec.recommend(h, 15, e).movies
        assert a.scores == pytest.approx(b.scores, abs=1e-5)
    # numpy and tuple inputs are histories too
    assert rec.recommend(np.array(histories[0], dtype=np.int64), 15, tuple(excludes[0])).movies == whole[0].movies


@pytest.mark.parametrize("call, error, match", [
    (lambda r: r.recommend([1, 2], k=0), ConfigError, "k must be a positive int, got 0"),
    (lambda r: r.recommend([1, 2], k=True), ConfigError, "k must be a positive int, got True"),
    (lambda r: r.recommend_batch([[1]], batch_size=0), ConfigError, "batch_size must be a positive int"),
    (lambda r: r.recommend_batch([[1], [2]], excludes=[[3]]), ConfigError, "excludes has 1 entries for 2 histories"),
    (lambda r: r.recommend([1, "12"]), DataError, r"histories\[0\]\[1\] must be an int movie id, got '12'"),
    (lambda r: r.recommend([1, 2.0]), DataError, r"histories\[0\]\[1\] must be an int movie id, got 2.0"),
    (lambda r: r.recommend([False]), DataError, r"histories\[0\]\[0\] must be an int movie id, got False"),
    (lambda r: r.recommend([1], exclude=[2**64]), DataError,  # the handler answers it with a 400
     r"excludes\[0\]\[0\] is outside the 64-bit range of movie ids, got 18446744073709551616"),
    (lambda r: r.recommend("1 2 3"), DataError, r"histories\[0\] must be a sequence of int movie ids, got str"),
    (lambda r: r.recommend([1], exclude=5), DataError, r"excludes\[0\] must be a sequence of int movie ids, got int"),
    (lambda r: r.recommend({1, 2}), DataError, r"got set \(a set has no order; a history is oldest first\)"),
    (lambda r: r.recommend([1], k=np.float64(3)), ConfigError, r"k must be a positive int, got np.float64\(3.0\)"),
    # iterating a dict gives its keys: each user id would have been read as a history
    (lambda r: r.recommend_batch({7: [1, 2]}), ConfigError, r"histories is a dict; pass list\(histories.values\(\)\)"),
    (lambda r: r.recommend_batch(5), ConfigError, "histories must be a list of movie-id lists, got int"),
])
def test_bad_input_is_named(rec, call, error, match):
    with pytest.raises(error, match=match):
        call(rec)


def test_notebook_shapes_of_input_give_the_list_answers(rec):
    # what a notebook has at hand: numpy ints for k, a set of ids to exclude, a generator or a
    # pandas Series of histories; refused before (TypeError from len(), "must be a positive int")
    pd = pytest.importorskip("pandas")
    requests = random_requests(rec.vocab.movies, 5, seed=2)
    histories, excludes = [r["movies"] for r in requests], [r["exclude"] for r in requests]
    expected = rec.recommend_batch(histories, 12, excludes)
    assert rec.recommend_batch((h for h in histories), np.int64(12), [set(e) for e in excludes]) == expected
    assert rec.recommend_batch(pd.Series(histories, index=[9, 3, 5, 1, 7]), np.int32(12),
                               (e for e in excludes)) == expected
    one = rec.recommend(histories[0], np.uint8(12), frozenset(excludes[0]))  # a batch of 1: other sums
    assert (one.movies, one.unknown) == (expected[0].movies, expected[0].unknown)
    assert one.scores == pytest.approx(expected[0].scores, abs=1e-5)


def test_a_device_this_machine_lacks_is_named(tiny_run):
    # torch's own errors: "AssertionError: Torch not compiled with CUDA enabled", or a list of 20 device types
    import torch

    with pytest.raises(ConfigError, match="device 'mps': expected 'auto', 'cpu', 'cuda' or 'cuda:N'"):
        Recommender.from_run(tiny_run, device="mps")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="device cuda:0 requested but no CUDA device is available"):
            Recommender.from_run(tiny_run, device="cuda:0")
    auto = Recommender.from_run(tiny_run, device="auto")
    assert auto.device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_missing_run_is_named(tmp_path):
    with pytest.raises(RunDirError, match="no exported model"):
        Recommender.from_run(tmp_path)
    with pytest.raises(RunDirError, match="nowhere: no such run directory"):
        Recommender.from_run(tmp_path / "nowhere")
    (tmp_path / "train.pkl").write_bytes(b"")  # --run given the data directory
    with pytest.raises(RunDirError, match="holds split files \\(train.pkl\\): a data directory, not a run's"):
        Recommender.from_run(tmp_path)


def test_cli_prints_the_answer_of_a_data_users_history(rec, tiny_run, tiny_data):
    splits = load_data_dir(tiny_data)
    user = splits["test"].users[2]
    res = run_cli("recommend", "--run", str(tiny_run), "--data", str(tiny_data), "--user", str(user), "--k", "7")
    assert res.returncode == 0, res.stderr
    expected = rec.recommend(history_for(splits, "test")[user], 7)
    printed = Recommendation(**json.loads(res.stdout))
    assert (printed.movies, printed.unknown) == (expected.movies, expected.unknown) and len(expected.movies) == 7
    # written with 9 digits, as the server writes them: each reads back as the same float32
    assert np.array_equal(np.float32(printed.scores), np.float32(expected.scores))

    res = run_cli("recommend", "--run", str(tiny_run), "--data", str(tiny_data), "--user", "987654321")
    assert res.returncode == 2 and "user 987654321 has no training or validation events" in res.stderr
    assert res.stdout == ""


def test_k_past_the_catalog_returns_the_whole_ranking_without_ranking_k_columns(rec):
    # k was used as the width of the ranked tensors: 10**30 overflowed in torch (a TypeError
    # traceback from `recommend --input` lines), 10**9 asked for 16 GB.
    whole = rec.recommend([rec.vocab.movies[0]], k=rec.vocab.size)
    assert len(whole.movies) == rec.vocab.size - 2  # every movie but the one in the history
    assert rec.recommend([rec.vocab.movies[0]], k=10**30) == whole


def test_the_default_k_is_the_shipped_handlers():
    # recommend answers "what the server will answer"; a request without k gets the archive's default_k
    import yaml

    from trainer.archive import HANDLER_DIR, SESSIONS_CONFIG
    from trainer.recommender import DEFAULT_K

    for path in (HANDLER_DIR / "model-config.yaml", SESSIONS_CONFIG):
        assert yaml.safe_load(path.read_text())["handler"]["default_k"] == DEFAULT_K, path
