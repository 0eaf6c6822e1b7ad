"""Stateful sessions: one GRU step per new movie, and always the stateless answer."""

from __future__ import annotations

import json
import random
import sqlite3
import tempfile

import pytest

from handler.session_cache import Session, SessionCache
from handler_harness import Harness
# fixtures are found by name in this module's namespace
from session_fixtures import (SEQ_ID, START, Workers, any_store, dirs, histories,  # noqa: F401
                              one_worker, open_session, send, sessions, stateless)


class CountingModel:
    """Wraps the TorchScript model to count full passes and GRU steps."""

    def __init__(self, model):
        self.model, self.encoded, self.steps = model, 0, 0

    def encode(self, movies, lens):
        self.encoded += movies.shape[0]
        return self.model.encode(movies, lens)

    def step(self, state, movies):
        self.steps += movies.shape[0]
        return self.model.step(state, movies)

    def scores(self, state):
        return self.model.scores(state)


def test_streamed_sessions_equal_stateless_requests_at_every_step(any_store, stateless, histories):
    sessions = any_store
    rnd = random.Random(0)
    assert any(len(h) > 45 for h in histories), "no history slides the max_len=40 window"
    for n, history in enumerate(histories):
        history = history + [999999]  # an unknown id on the way is skipped and reported
        cut = rnd.randint(0, 3)
        status, body = open_session(sessions, f"s{n}", history[:cut])
        assert status == 200 and body["session"] == f"s{n}"
        while cut < len(history):
            chunk = history[cut: cut + rnd.randint(1, 3)]
            cut += len(chunk)
            status, body = send(sessions, f"s{n}", chunk)
            [(_, expected)] = stateless.call([{"movies": history[:cut]}])
            assert status == 200 and body["movies"] == expected["movies"], (n, cut)
            assert body["scores"] == pytest.approx(expected["scores"], abs=1e-4)
        assert body["unknown"] == [999999]


def test_sessions_in_one_batch_and_one_step_per_new_movie(sessions, stateless, histories):
    counter = CountingModel(sessions.handler.flow.model)
    sessions.handler.flow.model = counter
    short = [h[:10] for h in histories[:6]]
    results = sessions.call([{"movies": h[:5]} for h in short], [{SEQ_ID: f"b{i}", START: "true"} for i in range(6)])
    assert all(s == 200 for s, _ in results) and counter.encoded == 6 and counter.steps == 0
    results = sessions.call([{"movies": h[5:5 + (i % 3)]} for i, h in enumerate(short)],
                            [{SEQ_ID: f"b{i}"} for i in range(6)])
    assert counter.encoded == 6, "a continuing session must not re-run its history"
    assert counter.steps == sum(i % 3 for i in range(6))
    for i, (status, body) in enumerate(results):
        [(_, expected)] = stateless.call([{"movies": short[i][:5 + (i % 3)]}])
        assert status == 200 and body["movies"] == expected["movies"]


def test_one_batch_mixing_new_sliding_and_stepping_sessions_answers_each_as_stateless(any_store, stateless, histories):
    # One batch holds every kind of row advance() handles: a session opening, one that outgrows
    # max_len (40 here) and re-encodes its window, and sessions stepping 3, 0 and 1 movies, in an
    # order that its grouping by kind and by step count has to undo.
    h = [x for x in histories if len(x) > 45][0]
    short = [x for x in histories if 12 <= len(x) <= 30][:3]
    assert len(short) == 3, "tiny data has too few histories of 12-30 movies"
    opened = [(f"m{i}", x[:cut]) for i, (x, cut) in enumerate([(h, 38), *zip(short, (5, 6, 7))])]
    for sid, movies in opened:
        assert open_session(any_store, sid, movies)[0] == 200
    rows = [("m-new", short[0][:4], True), ("m1", short[0][5:8], False), ("m0", h[38:44], False),
            ("m2", [], False), ("m3", short[2][7:8], False)]
    results = any_store.call([{"movies": movies} for _, movies, _ in rows],
                             [{SEQ_ID: sid, **({START: "true"} if start else {})} for sid, _, start in rows])
    wants = [short[0][:4], short[0][:8], h[:44], short[1][:6], short[2][:8]]
    for (status, body), want in zip(results, wants):
        [(_, expected)] = stateless.call([{"movies": want}])
        assert status == 200 and body["movies"] == expected["movies"], want
        assert body["scores"] == pytest.approx(expected["scores"], abs=1e-4)


@pytest.mark.parametrize("store", ["memory", "shared"])
def test_expired_evicted_and_ended_sessions_get_a_clear_error(dirs, store, tmp_path):
    limits = {"capacity": 2, "idle_seconds": 60}
    h = one_worker(dirs[0], **limits) if store == "memory" else \
        Harness(dirs[0], {"sessions": {**limits, "store": "shared", "path": str(tmp_path / "sessions.sqlite")}})
    now = [0.0]

    def clock():  # every call a little later, so that least recently used is well defined
        now[0] += 1e-3
        return now[0]
    h.handler.flow.store.clock = clock
    for sid in ("a", "b", "c"):
        assert open_session(h, sid, [1])[0] == 200
    status, body = send(h, "a", [2])  # evicted: capacity 2
    assert status == 410 and body["type"] == "SessionExpired" and "whole history" in body["message"]
    assert h.last.get_response_headers(0)[SEQ_ID] == "a"
    assert send(h, "b", [2])[0] == 200
    now[0] = 61.0
    assert send(h, "c", [2])[0] == 410  # idle too long
    assert open_session(h, "d", [1])[0] == 200
    assert send(h, "d", [], end=True)[0] == 200
    assert send(h, "d", [3])[0] == 410  # ended
    assert send(h, "never-opened", [3])[0] == 410


def test_a_bad_request_leaves_its_session_unchanged(any_store, stateless, histories):
    sessions = any_store
    history = histories[0][:12]
    open_session(sessions, "x", history[:6])
    status, body = send(sessions, "x", ["not-an-id"])
    assert status == 400 and body["type"] == "InvalidId"
    status, body = send(sessions, "x", history[6:])
    [(_, expected)] = stateless.call([{"movies": history}])
    assert status == 200 and body["movies"] == expected["movies"]


def test_an_id_past_64_bits_is_a_400_and_its_batch_is_answered(any_store, stateless, histories):
    # The shared store keeps a request's ids as 64-bit integers (to recognise a resend): an id of
    # 2**70 raised OverflowError there, failing every request of the batch with it.
    sessions = any_store
    history = histories[1][:10]
    open_session(sessions, "y", history[:5])
    open_session(sessions, "z", history[:5])
    answers = sessions.call([{"movies": history[5:6], "after": 1}, {"movies": [2**70], "after": 1},
                             {"movies": ["9223372036854775808"]}],  # 2**63 as text: 19 digits, still too big
                            [{SEQ_ID: "y"}, {SEQ_ID: "z"}, {SEQ_ID: "w", START: "true"}])
    assert [status for status, _ in answers] == [200, 400, 400]
    assert answers[1][1]["message"] == "movies[0] is outside the 64-bit range of movie ids, got 1180591620717411303424"
    [(_, expected)] = stateless.call([{"movies": history[:6]}])
    assert answers[0][1]["movies"] == expected["movies"]
    status, body = send(sessions, "z", history[5:6], after=1)  # z is where it was
    assert status == 200 and body["movies"] == expected["movies"]


def test_exclude_candidates_and_k_apply_per_request_not_to_the_session(sessions, stateless, histories):
    history = histories[1][:8]
    _, first = open_session(sessions, "e", history, k=5)
    _, excl = send(sessions, "e", [], exclude=first["movies"][:2], k=5)
    assert excl["movies"][:3] == first["movies"][2:5]
    _, again = send(sessions, "e", [], k=5)
    assert again["movies"] == first["movies"]
    _, wide = send(sessions, "e", [], k=10)
    _, pool = send(sessions, "e", [], candidates=wide["movies"][6:8] + wide["movies"][1:4], k=4)
    assert pool["movies"] == wide["movies"][1:4] + wide["movies"][6:7]
    _, after_pool = send(sessions, "e", [], k=5)
    assert after_pool["movies"] == first["movies"]


def test_cache_is_bounded_and_lru():
    now = [0.0]
    cache = SessionCache(capacity=2, idle_seconds=10, clock=lambda: now[0])
    cache.put("a", Session())
    cache.put("b", Session())
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", Session())
    assert cache.get("b") is None and cache.get("a") is not None and len(cache) == 2 and cache.evicted == 1
    now[0] = 10.0
    assert cache.get("a") is None and cache.get("c") is None and len(cache) == 0
    with pytest.raises(ValueError):
        SessionCache(capacity=0, idle_seconds=1)


def test_header_names_are_case_insensitive(sessions, stateless, histories):
    # TorchServe 0.12 treats `Ts_Request_Sequence_Id` as no session: it adds a fresh id and a start
    # flag, and passes the client's header through. The client's session must still continue.
    history = histories[2][:9]
    open_session(sessions, "mixed-case", history[:5])
    [(status, body)] = sessions.call([{"movies": history[5:]}], [{
        SEQ_ID: "ts-seq-generated", START: "true", "Ts_Request_Sequence_Id": "mixed-case"}])
    [(_, expected)] = stateless.call([{"movies": history}])
    assert status == 200 and body["session"] == "mixed-case" and body["movies"] == expected["movies"]
    [(status, _)] = sessions.call([{"movies": []}], [{SEQ_ID: "x", "Ts_Request_Sequence_Id": "mixed-case",
                                                       "Ts_Request_Sequence_End": "True"}])
    assert status == 200 and send(sessions, "mixed-case", [])[0] == 410


def test_two_requests_of_one_session_in_a_batch_are_refused_not_mixed(sessions, stateless, histories):
    history = histories[3][:8]
    open_session(sessions, "twice", history[:4])
    results = sessions.call([{"movies": history[4:6]}, {"movies": history[6:]}],
                            [{SEQ_ID: "g1", "Ts_Request_Sequence_Id": "twice"}, {SEQ_ID: "g2", "Ts_Request_Sequence_Id": "twice"}])
    assert [s for s, _ in results] == [200, 409] and results[1][1]["type"] == "ConcurrentSessionRequest"
    [(_, expected)] = stateless.call([{"movies": history[:6]}])
    assert results[0][1]["movies"] == expected["movies"]


def test_a_session_advanced_by_another_worker_meanwhile_gets_409_not_a_lost_event(dirs, stateless, histories, tmp_path):
    # Possible only with the shared store, when a client sends a session's requests concurrently
    # under a header spelling that TorchServe does not route as one sequence.
    a, b = Workers(dirs[0], tmp_path / "sessions.sqlite").harnesses
    history = histories[0][:10]
    assert open_session(a, "race", history[:4])[0] == 200
    ctx = a.context(1, [{SEQ_ID: "race"}])
    a.handler.context = ctx
    rows = a.handler.inference(a.handler.preprocess([{"body": {"movies": [history[4]]}}]))
    assert send(b, "race", history[5:7])[0] == 200  # b advances the session while a is busy
    out = a.handler.postprocess(rows)
    assert ctx.get_response_status(0)[0] == 409 and json.loads(out[0])["type"] == "ConcurrentSessionRequest"
    status, body = send(a, "race", history[7:])
    [(_, expected)] = stateless.call([{"movies": history[:4] + history[5:]}])
    assert status == 200 and body["movies"] == expected["movies"]


def test_sessions_kept_in_one_worker_refuse_to_run_on_two(dirs):
    with pytest.raises(ValueError, match="maxWorkers 2.*store: shared"):
        Harness(dirs[0], {"sessions": {"store": "memory"}})
    with pytest.raises(ValueError, match="'memory' or 'shared', got 'redis'"):
        Harness(dirs[0], {"sessions": {"store": "redis"}})


def test_the_shipped_sessions_config_shares_sessions_between_its_workers(dirs, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the default store file goes
    h = Harness(dirs[0])
    assert h.cfg["maxWorkers"] == 2 and h.handler.flow.store.path.parent == tmp_path
    assert h.handler.flow.store.path.name.startswith("sessrec-sessions-sessrec-")


def test_a_store_that_cannot_be_written_fails_each_session_request_clearly_and_applies_nothing(
        dirs, stateless, histories, tmp_path):
    # Another process holding the SQLite file's write lock past the busy timeout (or a full disk)
    # makes the write fail. The batch's session requests get a 503 each that says so, instead of
    # TorchServe's bare "Prediction failed" for the batch; none is applied, so sending it again
    # with the same `after` once the store is back continues the session in its place.
    path = tmp_path / "sessions.sqlite"
    workers = Workers(dirs[0], path)
    history = histories[1][:9]
    a, b = workers.harnesses
    assert open_session(a, "kept", history[:4])[0] == 200
    assert open_session(a, "other", history[:2])[0] == 200
    for h in (a, b):
        h.handler.flow.store.db.execute("PRAGMA busy_timeout = 50")
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        results = b.call([{"movies": history[4:6], "after": 1}, {"movies": [], "after": 1}, {"movies": history[:3]}],
                         [{SEQ_ID: "kept"}, {SEQ_ID: "other"}, {SEQ_ID: "fresh", START: "true"}])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [s for s, _ in results] == [503] * 3
    assert {m.name: m.value for m in b.last.metrics.store if m.name != "HandlerTime"} == {"SessionStoreUnavailable": 3}
    assert all(r["type"] == "SessionStoreUnavailable" and "locked" in r["message"] and "nothing was applied"
               in r["message"] for _, r in results)
    status, body = send(a, "kept", history[4:6], after=1)
    [(_, expected)] = stateless.call([{"movies": history[:6]}])
    assert status == 200 and body["step"] == 2 and body["movies"] == expected["movies"]
    assert send(a, "fresh", [])[0] == 410  # its opening request was not applied either


def test_a_store_that_cannot_be_read_fails_each_session_request_clearly(dirs, tmp_path, histories, monkeypatch):
    w = Workers(dirs[0], tmp_path / "sessions.sqlite")
    assert open_session(w.harnesses[0], "s", histories[0][:3])[0] == 200

    def broken(keys):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(w.harnesses[1].handler.flow.store, "get_many", broken)
    [(status, body)] = w.harnesses[1].call([{"movies": histories[0][3:4]}], [{SEQ_ID: "s"}])
    assert status == 503 and body["type"] == "SessionStoreUnavailable" and "disk I/O error" in body["message"]
    assert send(w.harnesses[0], "s", histories[0][3:4], after=1)[1]["step"] == 2
