"""Stateful-session load for `bench-serve --sessions`: one GRU step per request, vs the no-op floor."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from .archive import SESSIONS_CONFIG
from .bench_load import LUA, alternate, bodies, run_wrk
from .bench_server import bench_server, merged_config
from .checkpoint import run_config
from .errors import SessrecError
from .server_cpu import with_cpu
from .vocab import Vocab

SESSION_LUA = """
local opening = %s
local events = {%s}  -- movie ids as JSON text (a number, or a text catalog's string), one per request
local sid = nil  -- this thread's session (one connection per thread), nil until opened
local sent = 0   -- events sent in it; at per_session it is closed and a new one opened
local per_session = %d  -- the most events that keep the session under max_len: each costs one GRU step
request = function()
  local headers = {["Content-Type"] = "application/json"}
  if sid == nil then
    return wrk.format("POST", nil, headers, opening)
  end
  sent = sent + 1
  headers["ts_request_sequence_id"] = sid
  if sent == per_session then headers["ts_request_sequence_end"] = "true" end
  -- as README's client does: name the step this request follows (the opening answer is step 1)
  return wrk.format("POST", nil, headers,
                    '{"movies":[' .. events[(sent %% #events) + 1] .. '],"k":20,"after":' .. sent .. '}')
end
response = function(status, headers, body)
  if sid == nil then
    sid = headers["ts_request_sequence_id"]
  elseif sent >= per_session then
    sid, sent = nil, 0
  end
end
""" + LUA[LUA.index("done = function"):]

OPENING = 20  # movies in the request that opens a session


def events_per_session(run: Path) -> int:
    """One-movie requests a session takes before the benchmark reopens it: as many as keep its window
    (start token + opening + events) within the run's max_len, where each costs one GRU step (past
    it every request re-encodes the window), at most 100."""
    max_len = int(run_config(run)["max_len"])
    return max(1, min(100, max_len - 1 - OPENING))


def session_load(run: Path, vocab: Vocab) -> tuple[list[str], str]:
    """The sessions workload: one-movie bodies and the wrk script that streams them through sessions
    (opened with `OPENING` movies, reopened every `events_per_session` events)."""
    opening = bodies(vocab, [OPENING], seed=5)[0]
    events = bodies(vocab, [1] * 64, seed=6)
    ids = [json.dumps(json.loads(e)["movies"][0]) for e in events]
    return events, SESSION_LUA % (json.dumps(opening), ",".join(map(_lua_string, ids)), events_per_session(run))


def _lua_string(text: str) -> str:
    """`text` as a Lua long-bracket string literal (nothing inside is escaped), its level chosen so
    that no closing bracket of that level occurs in `text`."""
    level = ""
    while f"]{level}]" in text:
        level += "="
    return f"[{level}[{text}]{level}]"


def measure_sessions(run: Path, vocab: Vocab, connections: int, seconds: int,
                     model_config: Path = SESSIONS_CONFIG, repeats: int = 1) -> list[dict[str, Any]]:
    """One-event requests on open sessions (sessions archive) vs the no-op floor, same connections."""
    events, script = session_load(run, vocab)
    per_session = events_per_session(run)
    results = []
    with bench_server(run, "sessrec_sessions", model_config) as (addr, work, server):
        # Both archives run with the sessions config and get the same session protocol.
        def one(model: str, secs: int) -> dict[str, Any]:
            url = f"{addr['inference_address']}/predictions/{model}"
            return with_cpu(server, lambda: run_wrk(url, events, work, connections, secs, script, threads=connections))
        for res in alternate(one, ("noop", "sessrec_sessions"), seconds, repeats):
            results.append({**res, "workload": "1-event requests in open sessions", "overrides": {},
                            "events_per_session": per_session})
            print(json.dumps(results[-1]), flush=True)
    return results


def sessions_sweep(run: Path, vocab: Vocab, connections: int, seconds: int,
                   variants: list[dict[str, Any]], repeats: int = 1) -> list[dict[str, Any]]:
    """`measure_sessions` (`repeats` runs per model) once per variant of the sessions config (overrides
    merged into it)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="sessrec-knobs-") as tmp:
        for i, overrides in enumerate(variants):
            config = merged_config(overrides, Path(tmp) / f"model-config-{i}.yaml", base=SESSIONS_CONFIG)
            try:
                rows += [{**r, "overrides": overrides}
                         for r in measure_sessions(run, vocab, connections, seconds, config, repeats)]
            except SessrecError as err:  # one variant's server failing to start should not lose the others
                print(f"variant {overrides}: {err}", file=sys.stderr, flush=True)
    return rows
