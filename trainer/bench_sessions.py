"""Stateful-session load for `bench-serve --sessions`: one GRU step per request, vs the no-op floor."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .archive import HANDLER_DIR, REPO, SESSIONS_CONFIG, build_archive
from .bench_serve import LUA, bodies, run_wrk
from .server import addresses, start_detached, stop, wait_ready
from .tools import find_tool
from .vocab import Vocab

SESSION_LUA = """
local opening = %s
local events = {%s}
local sid = nil  -- this thread's session (one connection per thread), nil until opened
local sent = 0   -- events sent in it; at 100 it is closed and a new one opened (under max_len)
request = function()
  local headers = {["Content-Type"] = "application/json"}
  if sid == nil then
    return wrk.format("POST", nil, headers, opening)
  end
  sent = sent + 1
  headers["ts_request_sequence_id"] = sid
  if sent == 100 then headers["ts_request_sequence_end"] = "true" end
  return wrk.format("POST", nil, headers, events[(sent %% #events) + 1])
end
response = function(status, headers, body)
  if sid == nil then
    sid = headers["ts_request_sequence_id"]
  elseif sent >= 100 then
    sid, sent = nil, 0
  end
end
""" + LUA[LUA.index("done = function"):]

def measure_sessions(run: Path, vocab: Vocab, connections: int, seconds: int) -> list[dict[str, Any]]:
    """One-event requests on open sessions (sessions archive) vs the no-op floor, same connections."""
    work = Path(tempfile.mkdtemp(prefix="sessrec-bench-"))
    store = work / "store"
    build_archive(run, store, "sessrec_sessions", model_config=SESSIONS_CONFIG)
    subprocess.run([find_tool("torch-model-archiver"), "--model-name", "noop", "--version", "1.0", "--handler",
                    str(HANDLER_DIR / "noop_handler.py"), "--config-file", str(HANDLER_DIR / "model-config.yaml"),
                    "--export-path", str(store), "--force"], check=True, env={**os.environ, "TMPDIR": str(work)})
    addr = addresses(REPO / "config.properties")
    proc = start_detached(["--start", "--foreground", "--ncs", "--ts-config", str(REPO / "config.properties"),
                           "--model-store", str(store), "--models", "sessrec_sessions=sessrec_sessions.mar",
                           "noop=noop.mar"], work)
    opening = bodies(vocab, [20], seed=5)[0]
    events = bodies(vocab, [1] * 64, seed=6)
    script = SESSION_LUA % (json.dumps(opening), ",".join(json.dumps(e) for e in events))
    results = []
    try:
        for model in ("sessrec_sessions", "noop"):
            wait_ready(addr["management_address"], model, proc=proc)
        for model, text in (("noop", None), ("sessrec_sessions", script)):
            url = f"{addr['inference_address']}/predictions/{model}"
            run_wrk(url, events, work, connections, 3, text, threads=connections)  # warm-up
            res = {**run_wrk(url, events, work, connections, seconds, text, threads=connections), "model": model,
                   "workload": "1-event requests" + (" in open sessions" if text else ""), "overrides": {}}
            results.append(res)
            print(json.dumps(res), flush=True)
    finally:
        stop(work)
        proc.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    return results
