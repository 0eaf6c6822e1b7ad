"""The resending client of `session_client`, against a fake server that loses or delays answers."""

from __future__ import annotations

import pytest

from trainer.session_client import stream_session


class FakeSessions:
    """The sessions protocol in miniature: answers name the step, `after` places a request, a resend
    of the last applied request is answered again. `faults` says, per session request, what goes
    wrong: "lose" (never applied, never answered), "late" (applied, the answer too late) or "busy"
    (the session store unavailable: a 503, nothing applied)."""

    def __init__(self, faults: dict[int, str]):
        self.faults, self.calls, self.sessions = faults, 0, {}

    def answer(self, movies):
        return {"movies": [sum(m * (i + 1) for i, m in enumerate(movies)) % 1009]}

    def __call__(self, payload, headers, timeout):
        sid = headers.get("ts_request_sequence_id")
        if sid is None:  # opens a session with the whole history
            sid = f"s{len(self.sessions)}"
            self.sessions[sid] = {"movies": list(payload["movies"]), "step": 1, "last": payload["movies"]}
            return 200, {**self.answer(payload["movies"]), "session": sid, "step": 1}
        self.calls += 1
        fault = self.faults.get(self.calls)
        if fault == "lose":
            raise TimeoutError("timed out")
        if fault == "busy":
            return 503, {"code": 503, "type": "SessionStoreUnavailable", "message": "database is locked"}
        s = self.sessions[sid]
        if payload["after"] == s["step"]:
            s["movies"] += payload["movies"]
            s["step"] += 1
            s["last"] = payload["movies"]
        elif not (payload["after"] == s["step"] - 1 and payload["movies"] == s["last"]):
            return 409, {"type": "SessionOutOfStep"}
        if fault == "late":
            raise TimeoutError("timed out")
        return 200, {**self.answer(s["movies"]), "session": sid, "step": s["step"]}


@pytest.mark.parametrize("faults", [{}, {2: "lose"}, {2: "late"}, {2: "lose", 3: "late", 6: "late", 7: "lose"}])
def test_resending_recovers_lost_and_late_answers_and_applies_each_event_once(faults):
    server = FakeSessions(faults)
    counts, last = stream_session(server, [1, 2, 3], [4, 5, 6, 7, 8], lambda: 0.0, timeout=1.0, tries=4)
    assert last["step"] == 6 and counts["answered"] == 5 and counts["timeouts"] == len(faults) and counts["lost"] == 0
    assert counts["checked"] == 1 and counts["wrong"] == 0
    assert server.sessions["s0"]["movies"] == [1, 2, 3, 4, 5, 6, 7, 8]


def test_a_busy_store_is_waited_out_and_each_event_applied_once(monkeypatch):
    pauses = []
    monkeypatch.setattr("trainer.session_client.time.sleep", pauses.append)
    server = FakeSessions({2: "busy", 3: "busy", 5: "lose", 6: "busy"})
    counts, last = stream_session(server, [1, 2, 3], [4, 5, 6, 7], lambda: 0.0, timeout=1.0, tries=4)
    assert last["step"] == 5 and counts["answered"] == 4 and counts["store_busy"] == 3 and counts["timeouts"] == 1
    assert server.sessions["s0"]["movies"] == [1, 2, 3, 4, 5, 6, 7] and counts["wrong"] == 0
    # event 5: busy twice (0.05, then 0.1); event 6: a timeout, then busy on its second try (0.1)
    assert [p for p in pauses if p] == [0.05, 0.1, 0.1]


def test_a_store_busy_through_every_try_stops_the_stream_with_its_message(monkeypatch):
    monkeypatch.setattr("trainer.session_client.time.sleep", lambda s: None)
    server = FakeSessions({2: "busy", 3: "busy"})
    with pytest.raises(RuntimeError, match="answered 503.*database is locked"):
        stream_session(server, [1], [2, 3], lambda: 0.0, timeout=1.0, tries=2)


def test_a_client_that_does_not_resend_counts_the_lost_request_and_stops():
    server = FakeSessions({2: "lose"})
    counts, last = stream_session(server, [1, 2, 3], [4, 5, 6], lambda: 0.0, timeout=1.0, tries=1)
    assert last["step"] == 2 and counts == {"answered": 1, "timeouts": 1, "lost": 1}
    assert server.sessions["s0"]["movies"] == [1, 2, 3, 4]


def test_an_answer_that_disagrees_with_the_whole_history_is_counted_wrong():
    server = FakeSessions({})
    server.answer = lambda movies, n=[0]: {"movies": [n.append(0) or len(n)]}  # every answer differs
    counts, _ = stream_session(server, [1, 2, 3], [4, 5], lambda: 0.0, timeout=1.0, tries=4)
    assert counts["checked"] == 1 and counts["wrong"] == 1


def test_k_and_the_fields_go_with_every_request_and_each_answer_is_reported_in_order():
    server, seen, sent = FakeSessions({2: "late"}), [], []

    def post(payload, headers, timeout):
        sent.append(payload)
        return server(payload, headers, timeout)

    checked = []

    def stateless(payload, headers, timeout):
        checked.append(payload)
        return stateless_server(payload, headers, timeout)

    stateless_server, lists = FakeSessions({}), {"exclude": [9], "candidates": [1, 9, 40]}
    counts, last = stream_session(post, [1, 2], [3, 4, 5], lambda: 0.0, timeout=1.0, tries=2, k=7,
                                  check=stateless, on_answer=lambda req, ans: seen.append((req["movies"], ans["step"])),
                                  fields=lists)
    assert len(sent) == 5 and all(p["k"] == 7 and p["exclude"] == [9] and p["candidates"] == [1, 9, 40] for p in sent)
    assert checked == [{"movies": [1, 2, 3, 4, 5], "k": 7, **lists}]
    assert seen == [([1, 2], 1), ([3], 2), ([4], 3), ([5], 4)]  # the late answer is reported once, when resent
    assert stateless_server.sessions["s0"]["movies"] == [1, 2, 3, 4, 5] and "s1" not in server.sessions
    assert counts["checked"] == 1 and counts["wrong"] == 0


def test_a_model_without_sessions_is_named_as_the_problem():
    def stateless(payload, headers, timeout):
        return 200, {"movies": [1, 2], "scores": [0.5, 0.4], "unknown": []}

    with pytest.raises(RuntimeError, match="is this the sessions archive"):
        stream_session(stateless, [1, 2], [3], lambda: 0.0, timeout=1.0, tries=1)


def test_a_refused_request_stops_the_stream_with_its_status():
    server = FakeSessions({})

    def post(payload, headers, timeout):
        if payload.get("after") == 2:
            return 410, {"type": "SessionExpired"}
        return server(payload, headers, timeout)

    with pytest.raises(RuntimeError, match="answered 410"):
        stream_session(post, [1], [2, 3, 4], lambda: 0.0, timeout=1.0, tries=1)
