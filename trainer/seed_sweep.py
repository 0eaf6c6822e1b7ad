"""Judge a training configuration by its mean over seeds, not by one lucky or unlucky run.

    python -m trainer.seed_sweep --data DIR --out SWEEP_DIR [--seeds 1 2 3 4 5] [--protocol set|next] [--jobs N]
                                 -- [train flags]

Trains one run per seed (`SWEEP_DIR/seed-N`, each exactly `python -m trainer train ... --seed N`),
scores each exported model on the test split as `evaluate --protocol P` does, and prints and saves
(`SWEEP_DIR/summary.json`, or `summary-next.json` for the next-event protocol) the validation metrics
of each best epoch (as training scored them: its --select-protocol) and the test metrics, with their
means and spreads (sd, min-max, and the 95% t interval of the mean: seed_interval.py), and the seed to
ship: the best on the validation metric that training selected epochs by (the first of equal bests, in
--seeds order), chosen without looking at test (`trainer.best_of_k` says what that choice is worth).
On MovieLens-100k one seed moves validation map@20 between 0.048 and 0.078, so the presets in
`trainer/presets.py` were chosen this way. A sweep directory that exists is resumed:
finished seeds are kept, an interrupted one is resumed. `--jobs N` trains N seeds at once, as separate
processes sharing the cores (side_by_side.py; each seed's output in SWEEP_DIR/seed-N.log).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from statistics import mean
from typing import Any

from .__main__ import main as cli
from .atomic import write_text_atomic
from .checkpoint import best_val, history_timings, read_history, run_config
from .config import PROTOCOLS, check_seed
from .errors import ConfigError, SessrecError
from .evaluate import evaluate_run
from .interrupted import Terminated, exit_status, sigterm_as_interrupt, stopped
from .export import MODEL_FILE
from .run_kind import CONFIG_FILE
from .seed_interval import spread, spread_text

SUMMARY_FILE = "summary.json"


def summary_file(protocol: str) -> str:
    """Where a sweep's summary for test scored under `protocol` goes: one file per protocol, so scoring the
    finished seeds again under the other protocol keeps the first."""
    return SUMMARY_FILE if protocol == "set" else f"summary-{protocol}.json"


def train_args(data: Path, run: Path, flags: list[str]) -> list[str] | None:
    """The `python -m trainer` arguments that train RUN with FLAGS, or resume it when it was interrupted;
    None when RUN finished earlier."""
    if (run / MODEL_FILE).exists():
        return None
    resume = ["--resume"] if (run / CONFIG_FILE).exists() else []
    # On resume the run's saved config is used; only the new-run call may carry the flags.
    return ["train", "--data", str(data), "--out", str(run), "--no-progress", *resume, *([] if resume else flags)]


def train_or_resume(data: Path, run: Path, flags: list[str]) -> None:
    """`train --data DATA --out RUN FLAGS` in this process, unless RUN finished earlier."""
    args = train_args(data, run, flags)
    status = cli(args) if args is not None else 0
    # Ctrl-C or SIGTERM: train said what it kept; the caller says how to go on
    if status in (130, Terminated.exit_status):
        raise Terminated if status == Terminated.exit_status else KeyboardInterrupt
    if status != 0:
        raise SessrecError(f"training {run} failed (its error is printed above)")


def check_seeds(seeds: list[int]) -> None:
    """Refuse `--seeds` that are empty, repeated (two runs into one directory) or out of range."""
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds must be distinct and at least one, got {seeds}")
    for seed in seeds:
        check_seed(seed, "--seeds")


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """A command line `OWN -- TRAIN FLAGS` as (own arguments, train flags)."""
    return (argv[: argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])


def check_train_flags(flags: list[str], own: str = "the sweep (--data, --out, --seeds)") -> argparse.Namespace:
    """Refuse train flags that would take the sweep's own place, in any spelling argparse takes
    (`--out=X`, `--ou X`): the sweep puts them after its --data and --out, so they would win, and
    every seed would train on other data or into one directory. Returns the flags as train parses them,
    for a caller with more flags of its own to look for."""
    from .cli_parser import build_parser

    ours = "\0sweep"
    args = build_parser().parse_args(["train", "--data", ours, "--out", ours, *flags])
    taken = [flag for flag, mine in (("--data", str(args.data) != ours), ("--out", str(args.out) != ours),
                                     ("--seed", args.seed is not None)) if mine]
    if taken:
        raise ConfigError(f"give {' and '.join(taken)} to {own}, not among the train flags")
    if args.resume:
        raise ConfigError(f"--resume is not a train flag here: {own.split(' (')[0]} resumes its interrupted runs by itself")
    return args


def sweep(data: Path, out: Path, seeds: list[int], flags: list[str], k: int = 20,
          protocol: str = "set", jobs: int = 1) -> dict[str, Any]:
    """Train and score one run per seed (`jobs` at a time); returns per-seed and mean validation and test
    metrics (test scored under `protocol`) and the seed validation selects."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"--protocol must be {' or '.join(PROTOCOLS)}, got {protocol!r}")
    if jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {jobs}")
    check_seeds(seeds)
    check_train_flags(flags)
    out.mkdir(parents=True, exist_ok=True)
    plans = [(out / f"seed-{seed}", [*flags, "--seed", str(seed)]) for seed in seeds]
    if jobs > 1:
        from .side_by_side import train_side_by_side  # it imports this module

        train_side_by_side(data, plans, jobs)
    else:
        for run, run_flags in plans:
            train_or_resume(data, run, run_flags)
    runs = []
    for seed, (run, _) in zip(seeds, plans):
        history, cfg = read_history(run), run_config(run)
        metric = cfg["select_metric"]
        runs.append({"seed": seed, "run": str(run), "best_epoch": history_timings(history, metric)["best_epoch"],
                     "select_metric": metric, "selected_by": f"{metric} ({cfg['select_protocol']})",
                     "val": best_val(history, metric),
                     "test": evaluate_run(data, run, "test", k, protocol=protocol)})
    keys = [key for key, v in runs[0]["test"].items() if isinstance(v, float)]
    summary = {"data": str(data), "flags": flags, "seeds": seeds, "protocol": protocol, "runs": runs,
               "mean": {split: {key: mean(r[split][key] for r in runs) for key in keys} for split in ("val", "test")},
               "spread": {split: {key: spread([r[split][key] for r in runs]) for key in keys}
                          for split in ("val", "test")},
               "selected": select_seed(runs)}
    write_text_atomic(out / summary_file(protocol), json.dumps(summary, indent=2) + "\n")
    return summary


def select_seed(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The run to ship from a sweep, chosen as training chooses an epoch: the highest validation value of the
    metric the runs selected their epochs by, the first of equal bests in --seeds order. Test plays no part.

    Args:
        runs: the sweep's runs, each with `seed`, `run`, `select_metric`, `selected_by` (the metric and the
            protocol it was scored by) and its best epoch's `val` metrics.

    Returns:
        `seed`, `run`, `by` (as `selected_by`) and `val` (the metric's value); None when the runs selected by
        different metrics or protocols (a sweep directory resumed with other flags), which are not comparable.
    """
    if len({r["selected_by"] for r in runs}) != 1:
        return None
    metric = runs[0]["select_metric"]
    best = max(runs, key=lambda r: r["val"][metric])  # max keeps the first of equal values
    return {"seed": best["seed"], "run": best["run"], "by": best["selected_by"], "val": best["val"][metric]}


def summary_lines(summary: dict[str, Any], keys: tuple[str, ...] = ("map@20", "ndcg@10", "hr@10")) -> list[str]:
    lines = [f"seed {r['seed']}: best epoch {r['best_epoch']}, " + ", ".join(
        f"{k} val {r['val'][k]:.4f} test {r['test'][k]:.4f}" for k in keys) for r in summary["runs"]]
    m = summary["mean"]
    lines.append(f"mean of {len(summary['runs'])} seeds: " + ", ".join(
        f"{k} val {m['val'][k]:.4f} test {m['test'][k]:.4f}" for k in keys))
    if len(summary["runs"]) > 1:  # one seed has no spread
        lines.append("test spread over the seeds: " + "; ".join(
            spread_text(k, summary["spread"]["test"][k]) for k in keys))
    chosen = summary["selected"]
    if chosen is None:
        lines.append("no seed selected: the runs chose their epochs by different validation metrics "
                     f"({', '.join(sorted({r['selected_by'] for r in summary['runs']}))})")
    else:
        lines.append(f"selected by validation {chosen['by']}: seed {chosen['seed']} ({chosen['run']}); "
                     f"ship it with `make archive RUN={chosen['run']}`")
    return lines


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    own, flags = split_argv(argv)
    parser = argparse.ArgumentParser(prog="python -m trainer.seed_sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="sweep directory (one run per seed inside)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    # checked by `sweep`, so that a bad value is an `error:` line and exit 2 like every other sweep error
    parser.add_argument("--protocol", default="set", metavar="{set,next}",
                        help="how the test split is scored, as `evaluate --protocol` (default set)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="train this many seeds at once, each with its share of the cores (logs: seed-N.log)")
    args = parser.parse_args(own)
    try:
        with sigterm_as_interrupt():
            summary = sweep(args.data, args.out, args.seeds, flags, protocol=args.protocol, jobs=args.jobs)
    except SessrecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"{stopped(exc)}; {args.out} keeps its finished seeds: the same command again continues the sweep "
              "(an interrupted seed resumes from its last finished epoch)", file=sys.stderr)
        return exit_status(exc)
    print("\n".join(summary_lines(summary)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
