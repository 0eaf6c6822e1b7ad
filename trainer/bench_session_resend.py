"""Lost session requests: how often TorchServe 0.12 drops one, and whether resending recovers it.

    python -m trainer.bench_session_resend --run RUN [--seconds 60] [--clients 16]

TorchServe 0.12 removes a session's request queue once it has idled `sequenceMaxIdleMSec`, without
a lock against a request being added to it at that moment; such a request is never answered.
Clients here stream sessions with think times drawn around that idle time (where the loss
happens) and, as a control, well past it. Each phase runs twice: giving up on a timeout (counts
the lost requests) and resending with `after` (the handler applies a resent request once); every
session that finishes is checked against one request with its whole history.
Writes the "Lost session requests" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections import Counter
from pathlib import Path

import yaml

from .archive import REPO, SESSIONS_CONFIG
from .bench_server import bench_server
from .benchmarks_md import measured_on, replace_section
from .errors import as_cli_error, exit_with_error
from .evaluate import load_exported
from .session_client import Post, poster, stream_session


def run_phase(post: Post, ids: list[int], think_ms: tuple[float, float], seconds: float, clients: int,
              timeout: float, tries: int) -> Counter:
    total: Counter = Counter()
    errors: list[BaseException] = []
    lock, stop_at = threading.Lock(), time.monotonic() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while time.monotonic() < stop_at and not errors:
                counts, _ = stream_session(post, rng.sample(ids, 5), rng.sample(ids, 20),
                                        lambda: rng.uniform(*think_ms) / 1000, timeout, tries)
                with lock:
                    total.update(counts)
        except BaseException as exc:  # an unexpected answer: the phase's counts would be incomplete
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=60, help="per phase (4 phases)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds before a request is resent")
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    idle = float(yaml.safe_load(SESSIONS_CONFIG.read_text())["sequenceMaxIdleMSec"])
    if args.seconds <= 0 or args.clients < 1 or args.timeout <= 0:
        exit_with_error(f"--seconds and --timeout must be above 0 and --clients at least 1, got "
                        f"{args.seconds:g}, {args.timeout:g}, {args.clients}")
    with as_cli_error():  # before the server starts
        _, vocab, _ = load_exported(args.run)
    ids = vocab.movies
    phases = [(f"{0.75 * idle:g}-{1.25 * idle:g} ms (around the idle time)", (0.75 * idle, 1.25 * idle)),
              (f"{2 * idle:g}-{3 * idle:g} ms (past it)", (2 * idle, 3 * idle))]
    rows = []
    with bench_server(args.run, "sessrec_sessions", SESSIONS_CONFIG) as (addr, _, _):
        post = poster(f"{addr['inference_address']}/predictions/sessrec_sessions")
        for label, think in phases:
            for tries, client in ((1, "gives up"), (4, "resends with `after` (4 tries)")):
                c = run_phase(post, ids, think, args.seconds, args.clients, args.timeout, tries)
                print(label, client, dict(c), flush=True)
                sent = c["answered"] + c["lost"]
                rows.append(f"| {label} | {client} | {sent:,} | {c['timeouts']:,} | {c['lost']:,} "
                            f"({c['lost'] / max(sent, 1):.2%}) | {c['checked']:,} | {c['wrong']:,} |")
    machine = measured_on()
    body = (f"Measured on {machine}: TorchServe 0.12.0, the sessions archive of `{args.run}` with "
            f"handler/model-config-sessions.yaml (sequenceMaxIdleMSec {idle:g}). {args.clients} clients on loopback, "
            f"{args.seconds:g} s per row; each streams sessions of 5 opening movies and 20 one-movie requests, "
            f"waiting a uniform think time before each, with the session header in lower case (one TorchServe "
            f"sequence per session). A request unanswered within {args.timeout:g} s is a timeout. A finished "
            "session's last answer is checked against one request with its whole history. "
            "Command: `make bench-session-resend RUN=...`.\n\n"
            "| think time | client on a timeout | requests | timeouts | lost | sessions checked | wrong answers |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    replace_section(args.out, "Lost session requests", body)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
