"""Session steps: every answer says how many requests its session has applied, and a request that
names the step it follows (`after`) is applied once, in that place, however often it is sent."""

from __future__ import annotations

import pytest

from handler_harness import Harness
# fixtures are found by name in this module's namespace
from session_fixtures import (SEQ_ID, START, any_store, dirs, histories, one_worker, open_session,  # noqa: F401
                              send, stateless)


def stateless_answer(stateless, movies):
    [(status, body)] = stateless.call([{"movies": movies}])
    assert status == 200
    return body


def test_answers_count_the_requests_applied_and_after_places_each_one(any_store, stateless, histories):
    history = next(h for h in histories if len(h) >= 6)
    status, body = open_session(any_store, "s", history[:2])
    assert status == 200 and body["step"] == 1
    for n, movie in enumerate(history[2:6], start=2):
        status, body = send(any_store, "s", [movie], after=n - 1)
        assert status == 200 and body["step"] == n
        expected = stateless_answer(stateless, history[: n + 1])
        assert body["movies"] == expected["movies"]
    # `after` is optional: a request without it is applied too, and counted
    status, body = send(any_store, "s", history[6:7])
    assert status == 200 and body["step"] == 6


def test_a_resent_request_is_answered_again_and_applied_once(any_store, stateless, histories):
    history = next(h for h in histories if len(h) >= 5)
    opening, first, second = history[:3], history[3], history[4]
    # The check below can only fail if applying `first` twice changes the answer.
    twice = stateless_answer(stateless, opening + [first, first, second])
    once = stateless_answer(stateless, opening + [first, second])
    assert twice["scores"] != once["scores"]

    assert open_session(any_store, "s", opening)[1]["step"] == 1
    status, answered = send(any_store, "s", [first], after=1)
    assert status == 200 and answered["step"] == 2
    for _ in range(2):  # the client timed out, and resends; twice
        status, again = send(any_store, "s", [first], after=1)
        assert status == 200 and again["step"] == 2
        assert again["movies"] == answered["movies"] and again["scores"] == answered["scores"]
    status, body = send(any_store, "s", [second], after=2)
    assert status == 200 and body["step"] == 3
    assert body["movies"] == once["movies"] and body["scores"] == pytest.approx(once["scores"], abs=1e-4)


def test_a_request_out_of_step_is_refused_and_changes_nothing(any_store, stateless, histories):
    history = next(h for h in histories if len(h) >= 5)
    open_session(any_store, "s", history[:3])
    send(any_store, "s", [history[3]], after=1)  # step 2
    status, body = send(any_store, "s", [history[4]], after=5)
    assert status == 409 and body["type"] == "SessionOutOfStep"
    assert "at step 2" in body["message"] and "follows step 5" in body["message"]
    # one step back with other movies: not a resend of the request that made step 2
    status, body = send(any_store, "s", [history[4]], after=1)
    assert status == 409 and "other movies" in body["message"]
    status, body = send(any_store, "s", [history[4]], after=2)
    assert status == 200 and body["step"] == 3
    assert body["movies"] == stateless_answer(stateless, history[:5])["movies"]


def test_a_resent_opening_request_opens_the_session_afresh(dirs, stateless, histories):
    h = one_worker(dirs[0])
    history = next(h for h in histories if len(h) >= 4)
    first = open_session(h, "mine", history[:3], after=0)[1]
    send(h, "mine", [history[3]], after=1)
    # the client never saw `first` and opens again with the same history: the session restarts
    status, again = open_session(h, "mine", history[:3], after=0)
    assert status == 200 and again["step"] == 1 and again["movies"] == first["movies"]
    status, body = open_session(h, "other", history[:3], after=4)
    assert status == 409 and "at step 0" in body["message"]


def counters(h):
    return {m.name: m.value for m in h.last.metrics.store if m.name != "HandlerTime"}


def test_what_did_not_go_as_planned_is_counted_in_the_model_metrics(dirs, histories):
    h = one_worker(dirs[0])
    history = next(h for h in histories if len(h) >= 4)
    open_session(h, "s", history[:2])
    assert counters(h) == {}  # the usual batch emits nothing
    send(h, "s", [history[2]], after=1)
    assert counters(h) == {}
    send(h, "s", [history[2]], after=1)
    assert counters(h) == {"SessionRequestResent": 1}
    [(s1, _), (s2, _), (s3, _)] = h.call([{"movies": [history[3]], "after": 5}, {"movies": [1]}, {"movies": "x"}],
                                         [{SEQ_ID: "s"}, {SEQ_ID: "gone"}, {SEQ_ID: "t"}])
    assert (s1, s2, s3) == (409, 410, 400)
    assert counters(h) == {"SessionOutOfStep": 1, "SessionExpired": 1}  # a bad body is no session event


@pytest.mark.parametrize("store", ["memory", "shared"])
def test_a_resent_request_restarts_the_idle_clock_like_any_answered_request(dirs, store, tmp_path):
    limits = {"idle_seconds": 10}
    h = one_worker(dirs[0], **limits) if store == "memory" else \
        Harness(dirs[0], {"sessions": {**limits, "store": "shared", "path": str(tmp_path / "sessions.sqlite")}})
    now = [0.0]
    h.handler.flow.store.clock = lambda: now[0]
    open_session(h, "s", [1, 2])
    now[0] = 5.0
    assert send(h, "s", [3], after=1)[1]["step"] == 2
    now[0] = 12.0
    assert send(h, "s", [3], after=1)[1]["step"] == 2  # resent: answered again
    now[0] = 18.0  # 13 s after the last applied request, 6 s after the resend was answered
    status, body = send(h, "s", [4], after=2)
    assert status == 200 and body["step"] == 3


@pytest.mark.parametrize("after", [-1, "2", 1.5, True, [1]])
def test_a_bad_after_is_a_400_naming_the_field(dirs, after):
    h = one_worker(dirs[0])
    [(status, body)] = h.call([{"movies": [1], "after": after}], [{SEQ_ID: "s", START: "true"}])
    assert status == 400 and body["type"] == "InvalidField" and "'after'" in body["message"]


def test_the_stateless_archive_refuses_after(stateless):
    [(status, body)] = stateless.call([{"movies": [1, 2], "after": 1}])
    assert status == 400 and "sessions archive" in body["message"]
