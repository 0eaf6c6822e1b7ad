"""`bench-serve`: sessrec vs a no-op archive on one TorchServe, driven by wrk on loopback.

Both archives carry the same model-config.yaml and run on one server with the repo's
config.properties, so the req/s ratio isolates sessrec's own cost. `--sweep` repeats the 150-id
workload over variants of the serving knobs. Writes BENCHMARKS.md sections and build/bench/*.json.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .archive import HANDLER_DIR, REPO, SESSIONS_CONFIG
from .bench_load import PACED_CONNECTIONS, alternate, bodies, run_paced, run_wrk
from .bench_server import bench_server, merged_config
from .benchmarks_md import measured_on, replace_section
from .errors import as_cli_error, exit_with_error
from .evaluate import load_exported
from .server import http
from .server_cpu import with_cpu

CPU_NOTE = ("Server CPU: the CPU time of TorchServe's Java frontend and of all its Python model workers over a run "
            "(from /proc), per request. Both archives share the frontend; the no-op's workers figure is TorchServe's "
            "own Python protocol, which sessrec's workers pay too, so sessrec's own work is the difference.")

SWEEP = [  # each a set of overrides of handler/model-config.yaml
    {},
    {"minWorkers": 1, "maxWorkers": 1, "handler": {"threads": 2}},
    {"minWorkers": 2, "maxWorkers": 2, "handler": {"threads": 2}},
    {"batchSize": 8},
    {"batchSize": 32},
    {"maxBatchDelay": 1},
    {"maxBatchDelay": 10},
]

SESSIONS_SWEEP = [  # each a set of overrides of handler/model-config-sessions.yaml
    {},
    {"minWorkers": 1, "maxWorkers": 1, "handler": {"sessions": {"store": "memory"}}},
    {"batchSize": 8},
    {"batchSize": 32},
    {"maxBatchDelay": 1},
    {"maxBatchDelay": 5},
    {"maxBatchDelay": 10},
]


def measure(run: Path, overrides: dict[str, Any], workloads: dict[str, list[str]], connections: list[int],
            seconds: int, paced_fraction: float | None = None, repeats: int = 1) -> list[dict[str, Any]]:
    """Serve sessrec and no-op archives with the same knobs; wrk each workload against both, and
    with `paced_fraction`, sessrec again at that fraction of its measured peak."""
    results = []
    config_dir = Path(tempfile.mkdtemp(prefix="sessrec-knobs-"))
    config = merged_config(overrides, config_dir / "model-config.yaml")
    with bench_server(run, "sessrec", config) as (addr, work, server):
        status, _ = http("POST", f"{addr['inference_address']}/predictions/sessrec",
                         next(iter(workloads.values()))[0].encode())
        if status != 200:
            raise RuntimeError(f"sessrec answered HTTP {status}")
        for name, payloads in workloads.items():
            for conns in connections:
                def one(model: str, secs: int) -> dict[str, Any]:
                    url = f"{addr['inference_address']}/predictions/{model}"
                    return with_cpu(server, lambda: run_wrk(url, payloads, work, conns, secs))
                for res in alternate(one, ("noop", "sessrec"), seconds, repeats):
                    results.append({**res, "workload": name, "overrides": overrides})
                    print(json.dumps(results[-1]), flush=True)
                url = f"{addr['inference_address']}/predictions/sessrec"
                if paced_fraction:
                    rate = paced_fraction * results[-1]["req_per_s"]
                    res = {**run_paced(url, payloads, work, rate, seconds), "model": "sessrec", "overrides": overrides,
                           "workload": f"{name}, paced at {paced_fraction:.0%} of peak"}
                    results.append(res)
                    print(json.dumps(res), flush=True)
    shutil.rmtree(config_dir, ignore_errors=True)
    return results


def table(results: list[dict[str, Any]], with_knobs: bool = False) -> list[str]:
    head = (("| knobs " if with_knobs else "") + "| workload | conns | model | req/s | p50 ms | p95 ms | p99 ms | non-2xx "
            "| sessrec/no-op | server CPU us/req: frontend / workers | every run, req/s |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else ""
        cpu = r.get("cpu_us_per_req")
        cpu_text = f"{cpu['frontend']:,.0f} / {cpu['workers']:,.0f}" if cpu else ""
        knobs = f"| {json.dumps(r['overrides']) if r['overrides'] else 'repo defaults'} " if with_knobs else ""
        rows.append(f"{knobs}| {r['workload']} | {r['connections']} | {r['model']} | {r['req_per_s']:,.0f} | "
                    f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['non2xx']} | {ratio} | {cpu_text} | "
                    f"{', '.join(f'{x:,.0f}' for x in r.get('runs', [r['req_per_s']]))} |")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", type=Path, default=Path("runs/latest"))
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, nargs="+", default=[32])
    parser.add_argument("--repeats", type=int, default=5, help="alternating runs per model; rows are medians")
    parser.add_argument("--sweep-repeats", type=int, default=3,
                        help="alternating runs per model for each variant of --sweep and --sessions-sweep")
    parser.add_argument("--sweep", action="store_true", help="also measure variants of the serving knobs")
    parser.add_argument("--sessions", action="store_true", help="also measure one-event requests in open sessions")
    parser.add_argument("--sessions-sweep", action="store_true",
                        help="only measure variants of the sessions archive's knobs "
                             "(--sweep-repeats runs per model each)")
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    for flag, value in (("--repeats", args.repeats), ("--sweep-repeats", args.sweep_repeats)):
        if value < 1:
            exit_with_error(f"{flag} must be at least 1, got {value}")
    with as_cli_error():  # before any server starts
        _, vocab, run_cfg = load_exported(args.run)
    if shutil.which("wrk") is None:
        exit_with_error("wrk not found (Debian: apt-get install wrk); `make bench-serve` installs it")
    rng = np.random.default_rng(1)
    workloads = {"150 ids": bodies(vocab, [150] * 64), "mixed 1-150 ids": bodies(vocab, list(rng.integers(1, 151, 64)))}
    machine = measured_on()
    cfg = (HANDLER_DIR / "model-config.yaml").read_text()
    knobs = ", ".join(f"{k}={v}" for k, v in re.findall(r"^\s*(minWorkers|batchSize|maxBatchDelay|threads): (\d+)", cfg, re.M))
    out_dir = REPO / "build" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.sessions_sweep:
        from .bench_sessions import sessions_sweep
        rows = sessions_sweep(args.run, vocab, args.connections[0], args.seconds, SESSIONS_SWEEP, args.sweep_repeats)
        (out_dir / "serve_sessions_sweep.json").write_text(json.dumps(rows, indent=2) + "\n")
        replace_section(args.out, "Session knobs", "\n".join([
            f"Measured on {machine}; the sessions method above ({args.seconds} s, medians of {args.sweep_repeats} "
            "alternating runs per model), each row a variant of "
            "handler/model-config-sessions.yaml (no-op archive with the same knobs beside it). Command: "
            "`make bench-serve-sessions-sweep RUN=...`.", "", *table(rows, with_knobs=True)]))
        return
    results = measure(args.run, {}, workloads, args.connections, args.seconds, paced_fraction=0.8,
                      repeats=args.repeats)
    (out_dir / "serve.json").write_text(json.dumps(results, indent=2) + "\n")
    replace_section(args.out, "Serving throughput", "\n".join([
        f"Measured on {machine}: TorchServe 0.12.0 serving sessrec and a no-op archive ({knobs}) with the repo's "
        f"config.properties and log4j2.xml; wrk on the same machine (2 threads, {args.seconds} s after a 3 s "
        f"warm-up), bodies of random real movie ids, k=20. {args.repeats} runs per model, alternating no-op and "
        "sessrec: each row is the median run, the ratio the median of back-to-back ratios (this VM's speed drifts "
        "between runs: the last column lists every run). "
        f"Model: `{args.run}` ({vocab.size - 1} movies, hidden {run_cfg.model.hidden_dim}, max len "
        f"{run_cfg.max_len}: a history's last {run_cfg.max_len} ids go through the GRU, all are masked).",
        f"Paced rows: sessrec alone at 80% of the peak measured just before, {PACED_CONNECTIONS} connections each "
        "waiting an exponential think time between requests (close to open-loop arrivals; wrk2 is not packaged), "
        "so their p99 is the latency under a sustainable load rather than in a saturated queue.",
        CPU_NOTE, "Command: `make bench-serve RUN=...`.", "", *table(results)]))
    if args.sessions:
        from .bench_sessions import OPENING, measure_sessions
        sess = measure_sessions(args.run, vocab, args.connections[0], args.seconds, repeats=args.repeats)
        (out_dir / "serve_sessions.json").write_text(json.dumps(sess, indent=2) + "\n")
        scfg = yaml.safe_load(SESSIONS_CONFIG.read_text())
        sess_knobs = (f"{scfg['minWorkers']} workers, batch {scfg['batchSize']}, {scfg['maxBatchDelay']} ms, "
                      f"store {scfg['handler']['sessions'].get('store', 'memory')}")
        replace_section(args.out, "Stateful sessions", "\n".join([
            f"Measured on {machine}: the sessions archive (handler/model-config-sessions.yaml: sequence batching, "
            f"{sess_knobs}) beside the no-op archive; wrk with {args.connections[0]} threads x 1 connection (as many "
            "connections as the stateless rows), each thread streaming its own "
            f"session: opened with {OPENING} movies, then 1 movie per request (naming the step it follows, "
            "`after`, as README's client does), closed and reopened every "
            f"{sess[0]['events_per_session']} events (as many as keep the session within the model's max len "
            f"{run_cfg.max_len}, so a request costs one GRU step). The no-op floor is the no-op archive with "
            f"the same sessions config and the same session protocol (it only echoes the session id). Medians of {args.repeats} alternating runs, as above. "
            "Server CPU as above. Command: `make bench-serve-sessions RUN=...`.", "", *table(sess)]))
    if args.sweep:
        sweep = [r for overrides in SWEEP for r in measure(args.run, overrides, {"150 ids": workloads["150 ids"]},
                                                           args.connections, args.seconds, repeats=args.sweep_repeats)]
        (out_dir / "serve_sweep.json").write_text(json.dumps(sweep, indent=2) + "\n")
        replace_section(args.out, "Serving knobs", "\n".join([
            f"Measured on {machine}; same method as above ({args.seconds} s, medians of {args.sweep_repeats} "
            "alternating runs per model), 150-id bodies, each row a variant of "
            "handler/model-config.yaml (no-op archive with the same knobs beside it). Command: "
            "`make bench-serve-sweep RUN=...`.", "", *table(sweep, with_knobs=True)]))


if __name__ == "__main__":
    main()
