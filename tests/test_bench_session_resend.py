"""The resending client of `bench_session_resend`, against a fake server that loses or delays answers."""

from __future__ import annotations

import pytest

from trainer.bench_session_resend import stream_session


class FakeSessions:
    """The sessions protocol in miniature: answers name the step, `after` places a request, a resend
    of the last applied request is answered again. `faults` says, per session request, what goes
    wrong: "lose" (never applied, never answered) or "late" (applied, the answer too late)."""

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


def test_a_phase_fails_loudly_when_a_client_gets_an_unexpected_answer():
    from trainer.bench_session_resend import run_phase

    def refusing(payload, headers, timeout):
        return 503, {"message": "busy"}

    with pytest.raises(RuntimeError, match="opening a session answered 503"):
        run_phase(refusing, list(range(1, 21)), (0.0, 0.0), seconds=5, clients=2, timeout=1.0, tries=1)
