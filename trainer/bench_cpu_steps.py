"""Render "MovieLens-1M preset steps (CPU)" of BENCHMARKS.md: finished CPU runs side by side.

    python -m trainer.bench_cpu_steps --data build/bench/data/ml-1m --save docs/ablations/ml-1m-cpu-steps.json RUN_DIR...
    python -m trainer.bench_cpu_steps --load docs/ablations/ml-1m-cpu-steps.json   # re-render, no runs needed
    python -m trainer.bench_cpu_steps --load J --save J --data DIR [FIRST_RUN_DIR] NEW_RUN_DIR...  # add rows

Each run's exported model is scored on the test split exactly as `evaluate` does (an `ensemble`
run directory too: its row names the members, and its validation figures are measured, since it
has no epochs); every row after the first is also compared with the first on the same users
(paired bootstrap), so a step counts only when it beats the luck of which users were drawn. Runs
that differ only in the seed are summarised under the table, and two such groups that share seeds
are compared seed by seed. The extracted figures are saved as JSON beside the ablation rounds, so
the table can be re-rendered and checked without the runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from .archive import REPO
from .benchmarks_md import replace_section
from .checkpoint import best_val, history_timings, read_history, run_config
from .config import TrainConfig
from .errors import as_cli_error
from .evaluate import run_cases
from .evaluation import evaluate_scorer, per_user_metrics
from .export import ensemble_members
from .run_kind import ENSEMBLE_FILE
from .seed_interval import spread
from .significance import paired_bootstrap, signed, signed_interval

TITLE = "MovieLens-1M preset steps (CPU)"
COMPARE = ("hr@10", "ndcg@10")
SHOWN = ("hr@10", "ndcg@10", "hr@20", "ndcg@20", "map@20")


def _changes(cfg: dict[str, Any], base: dict[str, Any]) -> str:
    flat = lambda c: {**{k: v for k, v in c.items() if k not in ("model", "data")}, **c["model"]}  # noqa: E731
    now, then = flat(TrainConfig.completed(cfg)), flat(TrainConfig.completed(base))
    # a list setting holds run directories (distill's teachers): their names say enough
    shown = lambda v: (", ".join(Path(x).name for x in v) or "off") if isinstance(v, list) else v  # noqa: E731
    change = lambda k: ("bf16 autocast" if now[k] else "fp32") if k == "amp" else f"{k} {shown(now[k])}"  # noqa: E731
    return ", ".join(change(k) for k in now if now[k] != then.get(k)) or "none (the first row)"


def early_stopped(row: dict[str, Any]) -> bool:
    """Whether the run ended by running out of patience (not by its epoch cap or an interruption)."""
    return row["epochs_run"] - row["best_epoch"] >= row["patience"]


def seed_groups(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows whose configurations differ only in the seed (and data path), in table order; groups
    of two or more, so a step's effect can be read against the spread between seeds."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in (r for r in rows if "ensemble" not in r):  # an ensemble shares its first member's config
        key = json.dumps({k: v for k, v in TrainConfig.completed(r["config"]).items() if k not in ("seed", "data")}, sort_keys=True)
        groups.setdefault(key, []).append(r)
    return [g for g in groups.values() if len(g) > 1]


def _seed_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines, groups = [], seed_groups(rows)
    for group in groups:
        stopped = [r["run"] for r in group if not early_stopped(r)]
        stats = []
        for k in COMPARE:
            vals = [r["test"][k] for r in group]
            s = spread(vals)
            stats.append(f"{k} {sum(vals) / len(vals):.4f} (from {min(vals):.4f} to {max(vals):.4f}; sd {s['sd']:.4f}, "
                         f"{s['level']:.0%} t interval of the mean {s['low']:.4f}-{s['high']:.4f})")
        lines.append(f"Seeds {', '.join(str(r['config']['seed']) for r in group)} of one configuration "
                     f"({', '.join(r['run'] for r in group)}): mean test " + ", ".join(stats)
                     + (f"; not early-stopped: {', '.join(stopped)}" if stopped else "") + ".")
    intro = ("Intervals over seeds are Student's t with one degree of freedom fewer than seeds "
             "(trainer/seed_interval.py): a configuration's mean with its 95% interval, and at seeds two "
             "configurations share, the mean paired difference with the 95% interval of that mean in brackets.")
    return ["", intro, ""] + lines + _paired_lines(groups) if lines else []


def _paired_lines(groups: list[list[dict[str, Any]]]) -> list[str]:
    """One line per two seed groups that share two or more seeds: the later group minus the earlier
    at equal seeds. Seeds are a large part of the spread, so a change read off paired seeds is firmer
    than two means over different seeds."""
    lines = []
    for i, group in enumerate(groups):
        for earlier in groups[:i]:
            before = {r["config"]["seed"]: r for r in earlier}
            pairs = [(before[r["config"]["seed"]], r) for r in group if r["config"]["seed"] in before]
            if len(pairs) < 2:
                continue
            stats = []
            for k in COMPARE:
                diffs = [now["test"][k] - then["test"][k] for then, now in pairs]
                s = spread(diffs)  # paired: the seeds' own spread cancels, only the change's varies
                stats.append(f"{k} {signed_interval(sum(diffs) / len(diffs), s['low'], s['high'])} "
                             f"(per seed {', '.join(map(signed, diffs))}; "
                             f"higher on {sum(d > 0 for d in diffs)} of {len(diffs)})")
            lines.append(f"Paired seeds {', '.join(str(now['config']['seed']) for _, now in pairs)}, {group[0]['run']}'s "
                         f"configuration minus {earlier[0]['run']}'s (changes: "
                         f"{_changes(pairs[0][1]['config'], pairs[0][0]['config'])}): test " + ", ".join(stats) + ".")
    return lines


def measure(data: Path, runs: list[Path]) -> dict[str, Any]:
    """Config, timings, validation at the best epoch, test means and the bootstrap against runs[0]."""
    rows, first = [], None
    for run in runs:
        model, cases = run_cases(data, run)
        with torch.inference_mode():
            values = per_user_metrics(model.predict_next, cases)
        cfg = run_config(run)
        row = {"run": run.name, "config": cfg, "test": {k: float(v.mean()) for k, v in values.items()},
               "users": len(cases.users)}
        if (run / ENSEMBLE_FILE).exists():
            row["ensemble"] = [member.name for member in ensemble_members(run)]
            row["val"] = evaluate_scorer(model.predict_next, run_cases(data, run, "validate")[1])
        else:
            history = read_history(run)
            metric = cfg["select_metric"]
            timings = history_timings(history, metric)
            row.update(timings, epochs_cap=cfg["epochs"], patience=cfg["patience"], val=best_val(history, metric))
        if first is None:
            first = values
        else:
            row["vs_first"] = {k: vars(paired_bootstrap(values[k].tolist(), first[k].tolist())) for k in COMPARE}
        rows.append(row)
    return {"data": str(data), "rows": rows}


def render(results: dict[str, Any]) -> str:
    rows = results["rows"]
    base = rows[0]
    lines = [
        f"Finished CPU runs (2 cores, one at a time or two side by side with 1 thread each) on the ML-1M leave-one-out "
        f"data of the table above, {base['users']:,} test users. Each row states what it changes against the first "
        f"({base['run']}). The last columns give the difference to the first row on the same users with a 95% paired "
        "bootstrap interval (empty for a run measured after the first row's run directory was gone). Selection is by "
        "validation; test is reported, not tuned on.",
        "Command: `python -m trainer.bench_cpu_steps --load docs/ablations/ml-1m-cpu-steps.json` (measured with "
        "`--data DIR --save ... RUN_DIR...`).", "",
        "| run | change | best / run epochs | median s per epoch | val hr@10 | val ndcg@10 | "
        + " | ".join(f"test {k}" for k in SHOWN) + " | " + " | ".join(f"{k} vs first" for k in COMPARE) + " |",
        "|---|" + "---|" * (5 + len(SHOWN) + len(COMPARE))]
    for r in rows:
        diffs = [signed_interval(d['mean'], d['low'], d['high']) for d in
                 (r["vs_first"][k] for k in COMPARE)] if "vs_first" in r else [""] * len(COMPARE)
        if "ensemble" in r:
            change, epochs, seconds = f"ensemble of {', '.join(r['ensemble'])} (mean log-probabilities)", "-", "-"
        else:
            change, seconds = _changes(r["config"], base["config"]), r["median_seconds_per_epoch"]
            epochs = f"{r['best_epoch']} / {r['epochs_run']} ({'early stop' if early_stopped(r) else 'stopped'})"
        lines.append(f"| {r['run']} | {change} | {epochs} | {seconds} | {r['val']['hr@10']:.4f} | {r['val']['ndcg@10']:.4f} | "
                     + " | ".join(f"{r['test'][k]:.4f}" for k in SHOWN) + " | " + " | ".join(diffs) + " |")
    return "\n".join(lines + _seed_lines(rows))


def _merge(rows: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    """Append `new` to `rows`; a run already there (resumed since, say) has its row replaced in place,
    so a table never lists one run twice, nor counts it twice among its seeds."""
    at = {row["run"]: i for i, row in enumerate(rows)}
    for row in new:
        if row["run"] in at:
            rows[at[row["run"]]] = row
        else:
            at[row["run"]] = len(rows)
            rows.append(row)


def _results(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """The table's figures as the arguments ask: measured, loaded, or loaded with runs added."""
    if args.load and args.runs:
        # Add runs to a saved table; the saved rows are kept as they are. With the saved first row's
        # run directory given first, the new rows are paired with it (bootstrap); without it (that run
        # is gone), they are appended unpaired, their comparison columns left empty.
        results = json.loads(args.load.read_text())
        if not args.data:
            parser.error("to add runs give --data (and, to pair them with it, the first row's run first)")
        first = results["rows"][0]["run"]
        if first in [run.name for run in args.runs[1:]]:
            parser.error(f"the first row's run ({first}) goes first, to pair the new runs with it")
        if args.runs[0].name == first:
            if len(args.runs) < 2:
                parser.error("give at least one run to add after the first row's run")
            _merge(results["rows"], measure(args.data, args.runs)["rows"][1:])
        else:
            new = measure(args.data, args.runs)["rows"]
            for row in new:
                row.pop("vs_first", None)
            _merge(results["rows"], new)
        return results
    if args.load:
        return json.loads(args.load.read_text())
    if not (args.runs and args.data):
        parser.error("give --load JSON, or --data DIR and at least one run directory")
    return measure(args.data, args.runs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m trainer.bench_cpu_steps", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", type=Path, help="finished run directories, the reference first")
    parser.add_argument("--data", type=Path, help="the data the runs trained on")
    parser.add_argument("--save", type=Path, help="write the measured figures here (JSON)")
    parser.add_argument("--load", type=Path, help="render from a saved JSON instead of measuring")
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    with as_cli_error():  # a missing or unfinished run
        results = _results(args, parser)
    if args.save:
        args.save.write_text(json.dumps(results, indent=1) + "\n")
    replace_section(args.out, TITLE, render(results))
    print(f"wrote section {TITLE!r} of {args.out}")


if __name__ == "__main__":
    main()
