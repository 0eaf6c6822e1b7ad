"""The stateful half of the sessrec handler: which session each request continues, one GRU step
per new movie, and every session stored before its answer leaves.

Shipped in the archive beside the handler; the handler passes in what it loaded (the model, the
session store, `recommend`'s helpers), so this file imports nothing of the project.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from typing import Any, Callable

import torch

logger = logging.getLogger(__name__)


def session_headers(ctx: Any, i: int) -> tuple[str, bool, bool]:
    """(session id, starts a session?, ends it?) of request i of a TorchServe context.

    TorchServe 0.12 matches its sequence headers case-sensitively: a client that sends
    `Ts_Request_Sequence_Id` (Python's urllib does) gets a NEW sequence id and a start flag
    from the frontend, and its own header passed through. Header names are case-insensitive
    in HTTP, so the client's own header wins. Such requests may reach any worker: the shared
    store makes that safe (a stale write is refused, see `SessionFlow.commit`).
    """
    headers = ctx.get_all_request_header(i) or {}
    id_key, start_key, end_key = ctx.header_key_sequence_id, ctx.header_key_sequence_start, ctx.header_key_sequence_end
    own_id, own_start, end = None, False, False
    for k, v in headers.items():  # one pass, one lower() per header: every session request pays it
        lk = k.lower()
        if lk == end_key:
            end = end or str(v).lower() == "true"
        elif k != lk:  # the client's own spelling of a sequence header
            if lk == id_key and own_id is None:
                own_id = v
            elif lk == start_key:
                own_start = own_start or str(v).lower() == "true"
    if own_id is not None:
        return str(own_id), own_start, end
    return ctx.get_sequence_id(i), str(headers.get(start_key, "")).lower() == "true", end


class SessionFlow:
    """Session work on the handler's rows (dicts with sid/start/end/new, then session/state/seen)."""

    def __init__(self, model: Any, store: Any, max_len: int, device: Any, start_index: int,
                 pad_batch: Callable[[list[list[int]]], tuple[torch.Tensor, torch.Tensor]],
                 new_session: Callable[[], Any]) -> None:
        self.model, self.store, self.max_len, self.device = model, store, max_len, device
        self.start_index, self.pad_batch, self.new_session = start_index, pad_batch, new_session

    def attach(self, rows: list[dict[str, Any]]) -> None:
        """Give each session request its session (one store read per batch), or a 409/410 error."""
        try:
            live = self.store.get_many(r["sid"] for r in rows if "sid" in r and not r["start"])
        except sqlite3.Error as exc:
            _store_failed(rows, "read", exc)
            return
        taken: set[str] = set()
        for r in rows:
            if "sid" not in r:
                continue
            if r["sid"] in taken:
                # TorchServe sends one request per session per batch unless the session header's
                # case hid it; two in one batch would both advance the same state.
                r["error"] = (409, "ConcurrentSessionRequest", f"session {r['sid']!r} already has a request in "
                              "progress; send its next request after this answer")
                continue
            r["session"] = self.new_session() if r["start"] else live.get(r["sid"])
            if r["session"] is None:
                r["error"] = (410, "SessionExpired", f"session {r['sid']!r} is unknown or expired (idle timeout or "
                              "capacity); open a new session with the whole history")
                continue
            taken.add(r["sid"])
            if r["after"] is not None:
                self._check_step(r)

    @staticmethod
    def _check_step(r: dict[str, Any]) -> None:
        """A request that names the step it follows (`after`) is applied only in that place.

        TorchServe 0.12 can lose a session request that arrives just as the session's sequence idles
        out (its queue is dropped with the request in it; docs in model-config-sessions.yaml), so a
        client must be able to resend after a timeout without knowing whether the first try ran. The
        resent request names the same step: if the first try ran, the session is one step further,
        its last request holds these very movies, and the request is answered again, not applied.
        """
        s, after = r["session"], r["after"]
        if after == s.step:
            return
        if after == s.step - 1 and r["raw"] == s.last:
            r["replay"] = True
            return
        r["error"] = (409, "SessionOutOfStep", f"session {r['sid']!r} is at step {s.step}, but this request follows "
                      f"step {after}" + (" with other movies than the request that made that step" if after == s.step - 1
                                         else "") + "; nothing was applied")

    def advance(self, good: list[dict[str, Any]]) -> torch.Tensor:
        """One GRU step per new movie; a full pass over the input window only for a new session or
        once the session outgrows max_len (the window then slides, as a stateless request's would).

        The batch's states stay one [L, B, H] tensor throughout: rows that step are ordered by how
        many new movies they bring, so step t advances a leading slice in place, and no row is
        sliced out until each session takes its own copy at the end."""
        full, stepping, replay = [], [], []
        for r in good:
            s = r["session"]
            if r.get("replay"):  # answered from the state its first try left
                replay.append(r)
            else:
                (full if s.state is None or 1 + s.length + len(r["new"]) > self.max_len else stepping).append(r)
        stepping.sort(key=lambda r: -len(r["new"]))  # stable: equal counts keep the batch's order
        parts = []
        if full:
            windows = [([self.start_index] + r["session"].events + r["new"])[-self.max_len:] for r in full]
            movies, lens = self.pad_batch(windows)
            parts.append(self.model.encode(movies.to(self.device), lens))
        if stepping:
            state = torch.cat([r["session"].state for r in stepping], dim=1)
            for t in range(len(stepping[0]["new"])):
                n = sum(1 for r in stepping if len(r["new"]) > t)  # a prefix: sorted by count
                movies = torch.tensor([r["new"][t] for r in stepping[:n]], device=self.device)
                if n == len(stepping):
                    state = self.model.step(state, movies)
                else:
                    state[:, :n] = self.model.step(state[:, :n], movies)
            parts.append(state)
        if replay:
            parts.append(torch.cat([r["session"].state for r in replay], dim=1))
        order = full + stepping + replay
        states = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        if any(a is not b for a, b in zip(order, good)):  # back to the batch's order
            position = {id(r): j for j, r in enumerate(order)}
            states = states[:, [position[id(r)] for r in good]]
        # Each session keeps its own copy: a view would keep the whole batch's tensor alive.
        for r, own in zip(good, states.split(1, dim=1)):
            s = r["session"]
            if not r.get("replay"):
                s.state = own.clone()
                s.events = (s.events + r["new"])[-self.max_len:]
                s.seen.update(r["new"])
                s.length += len(r["new"])
                s.step += 1
                s.last = r["raw"]
            r["seen"], r["step"] = list(s.seen), s.step
        return self.model.scores(states).cpu()

    def commit(self, rows: list[dict[str, Any]]) -> None:
        """Store the advanced sessions before any answer leaves (the next request may reach another
        worker). A session that another worker advanced meanwhile keeps that state; this request
        then gets a 409 rather than an answer that forgot an event."""
        done = [r for r in rows if "sid" in r and "error" not in r]
        if not done:
            return
        # A replayed request changed nothing: nothing to write (and nothing to refuse), but it was
        # answered, so its session's idle clock restarts as for any other request.
        try:
            refused = self.store.put_many({r["sid"]: r["session"] for r in done if not r["end"] and not r.get("replay")},
                                          drop=[r["sid"] for r in done if r["end"]],
                                          touch=[r["sid"] for r in done if r.get("replay")])
        except sqlite3.Error as exc:  # the shared store rolled its transaction back: nothing changed
            _store_failed(done, "written", exc)
            return
        for r in done:
            if r["sid"] in refused:
                r["error"] = (409, "ConcurrentSessionRequest", f"session {r['sid']!r} was advanced by another "
                              "request meanwhile; this one was not applied: send it again")


def _store_failed(rows: list[dict[str, Any]], what: str, exc: Exception) -> None:
    """The shared store could not be read or written (its file locked by another process past the
    busy timeout, a full disk): each session request of the batch gets a 503 that says so, rather
    than the whole batch failing as TorchServe's bare "Prediction failed". Nothing was applied,
    so the client sends the request again, with the same `after`, as after a timeout."""
    refused = [r for r in rows if "sid" in r and "error" not in r]
    logger.error("session store could not be %s, %d session request(s) refused: %s", what, len(refused), exc)
    for r in refused:
        r["error"] = (503, "SessionStoreUnavailable", f"the session store could not be {what}: {exc}; nothing "
                      "was applied: send the request again (with the same 'after')")


def outcome_counts(rows: list[dict[str, Any]]) -> Counter:
    """What went otherwise than planned for the batch's session requests, by name: each session error
    by its type (SessionExpired, SessionOutOfStep, ConcurrentSessionRequest, SessionStoreUnavailable),
    and SessionRequestResent for a request answered again. Empty for the usual batch, where every
    request was applied."""
    return Counter(r["error"][1] if "error" in r else "SessionRequestResent"
                   for r in rows if "sid" in r and ("error" in r or r.get("replay")))
