"""A client for the sessions archive: open a session, stream movies into it, resend on a timeout.

Shared by `python -m trainer request --session`, the lost-request benchmark and the server tests,
so the CLI a user runs is the client those measurements trusted. Standard library only.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections import Counter
from http.client import HTTPConnection
from typing import Any, Callable

SESSION_HEADER = "ts_request_sequence_id"
#: Seconds before resending a request the session store could not take; doubled on each try.
_BUSY_PAUSE = 0.05

Post = Callable[[dict[str, Any], dict[str, str], float], tuple[int, Any]]
OnAnswer = Callable[[dict[str, Any], dict[str, Any]], None]


def poster(url: str) -> Post:
    """POST JSON to `url` with header names spelt exactly as given: TorchServe 0.12 matches its
    session header in lower case, and urllib would capitalize it. Returns (status, decoded JSON, or
    the text of a body that is not JSON); raises OSError (a timeout included) if nothing answers."""
    parts = urllib.parse.urlsplit(url)

    def post(payload: dict[str, Any], headers: dict[str, str], timeout: float) -> tuple[int, Any]:
        conn = HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        try:
            body = json.dumps(payload).encode()
            conn.putrequest("POST", parts.path)
            for key, value in {"Content-Type": "application/json", "Content-Length": str(len(body)), **headers}.items():
                conn.putheader(key, value)
            conn.endheaders(body)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw.decode(errors="replace")
    return post


def _store_busy(status: int, body: Any) -> bool:
    return status == 503 and isinstance(body, dict) and body.get("type") == "SessionStoreUnavailable"


def stream_session(post: Post, opening: list[int], events: list[int], think: Callable[[], float],
                   timeout: float, tries: int, k: int | None = None, check: Post | None = None,
                   on_answer: OnAnswer | None = None, open_timeout: float = 30,
                   fields: dict[str, Any] | None = None) -> tuple[Counter, dict[str, Any]]:
    """Open a session with `opening`, then send `events` one per request, each after `think()` seconds.

    A request unanswered within `timeout` is sent again, with the same `after`, up to `tries` times
    in all: the handler applies it once however often it arrives. So is one refused with 503
    `SessionStoreUnavailable` (nothing applied), after a pause that doubles with each try.

    Args:
        post: sends one request to the sessions archive (see `poster`).
        k: movies per answer (None: the archive's default).
        check: where the whole-history request goes (default `post`: it opens a throwaway session).
        on_answer: called with (request, answer) for the opening and every answered event.
        open_timeout: how long the opening request (the whole history, sent once) may take.
        fields: more request fields (`exclude`, `candidates`) for every request, the check's too: a
            session applies them to each answer, not to the session.

    Returns:
        Counts (answered; timeouts; store_busy: 503s resent; lost: given up after timeouts, the
        session ends there; checked / wrong: the last answer against one request with the whole
        history) and the last answer received.

    Raises:
        RuntimeError: any status other than 200, or an answer whose step is not the next one.
    """
    counts: Counter = Counter()
    sized = {**({} if k is None else {"k": k}), **(fields or {})}
    request = {"movies": opening, **sized}
    status, body = post(request, {}, open_timeout)
    if status == 200 and isinstance(body, dict) and "step" not in body:
        raise RuntimeError("opening a session answered without a session step: is this the sessions archive "
                           "(sessrec_sessions)?")
    if status != 200 or not isinstance(body, dict) or body.get("step") != 1:
        raise RuntimeError(f"opening a session answered {status}: {body}")
    if on_answer:
        on_answer(request, body)
    sid = body["session"]
    for movie in events:
        time.sleep(think())
        request, answer = {"movies": [movie], "after": body["step"], **sized}, None
        for attempt in range(tries):
            try:
                answer = post(request, {SESSION_HEADER: sid}, timeout)
            except OSError:
                counts["timeouts"] += 1
                answer = None
                continue
            if not _store_busy(*answer):
                break
            counts["store_busy"] += 1  # nothing was applied: the same request again, after a pause
            time.sleep(_BUSY_PAUSE * 2 ** attempt)
        if answer is None:
            counts["lost"] += 1
            return counts, body
        status, body = answer
        if status != 200 or not isinstance(body, dict) or body.get("step") != request["after"] + 1:
            raise RuntimeError(f"session {sid}: {request} answered {status}: {body}")
        counts["answered"] += 1
        if on_answer:
            on_answer(request, body)
    status, whole = (check or post)({"movies": opening + events, **sized}, {}, open_timeout)  # no session header
    counts["checked"] += 1
    counts["wrong"] += status != 200 or not isinstance(whole, dict) or whole.get("movies") != body["movies"]
    return counts, body
