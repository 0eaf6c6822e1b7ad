"""`make profile-serve`: where the model workers' CPU goes under load, sampled with py-spy.

The serving benchmark says how much slower sessrec serves than a no-op handler, and the server's
CPU per request says that the difference is in the Python model workers. This says which code in
them takes it: py-spy samples every worker of a running server (`--nonblocking`: the workers are
never paused) while wrk drives the same loads as `bench-serve` (150-id histories, stateless) and
`bench-serve-sessions` (one-movie requests in open sessions), and `profile_buckets` puts each
sample in a bucket. A bucket's microseconds per request are its share of the samples times the
workers' CPU per request measured over the same load (from /proc), so they are estimates: py-spy
decides from the OS which samples are idle, and its sampling costs the machine a little CPU.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from .archive import HANDLER_DIR, REPO, SESSIONS_CONFIG
from .bench_load import bodies, run_wrk
from .bench_server import bench_server
from .bench_sessions import session_load
from .benchmarks_md import measured_on, replace_section
from .errors import as_cli_error, exit_with_error
from .evaluate import load_exported
from .profile_buckets import BUCKETS, breakdown, parse_raw
from .server_cpu import session_processes, with_cpu


def profile_load(server: int, load: Callable[[int], dict[str, Any]], seconds: int, out_dir: Path,
                 rate: int) -> dict[str, Any]:
    """Run `load(seconds + 4)` (a wrk run returning its result) while py-spy samples every worker
    for `seconds`, starting 2 s in; the load's result with the samples per bucket."""
    spy = shutil.which("py-spy") or "py-spy"  # main() checked that it is there
    out_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(with_cpu(server, lambda: load(seconds + 4))))
    thread.start()
    time.sleep(2)
    files, procs = [], []
    for pid in (pid for pid, role, _ in session_processes(server) if role == "workers"):
        files.append(out_dir / f"worker-{pid}.txt")
        procs.append(subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate",
                                       str(rate), "--format", "raw", "--nonblocking", "--output", str(files[-1])],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    errors = [err for p, err in ((p, p.communicate()[1]) for p in procs) if p.returncode != 0]
    thread.join()
    if errors or not files:
        raise RuntimeError(f"py-spy failed: {errors[0].strip() if errors else 'no model workers found'}")
    if "requests" not in result:
        raise RuntimeError("the load generator failed while py-spy sampled (its error is above)")
    samples: Counter = Counter()
    for f in files:
        samples += parse_raw(f.read_text() if f.exists() else "")
    result["samples"] = dict(samples)
    return result


Load = Callable[[str, Path, int], dict[str, Any]]  # (url, work dir, seconds) -> a wrk result


def profile_archive(run: Path, name: str, config: Path, workload: str, load: Load, seconds: int, out_dir: Path,
                    rate: int) -> list[dict[str, Any]]:
    """Serve `name` beside the no-op archive with `config`; profile each under `load` in turn."""
    rows = []
    with bench_server(run, name, config) as (addr, work, server):
        for model in (name, "noop"):
            url = f"{addr['inference_address']}/predictions/{model}"
            load(url, work, 3)  # warm-up: the first requests of a worker pay its lazy set-up
            res = profile_load(server, lambda secs: load(url, work, secs), seconds,
                               out_dir / f"{workload.split()[0]}-{model}", rate)
            res["buckets"] = breakdown(Counter(res["samples"]), res["cpu_us_per_req"]["workers"])
            rows.append({**res, "workload": workload, "model": model})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows: list[dict[str, Any]]) -> list[str]:
    head = "| | " + " | ".join(f"{r['workload']}: {r['model']}" for r in rows) + " |"
    lines = [head, "|---" * (len(rows) + 1) + "|",
             "| req/s while sampled | " + " | ".join(f"{r['req_per_s']:,.0f}" for r in rows) + " |",
             "| server CPU us/req: frontend / workers | " + " | ".join(
                 f"{r['cpu_us_per_req']['frontend']:.0f} / {r['cpu_us_per_req']['workers']:.0f}" for r in rows) + " |"]
    for bucket in BUCKETS:
        if any(bucket in r["buckets"] for r in rows):
            cells = [f"{r['buckets'][bucket]['us_per_req']:.0f} ({r['buckets'][bucket]['share']:.0%})"
                     if bucket in r["buckets"] else "" for r in rows]
            lines.append(f"| {bucket} | " + " | ".join(cells) + " |")
    return lines


def summary(rows: list[dict[str, Any]]) -> list[str]:
    """One line per workload: what sessrec's workers add to the no-op's, and the model's part of it."""
    lines = []
    for ours, floor in zip(rows[::2], rows[1::2]):
        extra = ours["cpu_us_per_req"]["workers"] - floor["cpu_us_per_req"]["workers"]
        model = ours["buckets"].get(BUCKETS[0], {"us_per_req": 0.0})["us_per_req"]
        lines.append(f"- {ours['workload']}: sessrec's workers take {extra:.0f} us per request more than the "
                     f"no-op's; the TorchScript model is {model:.0f} of them ({model / max(extra, 1e-9):.0%}).")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", type=Path, default=Path("runs/latest"))
    parser.add_argument("--seconds", type=int, default=12, help="seconds py-spy samples each archive")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    with as_cli_error():  # before any server starts
        _, vocab, _ = load_exported(args.run)
    for tool in ("wrk", "py-spy"):
        if shutil.which(tool) is None:
            exit_with_error(f"{tool} not found; `make profile-serve` installs it")
    histories = bodies(vocab, [150] * 64)
    events, script = session_load(args.run, vocab)
    out_dir = REPO / "build" / "bench" / "profile"
    shutil.rmtree(out_dir, ignore_errors=True)
    rows = profile_archive(args.run, "sessrec", HANDLER_DIR / "model-config.yaml", "150 ids",
                           lambda url, work, secs: run_wrk(url, histories, work, 32, secs),
                           args.seconds, out_dir, args.rate)
    rows += profile_archive(args.run, "sessrec_sessions", SESSIONS_CONFIG, "1-event sessions",
                            lambda url, work, secs: run_wrk(url, events, work, 32, secs, script, threads=32),
                            args.seconds, out_dir, args.rate)
    (REPO / "build" / "bench" / "profile.json").write_text(json.dumps(rows, indent=2) + "\n")
    machine = measured_on()
    replace_section(args.out, "Where the workers' time goes", "\n".join([
        f"Measured on {machine}: py-spy {args.rate} samples/s on every TorchServe model worker for {args.seconds} s "
        "while wrk (32 connections) drives one archive with the loads of \"Serving throughput\" (stateless "
        "requests of 150 ids) and \"Stateful sessions\" (one-movie requests in open sessions): sessrec's archive, "
        "then the no-op beside it, each with the repo's config for its kind. Each sample counts for the innermost "
        "frame a bucket rule knows (trainer/profile_buckets.py: time in torch or json counts for the project line "
        "that called it); a bucket's us/req is its share of the samples times the workers' CPU per request over "
        "the same load. "
        "Sampling takes CPU too, so req/s here is below the throughput sections'. "
        f"Raw stacks: build/bench/profile/. Command: `make profile-serve RUN={args.run}`.", "", *table(rows), "",
        *summary(rows)]))


if __name__ == "__main__":
    main()
