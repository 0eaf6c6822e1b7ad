"""`python -m trainer compare`: is one run really better than another on these users?

Every run is scored as `evaluate` scores it (its exported model.pt, the same split, history and k),
and each later run is set against the first, user by user: the mean difference of every metric and a
paired bootstrap interval over the users (significance.py). The users are the data's (every user
with targets in the split), so all runs are scored on the same ones. A difference whose interval
excludes 0 is marked. Each interval alone covers `level`: with many metrics, one in twenty misses by
chance at 95%, so a single marked metric among many is weak evidence. `adjust="bonferroni"` widens
every interval to 1 - (1 - level) / m for the m differences shown, so that all of them together cover
at least `level` (family-wise; conservative when metrics move together, as they do here).
`adjust="holm"` gives the marks the same family-wise guarantee (no false mark among the m, with
probability at least `level`) by Holm's step-down on the bootstrap p-values: the smallest p is held
to (1 - level) / m as Bonferroni holds every one, the next to (1 - level) / (m - 1), and so on until one
fails. It marks everything Bonferroni marks and sometimes more; its intervals stay each at `level`,
since the step-down has no intervals of its own, so there a mark and an interval may disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from .catalog_metrics import CATALOG_METRICS
from .config import ADJUSTMENTS, check_seed
from .errors import ConfigError, DataError
from .significance import paired_bootstrap, signed_interval


#: Past this the interval's digits no longer move, while time and memory (8 bytes a resample per
#: difference) grow with it: 10**9, a slip for 10**4, would need 8 GB and hours.
MAX_RESAMPLES = 1_000_000


def interval_level(level: float, intervals: int, adjust: str) -> float:
    """The coverage each of `intervals` intervals needs for `level` under `adjust`."""
    if adjust not in ADJUSTMENTS:
        raise ConfigError(f"--adjust must be one of {', '.join(ADJUSTMENTS)}, got {adjust!r}")
    return 1.0 - (1.0 - level) / intervals if adjust == "bonferroni" else level


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input's order: the i-th smallest p times (m - i + 1),
    never below an adjusted value before it, at most 1. A difference is marked at family-wise error
    alpha where its adjusted p is below alpha."""
    m = len(p_values)
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda j: p_values[j])):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def compare_runs(data: Path, runs: Sequence[Path], split: str = "test", metrics: Sequence[str] | None = None,
                 k: int = 20, test_history: str = "train+validate", resamples: int = 10_000, level: float = 0.95,
                 seed: int = 0, protocol: str = "set", adjust: str = "none",
                 candidates: Sequence[int] | None = None) -> dict[str, Any]:
    """Each run's metric means on `split`, and each later run minus the first with a paired bootstrap interval.

    Args:
        data: the data directory the runs are scored on.
        runs: two or more finished run directories (GRU, baseline or ensemble); the first is the reference.
        split, k, test_history, protocol: as `evaluate` takes them.
        metrics: the metrics to compare (default: every metric `evaluate` reports).
        resamples, level, seed: the bootstrap's resamples, interval coverage and seed.
        adjust: "none" (each interval covers `level`), "bonferroni" (all of them together do) or "holm"
            (the marks hold family-wise by Holm's step-down; intervals each at `level`).
        candidates: raw movie ids every run ranks among (as `evaluate --candidates`); each run's entry
            then says how many are in its catalog.

    Returns:
        {"split", "protocol", "users", "metrics", "resamples", "level", "adjust", "interval_level", "seed",
         "runs": [{"run", "means"}], "differences": [{"run", "minus", metric: {"mean", "low", "high", "p",
         "significant"}}], "catalog": [{"run", catalog metric: value}]}; with "holm", each metric's entry
         also has "p_holm", its adjusted p-value. The catalog figures (catalog_metrics.py) are of all the
         users' lists at once, so they have no paired interval.

    Raises:
        ConfigError: fewer than two runs, an unknown metric, or a bad resamples/level.
        DataError: the split has no user with targets.
    """
    from .evaluate import exported_model, score_run

    if len(runs) < 2:
        raise ConfigError(f"compare needs two or more runs (the first is the reference), got {len(runs)}")
    if not 1 <= resamples <= MAX_RESAMPLES or not 0.0 < level < 1.0:
        raise ConfigError(f"--resamples must be in 1..{MAX_RESAMPLES:,} and --level in (0, 1), got {resamples} and {level}")
    interval_level(level, 1, adjust)  # a bad --adjust is named before any scoring
    check_seed(seed)
    for run in runs:  # a missing run is named before minutes go into scoring the others
        exported_model(Path(run))
    scored = [score_run(Path(data), Path(runs[0]), split, k, test_history, protocol=protocol, candidates=candidates)]
    if not scored[0][1]["users"]:
        raise DataError(f"{data}: no user has targets in the {split} split; there is nothing to compare")
    known = list(scored[0][1]["metrics"])
    chosen = list(dict.fromkeys(metrics)) if metrics else known  # a metric named twice is one row, one interval
    unknown = [m for m in chosen if m not in known]
    if unknown:
        hint = f" (map's cut-off is --k: --k {unknown[0][4:]} reports {unknown[0]})" if any(
            m.startswith("map@") and m[4:].isdigit() for m in unknown[:1]) else ""
        if unknown[0] in CATALOG_METRICS:
            hint = (f" ({unknown[0]} is a figure of all the users' lists at once, not a per-user value to pair: "
                    "compare shows it below the table for every run)")
        raise ConfigError(f"unknown metric {', '.join(unknown)}; evaluate reports {', '.join(known)}{hint}")
    scored += [score_run(Path(data), Path(run), split, k, test_history, protocol=protocol, candidates=candidates)
               for run in runs[1:]]
    reference = scored[0][1]["metrics"]
    each = interval_level(level, len(chosen) * (len(runs) - 1), adjust)
    differences = []
    for run, (_, per_user) in zip(runs[1:], scored[1:]):
        entry: dict[str, Any] = {"run": str(run), "minus": str(runs[0])}
        for metric in chosen:
            d = paired_bootstrap(per_user["metrics"][metric], reference[metric], resamples, each, seed)
            entry[metric] = {"mean": d.mean, "low": d.low, "high": d.high, "p": d.p, "significant": d.significant}
        differences.append(entry)
    if adjust == "holm":
        cells = [entry[metric] for entry in differences for metric in chosen]
        for cell, adjusted in zip(cells, holm_adjusted([cell["p"] for cell in cells])):
            cell.update(p_holm=adjusted, significant=adjusted < 1.0 - level)
    return {"split": split, "protocol": protocol, "users": len(scored[0][1]["users"]), "metrics": chosen,
            "resamples": resamples, "level": level, "adjust": adjust, "interval_level": each, "seed": seed,
            "runs": [{"run": str(run), "means": {m: means[m] for m in chosen},
                      **({"candidates": means["candidates"]} if "candidates" in means else {})}
                     for run, (means, _) in zip(runs, scored)],
            "differences": differences,
            "catalog": [{"run": str(run), **{m: means[m] for m in CATALOG_METRICS if m in means}}
                        for run, (means, _) in zip(runs, scored)]}


def comparison_table(result: dict[str, Any]) -> str:
    """The comparison as a Markdown table: one row per metric, each run's mean, then each later run
    minus the first with its interval (`*`: the interval excludes 0)."""
    runs = [r["run"] for r in result["runs"]]
    head = [*runs, *(f"{d['run']} - {d['minus']}" for d in result["differences"])]
    protocol = ", each movie from everything before it" if result.get("protocol") == "next" else ""
    n = len(result["metrics"]) * len(result["differences"])
    holm = result.get("adjust") == "holm"
    coverage = (f"{result['level']:.0%} intervals together (Bonferroni over {n}: each {result['interval_level']:.2%})"
                if result.get("adjust") == "bonferroni" else f"{result['level']:.0%} interval")
    mark = (f"* = marked by Holm's step-down over {n} at family-wise {1 - result['level']:.0%}; p = the Holm-adjusted "
            "p-value" if holm else "* = the interval excludes 0")
    if "candidates" in result["runs"][0]:
        protocol += (", ranked among the --candidates ids (in each run's catalog: "
                     f"{', '.join(str(r['candidates']) for r in result['runs'])})")
    lines = [f"{result['split']} split{protocol}, {result['users']:,} users; paired bootstrap over users "
             f"({result['resamples']:,} resamples, {coverage}, seed {result['seed']}; {mark})", "",
             "| metric | " + " | ".join(head) + " |", "|---|" + "---|" * len(head)]
    for metric in result["metrics"]:
        cells = [f"{r['means'][metric]:.4f}" for r in result["runs"]]
        for d in result["differences"]:
            m = d[metric]
            # no resample on the other side of 0 bounds p by the resamples, not by 0
            p_text = (f" p {m['p_holm']:.3g}" if m["p_holm"] > 0 else f" p < {1 / result['resamples']:.2g}") if holm else ""
            cells.append(f"{signed_interval(m['mean'], m['low'], m['high'])}{p_text}{' *' if m['significant'] else ''}")
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    catalog = result.get("catalog") or []
    if catalog and all(m in c for c in catalog for m in CATALOG_METRICS):
        lines += ["", "Catalog figures of each run's lists (catalog_metrics.py; figures of all users at once, so "
                  "without a paired interval):", "", "| run | " + " | ".join(CATALOG_METRICS) + " |",
                  "|---|" + "---|" * len(CATALOG_METRICS)]
        lines += [f"| {c['run']} | " + " | ".join(f"{c[m]:.4f}" for m in CATALOG_METRICS) + " |" for c in catalog]
    return "\n".join(lines)
