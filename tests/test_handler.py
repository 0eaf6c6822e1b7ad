"""The TorchServe handler, driven through `handle(batch, context)` from the unpacked archive."""

from __future__ import annotations

import gzip
import json

import pytest

from conftest import run_cli
from handler.request_parser import Limits
from handler_harness import Harness, extract_archive
from trainer.evaluate import load_exported
from trainer.evaluation import build_cases, rank_cases
from trainer.recommend import NO_ITEM, pad_batch, recommend
from trainer.splits import history_for, load_data_dir


@pytest.fixture(scope="module")
def model_dir(tiny_run, tmp_path_factory):
    return extract_archive(tiny_run, tmp_path_factory.mktemp("mar"))


@pytest.fixture(scope="module")
def harness(model_dir):
    return Harness(model_dir)


@pytest.fixture(scope="module")
def vocab(tiny_run):
    return load_exported(tiny_run)[1]


def test_archive_holds_only_what_serving_needs(model_dir):
    names = {p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if p.is_file()}
    assert names == {"model.pt", "vocab.json", "config.json", "sessrec_handler.py", "recommend.py",
                     "request_parser.py", "session_cache.py", "session_store.py", "session_flow.py", "answer_text.py",
                     "serving_config.py", "movie_names.py", "model-config.yaml", "MAR-INF/MANIFEST.json"}


@pytest.mark.parametrize("name", ["a/b", "x y", "_v", "sessrec.mar"])
def test_archive_names_torchserve_cannot_serve_are_cli_errors(tiny_run, tmp_path, name):
    # The archiver's own refusal came back as its traceback; "sessrec.mar" made sessrec.mar.mar.
    res = run_cli("archive", "--run", str(tiny_run), "--out", str(tmp_path), "--name", name)
    assert res.returncode == 2 and res.stderr.startswith(f"error: --name {name!r}: a model name is letters"), res.stderr
    assert "Traceback" not in res.stderr and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("version", ["abc/def", "", " 1", "-1"])
def test_archive_versions_the_management_api_cannot_address_are_cli_errors(tiny_run, tmp_path, version):
    # TorchServe served these, but /models/NAME/abc/def (or an empty version) names nothing
    res = run_cli("archive", "--run", str(tiny_run), "--out", str(tmp_path), "--version", version)
    assert res.returncode == 2 and res.stderr.startswith(f"error: --version {version!r}: a version is letters"), res.stderr
    assert list(tmp_path.iterdir()) == []


def test_good_request(harness, vocab):
    history = vocab.movies[:5]
    [(status, body)] = harness.call([{"movies": history + [987654], "k": 7}])
    assert status == 200
    assert len(body["movies"]) == 7 and not set(body["movies"]) & set(history)
    assert body["scores"] == sorted(body["scores"], reverse=True)
    assert body["unknown"] == [987654]
    assert set(body["movies"]) <= set(vocab.movies)
    [(_, twice)] = harness.call([{"movies": [555555] + history + [987654, 555555]}])
    assert twice["unknown"] == [555555, 987654]  # each unknown id once, in first-seen order


def test_matches_offline_decoding_and_accepts_numeric_strings_and_bytes(harness, vocab, tiny_run):
    history = vocab.movies[3:9]
    model, _, cfg = load_exported(tiny_run)
    inputs = [0] + [vocab.index_of[m] for m in history]
    idx, val = recommend(model.predict_next(*pad_batch([inputs])), [inputs[1:]], 20)
    expected = [vocab.raw_id(i) for i in idx[0].tolist()]
    text = json.dumps({"movies": history})
    # with a byte-order mark (Windows tools write one): as bytes, and as text TorchServe decoded (text/plain)
    as_ints, as_strings, as_bytes, bom_bytes, bom_text = harness.call([
        {"movies": history}, {"movies": [str(m) for m in history]}, bytearray(text.encode()),
        b"\xef\xbb\xbf" + text.encode(), "\ufeff" + text])
    for status, body in (as_ints, as_strings, as_bytes, bom_bytes, bom_text):
        assert status == 200 and body["movies"] == expected
        assert body["scores"] == pytest.approx(val[0].tolist(), abs=1e-5)


def test_exclude_and_cold_start(harness, vocab):
    [(_, cold)] = harness.call([{"movies": []}])
    assert len(cold["movies"]) == 20 and cold["unknown"] == []
    [(_, excl)] = harness.call([{"movies": [], "exclude": cold["movies"][:3]}])
    assert excl["movies"][:17] == cold["movies"][3:]


def test_candidates_rank_only_those_movies_in_the_catalog_order(harness, vocab):
    # an allow-list (what a region may stream, a shelf of new titles): the answer is the full ranking
    # with everything else removed, so it equals the whole-catalog answer filtered, order and scores kept
    history = vocab.movies[10:16]
    [(_, full)] = harness.call([{"movies": history, "k": 1000}])
    pool = vocab.movies[::3]
    picked = [m for m in full["movies"] if m in set(pool)]
    requests = [{"movies": history, "k": 5, "candidates": pool},
                {"movies": history, "k": 5, "candidates": pool + [987654], "exclude": picked[:2]},
                {"movies": history, "k": 5},  # batched with rows that have a list: this one keeps the catalog
                {"movies": history, "candidates": history[:3] + [987654]},  # seen or unknown: nothing left
                {"movies": history, "candidates": []},
                {"movies": history, "candidates": None}]
    only, without_two, plain, none_left, empty, null = harness.call(requests)
    assert only[0] == 200 and only[1]["movies"] == picked[:5]
    # (last digits may differ: the full answer was computed in another batch, README's HTTP contract)
    assert only[1]["scores"] == pytest.approx([full["scores"][full["movies"].index(m)] for m in picked[:5]], rel=1e-5)
    assert without_two[1]["movies"] == picked[2:7]
    assert plain[1]["movies"] == full["movies"][:5]
    assert none_left == (200, {"movies": [], "scores": [], "unknown": []})
    assert empty[1]["movies"] == [] and null[1]["movies"] == full["movies"][:20]


def test_candidates_have_their_own_limit(model_dir, vocab):
    # an allow-list can be most of a region's catalog, far past a history's max_ids
    harness = Harness(model_dir, {"max_ids": 3, "max_candidates": 4})
    history = vocab.movies[:3]
    [(ok, _), (long, body)] = harness.call([{"movies": history, "candidates": vocab.movies[:4]},
                                            {"movies": history, "candidates": vocab.movies[:5]}])
    assert ok == 200 and long == 400 and body["type"] == "TooManyIds"
    assert body["message"] == "'candidates' has 5 ids; the limit is 4 (handler.max_candidates in model-config.yaml)"


def test_k_larger_than_the_unseen_catalog_returns_what_is_left(harness, vocab):
    limits = harness.handler.limits
    history = vocab.movies[:-5]
    [(status, body)] = harness.call([{"movies": history[-limits.max_ids:], "exclude": history[:-limits.max_ids],
                                      "k": min(limits.max_k, 50)}])
    assert status == 200 and sorted(body["movies"]) == sorted(vocab.movies[-5:]) and len(body["scores"]) == 5
    assert NO_ITEM not in body["movies"]


BAD = [
    (b"{not json", "MalformedJSON"),
    (b"[" * 100000 + b"]" * 100000, "BodyTooLarge"),
    ("[" * 30000 + "]" * 30000, "MalformedJSON"),
    ([1, 2, 3], "InvalidBody"),
    ({"k": 5}, "MissingField"),
    ({"movies": [1], "kk": 5}, "UnknownField"),
    ({"movies": "1,2,3"}, "InvalidField"),
    ({"movies": [1, [2, 3]]}, "InvalidId"),
    ({"movies": [{"id": 1}]}, "InvalidId"),
    ({"movies": [1.5]}, "InvalidId"),
    ({"movies": [True]}, "InvalidId"),
    ({"movies": [4, 5, False]}, "InvalidId"),  # ints first: the all-int fast path must not let a bool through
    ({"movies": [4], "exclude": [6, 7.0]}, "InvalidId"),
    ({"movies": ["12abc"]}, "InvalidId"),
    ({"movies": [2**63]}, "InvalidId"),  # past every catalog id (prepare's 64-bit bound)
    ({"movies": [1], "exclude": ["-9223372036854775809"]}, "InvalidId"),
    ({"movies": [1], "k": 0}, "InvalidField"),
    ({"movies": [1], "k": 1001}, "InvalidField"),
    ({"movies": [1], "k": "5"}, "InvalidField"),
    ({"movies": [1], "exclude": 7}, "InvalidField"),
    ({"movies": None}, "InvalidField"),  # null is not a history (optional fields may be null: below)
    ({"movies": [1], "exclude": False}, "InvalidField"),
    ({"movies": [1], "candidates": 7}, "InvalidField"),
    ({"movies": [1], "candidates": [1, "x"]}, "InvalidId"),
    ({"movies": [1], "candidates": list(range(5001))}, "TooManyIds"),  # handler.max_candidates
    ({"movies": list(range(1001))}, "TooManyIds"),
    (None, "MissingBody"),
    (b"", "MissingBody"),  # a GET, or a POST without a body: was MalformedJSON "Expecting value"
    (b" \n", "MissingBody"),
]


@pytest.mark.parametrize("body, kind", BAD, ids=[k + str(i) for i, (_, k) in enumerate(BAD)])
def test_bad_requests_get_400_with_a_json_message(harness, body, kind):
    [(status, out)] = harness.call([body])
    assert status == 400
    assert out["code"] == 400 and out["type"] == kind and len(out["message"]) > 10


def test_null_optional_fields_are_left_out_fields(harness):
    # Jackson and Gson write an unset field as null: "k": null was a 400 while "after": null was fine
    plain = harness.call([{"movies": [1, 2, 3]}])[0]
    assert plain[0] == 200
    assert harness.call([{"movies": [1, 2, 3], "k": None, "exclude": None, "after": None}])[0] == plain


def test_a_gzip_body_is_named_as_such(harness):
    # TorchServe passes a Content-Encoding: gzip body on as it came; "can't decode byte 0x8b" said little
    [(status, out)] = harness.call([gzip.compress(b'{"movies": [1, 2]}')])
    assert status == 400 and out["type"] == "MalformedJSON" and "body is gzip-compressed" in out["message"]


def test_one_bad_request_never_fails_the_rest_of_its_batch(harness, vocab):
    good = {"movies": vocab.movies[:4], "k": 5}
    [(_, alone)] = harness.call([good])
    results = harness.call([b"{bad", good, {"movies": ["x"]}, good, {"movies": [], "k": 3}])
    assert [s for s, _ in results] == [400, 200, 400, 200, 200]
    for _, body in (results[1], results[3]):
        # same movies; scores equal up to float reassociation across batch sizes
        assert body["movies"] == alone["movies"] and body["unknown"] == alone["unknown"]
        assert body["scores"] == pytest.approx(alone["scores"], abs=1e-5)
    assert len(results[4][1]["movies"]) == 3
    # and a batch of only bad requests is answered too
    assert [s for s, _ in harness.call([b"x", b"y"])] == [400, 400]


def test_batch_results_equal_offline_top_k(harness, tiny_data, tiny_run):
    model, vocab, cfg = load_exported(tiny_run)
    splits = load_data_dir(tiny_data)
    history = history_for(splits, "validate")
    cases = build_cases(history, splits["validate"], vocab, cfg.max_len)
    ranked, _ = rank_cases(model.predict_next, cases.inputs, cases.seen, 20)
    responses = harness.call([{"movies": history.get(u, [])[-1000:]} for u in cases.users[:64]])
    for row, (status, body) in enumerate(responses):
        assert status == 200
        assert body["movies"] == [vocab.raw_id(i) for i in ranked[row].tolist() if i != NO_ITEM]


def test_bad_model_config_fails_at_load():
    with pytest.raises(ValueError, match="handler.max_ids must be a positive int"):
        Limits.from_config({"max_ids": 0})
    with pytest.raises(ValueError, match="default_k=50 must be in 1..max_k=10"):
        Limits.from_config({"max_k": 10, "default_k": 50})
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['max_kk'\]; known: threads, max_ids, max_candidates, max_k"):
        Limits.from_config({"max_kk": 10, "threads": 1}, others=("threads",))


@pytest.mark.parametrize("knobs, message", [
    ({"max_kk": 50}, r"handler: unknown setting\(s\) \['max_kk'\]"),  # a typo would leave max_k at its default
    ({"threads": 2.5}, r"handler.threads must be an int >= 0 \(0 = torch's default\), got 2.5"),
    ({"threads": -1}, r"handler.threads must be an int >= 0"),
    ({"sessions": {"store": "memory", "idle_second": 5}}, r"handler.sessions: unknown setting\(s\) \['idle_second'\]"),
    ({"sessions": {"store": "memory", "capacity": 2.5}}, r"sessions.capacity must be a positive int, got 2.5"),
    ({"sessions": {"store": "memory", "idle_seconds": "10"}}, r"sessions.idle_seconds must be a number > 0, got '10'"),
    ({"sessions": "shared"}, r"handler.sessions must be a mapping of settings \(key: value lines\), got 'shared'"),
    ({"sessions": {"store": "shared", "path": 5}}, r"handler.sessions.path must be a file path, got 5"),
    ("max_k: 5", r"model-config.yaml handler must be a mapping of settings \(key: value lines\), got 'max_k: 5'"),
])
def test_misspelt_or_mistyped_knobs_fail_at_load_by_name(tiny_run, tmp_path, knobs, message):
    sessions = isinstance(knobs, dict) and "sessions" in knobs
    model_dir = extract_archive(tiny_run, tmp_path, sessions=sessions)
    with pytest.raises(ValueError, match=message):
        Harness(model_dir, knobs, {"minWorkers": 1, "maxWorkers": 1} if sessions else None)


def test_answer_text_is_json_that_gives_back_each_float32_score_and_escapes_the_session():
    import numpy as np
    import torch

    from handler.answer_text import answer_text

    scores = (torch.randn(40) * 10).float()
    scores[:3] = torch.tensor([1e-8, -123456.789, 5.0])
    session = 'odd "id" \\ with\nnewline and é'
    text = answer_text([10, 2, 33], scores.tolist(), [987654], session)
    body = json.loads(text)
    assert body["movies"] == [10, 2, 33] and body["unknown"] == [987654] and body["session"] == session
    assert np.array_equal(np.array(body["scores"], dtype=np.float32), scores.numpy())
    assert "session" not in json.loads(answer_text([], [], []))
    # Scores that are not JSON numbers keep json.dumps' spelling rather than printing "inf"
    assert json.loads(answer_text([1], [float("inf")], []))["scores"] == [float("inf")]
    # a catalog of text ids: escaped as json escapes them, the scores as for int ids
    text = answer_text(['Amélie "2001"', "007", "a\tb"], scores[:3].tolist(), ["unheard-of \\"], session, 4, text_ids=True)
    body = json.loads(text)
    assert body["movies"] == ['Amélie "2001"', "007", "a\tb"] and body["unknown"] == ["unheard-of \\"]
    assert np.array_equal(np.array(body["scores"], dtype=np.float32), scores[:3].numpy()) and body["step"] == 4


def test_64_bit_ids_are_served_whether_sent_as_numbers_or_strings(tmp_path):
    # Catalogs keyed by 64-bit ids (snowflake-style) reach JavaScript clients as strings, since a JS
    # number cannot hold them; the 19-digit ones were refused as "not a numeric string".
    from conftest import tiny_config
    from trainer.prepare import prepare_log
    from trainer.synthetic import synthetic_log
    from trainer.train import train

    top = 2**63 - 1
    log = synthetic_log(n_users=120, n_movies=40, n_clusters=2, n_series=2, seed=5)
    log["item"] = top - log["item"]
    prepare_log(log, tmp_path / "data", "temporal", source="synthetic")
    train(tiny_config(tmp_path / "data", epochs=1), tmp_path / "run", progress=False)
    harness = Harness(extract_archive(tmp_path / "run", tmp_path))
    history = [m for m in load_exported(tmp_path / "run")[1].movies if m > 10**18][:5]
    assert len(history) == 5 and max(history) > 9 * 10**18  # 19 digits
    as_ints, as_strings = harness.call([{"movies": history, "k": 5}, {"movies": [str(m) for m in history], "k": 5}])
    assert as_ints[0] == as_strings[0] == 200
    assert as_ints[1] == as_strings[1] and as_ints[1]["unknown"] == []
    assert all(m > 10**18 and m not in history for m in as_ints[1]["movies"])
    [(status, body)] = harness.call([{"movies": [str(top) + "0"]}])  # 20 digits: past any 64-bit id
    assert status == 400 and body["type"] == "InvalidId" and "at most 19 digits" in body["message"]


def test_describe_names_what_the_archive_serves(harness, tiny_run, vocab):
    # GET /models/sessrec?customized=true on the management API: which run's weights, catalog, limits
    import hashlib

    described = json.loads(harness.handler.describe_handle())
    assert described["weights_sha256"] == hashlib.sha256((tiny_run / "best.pt").read_bytes()).hexdigest()
    config = json.loads((tiny_run / "config.json").read_text())
    assert (described["kind"], described["movies"], described["max_len"]) == ("gru", len(vocab.movies), config["max_len"])
    assert described["model"] == config["model"] and described["trained"]["seed"] == config["seed"]
    assert described["limits"] == {"max_ids": 1000, "max_candidates": 5000, "max_k": 1000, "default_k": 20,
                                   "max_body_bytes": 65536}
    assert described["sessions"] is False
