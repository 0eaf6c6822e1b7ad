"""Load generation for the serving benchmarks: wrk on loopback, closed-loop or paced, and the
alternating repeated runs that make a ratio trustworthy on a drifting VM."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .vocab import Vocab

LUA = """
local bodies = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, bodies[(n %% #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %%d, "seconds": %%.3f, "non2xx": %%d, "socket_errors": %%d, ' ..
    '"p50_ms": %%.3f, "p95_ms": %%.3f, "p99_ms": %%.3f, "max_ms": %%.3f}\\n', summary.requests,
    summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""
# Paced load: each connection waits an exponential think time before its next request. With many
# connections and think times far above the latency, arrivals are close to an open (Poisson)
# stream, so a slow answer does not hold the load back much (wrk2 would be exact; it is not packaged).
PACE_LUA = """
local mean_ms = %f
delay = function()
  return -mean_ms * math.log(1 - math.random())
end
"""
PACED_CONNECTIONS = 128


def bodies(vocab: Vocab, lengths: list[int], seed: int = 0) -> list[str]:
    """Request bodies of random catalog movies, `lengths[i]` ids each, as the run's clients name them
    (a catalog of text ids gets strings); the same draws for either."""
    rng = np.random.default_rng(seed)
    ids = vocab.names if vocab.names is not None else vocab.movies
    return [json.dumps({"movies": [ids[i] for i in rng.choice(len(ids), size=n)], "k": 20}) for n in lengths]


def run_wrk(url: str, payloads: list[str], workdir: Path, connections: int, seconds: int,
            script_text: str | None = None, threads: int = 2) -> dict[str, Any]:
    script = workdir / "load.lua"
    script.write_text(script_text or LUA % ",".join(json.dumps(p) for p in payloads))
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script),
                          url], capture_output=True, text=True, check=True).stdout
    result = json.loads(re.search(r"^RESULT (.*)$", out, flags=re.M).group(1))
    result["req_per_s"] = round(result["requests"] / result["seconds"], 1)
    result["connections"] = connections
    return result


def run_paced(url: str, payloads: list[str], workdir: Path, rate: float, seconds: int) -> dict[str, Any]:
    """wrk at about `rate` req/s: a short calibration pass, then the measured pass."""
    conns = PACED_CONNECTIONS
    base = LUA % ",".join(json.dumps(p) for p in payloads)
    think = conns / rate * 1000.0  # ms per connection cycle if answers were instant
    probe = run_wrk(url, payloads, workdir, conns, 5, base + PACE_LUA % think)
    # A connection's cycle is think time + mean latency; the probe's rate tells the latency.
    latency = conns / probe["req_per_s"] * 1000.0 - think
    think = max(0.0, conns / rate * 1000.0 - latency)
    result = run_wrk(url, payloads, workdir, conns, seconds, base + PACE_LUA % think)
    result["target_req_per_s"] = round(rate, 1)
    return result


def alternate(one: Callable[[str, int], dict[str, Any]], models: tuple[str, str], seconds: int,
              repeats: int) -> list[dict[str, Any]]:
    """Measure the floor and sessrec `repeats` times, alternating, after a 3 s warm-up of each.

    This VM's speed drifts between runs of the same thing (by 10% usually, at times 25% between back-to-back
    runs of sessrec), so a single pair can mislead:
    each model's row is its median run (by req/s), `runs` lists every run, and the ratio is the
    median of the ratios of runs taken back to back."""
    for model in models:
        one(model, 3)
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in models}
    for _ in range(repeats):
        for model in models:
            runs[model].append(one(model, seconds))
    rows = []
    for model in models:
        ordered = sorted(runs[model], key=lambda r: r["req_per_s"])
        rows.append({**ordered[(len(ordered) - 1) // 2], "model": model, "runs": [r["req_per_s"] for r in runs[model]]})
    ratios = sorted(b["req_per_s"] / a["req_per_s"] for a, b in zip(runs[models[0]], runs[models[1]]))
    rows[1]["ratio"] = round(ratios[(len(ratios) - 1) // 2], 3)
    return rows
