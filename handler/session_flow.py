"""The stateful half of the sessrec handler: which session each request continues, one GRU step
per new movie, and every session stored before its answer leaves.

Shipped in the archive beside the handler; the handler passes in what it loaded (the model, the
session store, `recommend`'s helpers), so this file imports nothing of the project.
"""

from __future__ import annotations

from typing import Any, Callable

import torch


def session_headers(ctx: Any, i: int) -> tuple[str, bool, bool]:
    """(session id, starts a session?, ends it?) of request i of a TorchServe context.

    TorchServe 0.12 matches its sequence headers case-sensitively: a client that sends
    `Ts_Request_Sequence_Id` (Python's urllib does) gets a NEW sequence id and a start flag
    from the frontend, and its own header passed through. Header names are case-insensitive
    in HTTP, so the client's own header wins. Such requests may reach any worker: the shared
    store makes that safe (a stale write is refused, see `SessionFlow.commit`).
    """
    headers = ctx.get_all_request_header(i) or {}
    keys = {"id": ctx.header_key_sequence_id, "start": ctx.header_key_sequence_start,
            "end": ctx.header_key_sequence_end}
    client = {k: v for k, v in headers.items() if k != k.lower() and k.lower() in keys.values()}
    end = any(str(v).lower() == "true" for k, v in headers.items() if k.lower() == keys["end"])
    own_id = next((v for k, v in client.items() if k.lower() == keys["id"]), None)
    if own_id is not None:
        start = any(str(v).lower() == "true" for k, v in client.items() if k.lower() == keys["start"])
        return str(own_id), start, end
    return ctx.get_sequence_id(i), str(headers.get(keys["start"], "")).lower() == "true", end


class SessionFlow:
    """Session work on the handler's rows (dicts with sid/start/end/new, then session/state/seen)."""

    def __init__(self, model: Any, store: Any, max_len: int, device: Any, start_index: int,
                 pad_batch: Callable[[list[list[int]]], tuple[torch.Tensor, torch.Tensor]],
                 new_session: Callable[[], Any]) -> None:
        self.model, self.store, self.max_len, self.device = model, store, max_len, device
        self.start_index, self.pad_batch, self.new_session = start_index, pad_batch, new_session

    def attach(self, rows: list[dict[str, Any]]) -> None:
        """Give each session request its session (one store read per batch), or a 409/410 error."""
        live = self.store.get_many(r["sid"] for r in rows if "sid" in r and not r["start"])
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
            else:
                taken.add(r["sid"])

    def advance(self, good: list[dict[str, Any]]) -> torch.Tensor:
        """One GRU step per new movie; a full pass over the input window only for a new session or
        once the session outgrows max_len (the window then slides, as a stateless request's would)."""
        full = [r for r in good if r["session"].state is None or 1 + r["session"].length + len(r["new"]) > self.max_len]
        if full:
            windows = [([self.start_index] + r["session"].events + r["new"])[-self.max_len:] for r in full]
            movies, lens = self.pad_batch(windows)
            states = self.model.encode(movies.to(self.device), lens)
            for j, r in enumerate(full):
                r["state"] = states[:, j : j + 1]
        stepping = [r for r in good if "state" not in r]
        for r in stepping:
            r["state"] = r["session"].state
        step, pending = 0, [r for r in stepping if r["new"]]
        while pending:
            movies = torch.tensor([r["new"][step] for r in pending], device=self.device)
            states = self.model.step(torch.cat([r["state"] for r in pending], dim=1), movies)
            for j, r in enumerate(pending):
                r["state"] = states[:, j : j + 1]
            step += 1
            pending = [r for r in pending if len(r["new"]) > step]
        for r in good:
            s = r["session"]
            s.state = r["state"].clone()  # own storage: a batch-wide tensor must not stay alive
            s.events = (s.events + r["new"])[-self.max_len:]
            s.seen.update(r["new"])
            s.length += len(r["new"])
            r["seen"] = list(s.seen)
        return self.model.scores(torch.cat([r["state"] for r in good], dim=1)).cpu()

    def commit(self, rows: list[dict[str, Any]]) -> None:
        """Store the advanced sessions before any answer leaves (the next request may reach another
        worker). A session that another worker advanced meanwhile keeps that state; this request
        then gets a 409 rather than an answer that forgot an event."""
        done = [r for r in rows if "sid" in r and "error" not in r]
        refused = self.store.put_many({r["sid"]: r["session"] for r in done if not r["end"]},
                                      drop=[r["sid"] for r in done if r["end"]])
        for r in done:
            if r["sid"] in refused:
                r["error"] = (409, "ConcurrentSessionRequest", f"session {r['sid']!r} was advanced by another "
                              "request meanwhile; this one was not applied: send it again")
