"""What training k seeds and shipping the best on validation buys, from runs already trained.

    python -m trainer.best_of_k FILE [--match TEXT ...] [--select map@20] [--metrics hr@10 ndcg@10]
                                [--goal ndcg@10=0.175] [--k 1 2 3]

FILE is a seed sweep's summary (`seed_sweep`'s summary.json) or a table of runs (`bench_cpu_steps`'s JSON;
--match keeps the rows whose name contains any TEXT). Every group of k of those runs is taken (all
combinations), its run with the best validation --select value shipped, as `seed_sweep` selects (the first
of equal bests), and the shipped runs' test metrics averaged over the groups; with --goal, the share of
groups whose shipped run reaches it too. k = 1 is the plain mean over the runs (their sd, range and t
interval of the mean are printed above the groups). The runs must have been trained alike (one
configuration, other seeds): the figures say what a seed draw gives, nothing more.
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import combinations
from pathlib import Path
from statistics import correlation, mean
from typing import Any

from .errors import ConfigError, SessrecError
from .seed_interval import spread, spread_text


def best_of_k(runs: list[dict[str, Any]], k: int, select: str, metrics: list[str],
              goal: tuple[str, float] | None = None) -> dict[str, Any]:
    """The mean test metrics of the run that validation picks from each group of k runs.

    Args:
        runs: runs with `val` and `test` metric dicts (a sweep's `runs`, a bench table's `rows`).
        k: the group size, 1 to len(runs).
        select: the validation metric that picks a group's run (higher is better; the first of equals).
        metrics: the test metrics to average.
        goal: (metric, value): also report the share of groups whose pick has test metric >= value.

    Returns:
        `k`, `groups` (how many), `test` (metric -> mean over the groups' picks), and `at_goal` with a goal.
    """
    if not 1 <= k <= len(runs):
        raise ConfigError(f"--k must be in 1..{len(runs)} (the number of runs), got {k}")
    for name, split in [(select, "val"), *((m, "test") for m in metrics), *([(goal[0], "test")] if goal else [])]:
        missing = [r.get("run", r.get("seed")) for r in runs if name not in r.get(split, {})]
        if missing:
            raise ConfigError(f"{split} metric {name!r} is missing from runs {missing}")
    picks = [max(group, key=lambda r: r["val"][select]) for group in combinations(runs, k)]
    out: dict[str, Any] = {"k": k, "groups": len(picks),
                           "test": {m: mean(r["test"][m] for r in picks) for m in metrics}}
    if goal is not None:
        out["at_goal"] = sum(r["test"][goal[0]] >= goal[1] for r in picks) / len(picks)
    return out


def val_test_correlation(runs: list[dict[str, Any]], select: str, metric: str) -> float | None:
    """Pearson correlation over the runs of validation `select` and test `metric`: how far validation can tell a
    better seed; None for fewer than three runs (any two points lie on a line: +-1 would say nothing) or a
    constant column."""
    xs, ys = [r["val"][select] for r in runs], [r["test"][metric] for r in runs]
    # statistics.correlation sees a constant column of floats as a rounding error's worth of spread (-0.00)
    if len(runs) < 3 or len(set(xs)) == 1 or len(set(ys)) == 1:
        return None
    return correlation(xs, ys)


def load_runs(path: Path, match: list[str] | None) -> list[dict[str, Any]]:
    """The runs of a sweep summary (`runs`) or a bench table (`rows`), those whose name contains any of `match`."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read runs from {path}: {exc}") from exc
    runs = doc.get("runs", doc.get("rows")) if isinstance(doc, dict) else None
    if not isinstance(runs, list):
        raise ConfigError(f"{path} is neither a seed sweep's summary (runs) nor a bench table (rows)")
    if match:
        runs = [r for r in runs if any(text in str(r.get("run", "")) for text in match)]
    if not runs:
        raise ConfigError(f"no runs in {path}" + (f" whose name contains any of {match}" if match else ""))
    return runs


def parse_goal(text: str) -> tuple[str, float]:
    metric, _, value = text.partition("=")
    try:
        return metric, float(value)
    except ValueError:
        raise ConfigError(f"--goal must be METRIC=VALUE (say ndcg@10=0.175), got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer.best_of_k", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--match", nargs="+", help="keep the runs whose name contains any of these texts")
    parser.add_argument("--select", default="map@20", help="validation metric that picks (default map@20)")
    parser.add_argument("--metrics", nargs="+", default=["hr@10", "ndcg@10"])
    parser.add_argument("--goal", help="METRIC=VALUE: the share of picks at or above it")
    parser.add_argument("--k", type=int, nargs="+", help="group sizes (default 1 to the number of runs)")
    args = parser.parse_args(argv)
    try:
        runs = load_runs(args.file, args.match)
        goal = parse_goal(args.goal) if args.goal else None
        results = [best_of_k(runs, k, args.select, args.metrics, goal) for k in args.k or range(1, len(runs) + 1)]
    except SessrecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(runs)} runs; each group's pick: the best validation {args.select}")
    for m in args.metrics:
        r = val_test_correlation(runs, args.select, m)
        print(f"correlation of validation {args.select} and test {m} over the runs: "
              + (f"{r:.2f}" if r is not None else "undefined (needs 3 runs)" if len(runs) < 3
                 else "undefined (a constant column)"))
    if len(runs) > 1:  # k = 1's picks are the runs themselves: their spread is the seed draw's
        print("test spread over the runs: " + "; ".join(
            spread_text(m, spread([r["test"][m] for r in runs])) for m in args.metrics))
    for res in results:
        at_goal = f", {res['at_goal']:.0%} at or above {args.goal}" if goal else ""
        groups = f"{res['groups']} group{'s' if res['groups'] != 1 else ''}"
        print(f"k={res['k']} ({groups}): " + ", ".join(
            f"test {m} {v:.4f}" for m, v in res["test"].items()) + at_goal)
    return 0


if __name__ == "__main__":
    sys.exit(main())
