"""`bench-serve`: sessrec vs a no-op archive on one TorchServe, driven by wrk on loopback.

Writes `BENCHMARKS.md` (its serving section) and `build/bench/serve.json`.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from .archive import HANDLER_DIR, REPO, build_archive
from .benchmarks_md import replace_section
from .server import http, start_detached, stop, wait_ready
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


def bodies(vocab: Vocab, lengths: list[int], seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [json.dumps({"movies": [int(m) for m in rng.choice(vocab.movies, size=n)], "k": 20}) for n in lengths]


def run_wrk(url: str, payloads: list[str], workdir: Path, connections: int, seconds: int, threads: int = 2) -> dict:
    script = workdir / f"load-{len(payloads)}.lua"
    script.write_text(LUA % ",".join(json.dumps(p) for p in payloads))
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script),
                          url], capture_output=True, text=True, check=True).stdout
    result = json.loads(re.search(r"^RESULT (.*)$", out, flags=re.M).group(1))
    result["req_per_s"] = round(result["requests"] / result["seconds"], 1)
    result["connections"] = connections
    return result


def noop_archive(store: Path) -> None:
    subprocess.run([str(Path(shutil.which("torch-model-archiver") or "torch-model-archiver")), "--model-name", "noop",
                    "--version", "1.0", "--handler", str(HANDLER_DIR / "noop_handler.py"), "--config-file",
                    str(HANDLER_DIR / "model-config.yaml"), "--export-path", str(store), "--force"], check=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", type=Path, default=Path("runs/latest"))
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, nargs="+", default=[32])
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("error: wrk not found (Debian: apt-get install wrk); `make bench-serve` installs it")
    vocab = Vocab.load(args.run / "vocab.json")
    work = Path(tempfile.mkdtemp(prefix="sessrec-bench-"))
    store = work / "store"
    build_archive(args.run, store)
    noop_archive(store)
    config = (REPO / "config.properties").read_text()
    addr = dict(re.findall(r"^(inference_address|management_address)=(\S+)$", config, flags=re.M))
    proc = start_detached(["--start", "--foreground", "--ncs", "--ts-config", str(REPO / "config.properties"),
                           "--model-store", str(store), "--models", "sessrec=sessrec.mar", "noop=noop.mar"], work)
    rng = np.random.default_rng(1)
    workloads = {"150 ids": bodies(vocab, [150] * 64), "mixed 1-150 ids": bodies(vocab, list(rng.integers(1, 151, 64)))}
    results = []
    try:
        for model in ("sessrec", "noop"):
            wait_ready(addr["management_address"], model, proc=proc)
            status, _ = http("POST", f"{addr['inference_address']}/predictions/{model}", workloads["150 ids"][0].encode())
            assert status == 200, f"{model} answered {status}"
        for name, payloads in workloads.items():
            for connections in args.connections:
                for model in ("noop", "sessrec"):
                    url = f"{addr['inference_address']}/predictions/{model}"
                    run_wrk(url, payloads, work, connections, 3)  # warm-up
                    res = run_wrk(url, payloads, work, connections, args.seconds)
                    res.update(model=model, workload=name)
                    results.append(res)
                    print(json.dumps(res), flush=True)
    finally:
        stop(work)
        proc.wait(timeout=60)
    (REPO / "build" / "bench").mkdir(parents=True, exist_ok=True)
    (REPO / "build" / "bench" / "serve.json").write_text(json.dumps(results, indent=2) + "\n")
    rows = ["| workload | conns | model | req/s | p50 ms | p95 ms | p99 ms | non-2xx | ratio sessrec/no-op |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        floor = next(x for x in results if x["model"] == "noop" and x["workload"] == r["workload"]
                     and x["connections"] == r["connections"])
        ratio = f"{r['req_per_s'] / floor['req_per_s']:.2f}" if r["model"] == "sessrec" else ""
        rows.append(f"| {r['workload']} | {r['connections']} | {r['model']} | {r['req_per_s']:,.0f} | {r['p50_ms']:.1f} | "
                    f"{r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['non2xx']} | {ratio} |")
    cfg = (HANDLER_DIR / "model-config.yaml").read_text()
    knobs = ", ".join(f"{k}={v}" for k, v in re.findall(r"^\s*(minWorkers|batchSize|maxBatchDelay|threads): (\d+)", cfg, re.M))
    body = "\n".join([
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} with {len(__import__('os').sched_getaffinity(0))} cores; "
        f"TorchServe 0.12.0, wrk on the same machine (2 threads, {args.seconds} s after a 3 s warm-up), "
        f"one TorchServe serving both archives with the repo's config.properties and model-config.yaml ({knobs}).",
        f"Run: `{' '.join(['make bench-serve'])}` (model: `{args.run}`, {vocab.size - 1} movies).", "", *rows])
    replace_section(args.out, "Serving throughput", body)


if __name__ == "__main__":
    main()
