"""What a warm start (`train --init-from`) buys: retrains of newer data, cold and warm, side by side.

    python -m trainer.bench_warm_start --old OLD_DATA --new NEW_DATA --out DIR [--seeds 1 2 3]
        [--keep 1 0.5] -- [train flags]

OLD_DATA is the same log split earlier (`prepare ... --test-frac 0.2` beside the standard 0.1, say):
last week's data. For each seed it trains the old run on it (`DIR/old-seed-N`), then on NEW_DATA a
cold run (`DIR/cold-seed-N`) and one warm run per `--keep` value started from the old run
(`DIR/keep-K-seed-N`, `--init-from ... --init-keep K`), all with the same train flags and seed, and
scores every run on NEW_DATA's test split, the old one too (the model a retrain would replace). It
prints, and saves to `DIR/summary.json`, the means over the seeds: validation and test map@20, epochs
and seconds to the best epoch; with `--md BENCHMARKS.md --name NAME`, also as that file's section
"Warm-start retrains (NAME)". A directory that exists is resumed: finished runs are kept.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from statistics import mean
from typing import Any

from .atomic import write_text_atomic
from .benchmarks_md import measured_on, replace_section
from .checkpoint import best_val, history_timings, read_history, selection_metric
from .errors import ConfigError, as_cli_error
from .evaluate import evaluate_run
from .seed_sweep import check_seeds, check_train_flags, split_argv, train_or_resume

METRIC = "map@20"


def _score(run: Path, data: Path, trained: bool) -> dict[str, Any]:
    """A run's test figures on `data`, and (`trained`: it was trained on `data`) its validation and timings."""
    row: dict[str, Any] = {"test": evaluate_run(data, run, "test")[METRIC]}
    if trained:
        history, metric = read_history(run), selection_metric(run)
        row.update(val=best_val(history, metric)[METRIC], **history_timings(history, metric))
    return row


def bench(old: Path, new: Path, out: Path, seeds: list[int], keeps: list[float], flags: list[str]) -> dict[str, Any]:
    """Train and score every run (see the module docstring); returns the per-seed rows and their means."""
    check_seeds(seeds)
    if not keeps or any(not 0 < k <= 1 for k in keeps):
        raise ConfigError(f"--keep values must be in (0, 1], got {keeps}")
    given = check_train_flags(flags, "the benchmark (--old, --new, --out, --seeds)")
    if given.init_from is not None or given.init_keep is not None:  # in any spelling argparse takes
        raise ConfigError("--init-from and --init-keep are the benchmark's (--old, --keep), not train flags")
    out.mkdir(parents=True, exist_ok=True)
    kinds = ["cold", *[f"keep-{k:g}" for k in keeps]]
    rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in ["old", *kinds]}
    for seed in seeds:
        seeded = [*flags, "--seed", str(seed)]
        old_run = out / f"old-seed-{seed}"
        train_or_resume(old, old_run, seeded)
        rows["old"].append(_score(old_run, new, trained=False))
        for kind, keep in zip(kinds, [None, *keeps]):
            run = out / f"{kind}-seed-{seed}"
            start = [] if keep is None else ["--init-from", str(old_run), "--init-keep", str(keep)]
            train_or_resume(new, run, [*seeded, *start])
            rows[kind].append(_score(run, new, trained=True))
    means = {kind: {key: mean(r[key] for r in rs) for key in rs[0]} for kind, rs in rows.items()}
    summary = {"old": str(old), "new": str(new), "flags": flags, "seeds": seeds, "metric": METRIC,
               "runs": rows, "mean": means}
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def table(summary: dict[str, Any]) -> str:
    """The means as a Markdown table, one row per kind of run."""
    lines = [f"| run (mean of {len(summary['seeds'])} seeds) | validation {METRIC} | test {METRIC} | best epoch | "
             "seconds to it |", "|---|---|---|---|---|"]
    for kind, m in summary["mean"].items():
        if kind == "old":
            lines.append(f"| the old run, not retrained | | {m['test']:.4f} | | |")
        else:
            lines.append(f"| {kind} | {m['val']:.4f} | {m['test']:.4f} | {m['best_epoch']:.1f} | "
                         f"{m['time_to_best_seconds']:.1f} |")
    return "\n".join(lines)


def _described(data: str) -> str:
    """`data` with what its meta.json (written by `prepare`) says of its split."""
    try:
        meta = json.loads((Path(data) / "meta.json").read_text())
        return (f"`{data}` ({Path(str(meta['source'])).name}, {meta['split']} split, validate {meta['val_frac']:g}, "
                f"test {meta['test_frac']:g})")
    except (OSError, ValueError, KeyError, TypeError):
        return f"`{data}`"


def section(summary: dict[str, Any], argv: list[str]) -> str:
    """BENCHMARKS.md's text for `summary`: what was run, how, and the table."""
    return (f"Measured on {measured_on()}: each seed ({', '.join(map(str, summary['seeds']))}) trains an old run on "
            f"{_described(summary['old'])}, then on {_described(summary['new'])} a cold run and warm runs from the old "
            f"one (`train --init-from OLD --init-keep K`), "
            + (f"with the train flags `{shlex.join(summary['flags'])}`; " if summary["flags"] else "with train's defaults; ")
            + f"every run is tested on `{summary['new']}`, the old one too (the model a retrain replaces). Validation "
            "and test map@20 of each best epoch, the epoch, and the seconds to it (training and validation) are the "
            f"means over the seeds. Command: `python -m trainer.bench_warm_start {shlex.join(argv)}`.\n\n"
            + table(summary))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    own, flags = split_argv(argv)
    parser = argparse.ArgumentParser(prog="python -m trainer.bench_warm_start", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, required=True, help="the data the old run learns from (an earlier split)")
    parser.add_argument("--new", type=Path, required=True, help="the data every retrain learns from and is tested on")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--keep", type=float, nargs="+", default=[1.0, 0.5], help="--init-keep values to compare")
    parser.add_argument("--md", type=Path, default=None, help="also write the table into this file (BENCHMARKS.md)")
    parser.add_argument("--name", default=None, help="with --md: the data's name in the section's title")
    args = parser.parse_args(own)
    with as_cli_error():
        if (args.md is None) != (args.name is None):
            raise ConfigError("--md and --name go together (the section is 'Warm-start retrains (NAME)')")
        summary = bench(args.old, args.new, args.out, args.seeds, args.keep, flags)
    print(table(summary))
    if args.md is not None:
        replace_section(args.md, f"Warm-start retrains ({args.name})", section(summary, argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
