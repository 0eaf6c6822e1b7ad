"""How much one training run says: a preset over several seeds, against each baseline's single fit.

On MovieLens-100k's temporal split a seed moves the GRU's test map@20 by more than the gap to the
best baseline, so a table row from one seed can flatter or wrong it. `bench_accuracy` adds these
lines under such a table (baselines are deterministic: one fit each).
"""

from __future__ import annotations

from typing import Any

from .seed_interval import spread

PERIODS = (("test", "test"), ("val", "validation"))


def mean_cell(values: list[float]) -> str:
    """A table cell for one metric over seeds: `mean [95% t interval of the mean] (min-max)`; one
    value has no interval."""
    s = spread(values)
    interval = f" [{s['low']:.4f}, {s['high']:.4f}]" if s else ""
    return f"{sum(values) / len(values):.4f}{interval} ({min(values):.4f}-{max(values):.4f})"


def seed_spread_lines(summary: dict[str, Any], baselines: list[dict[str, Any]], metrics: list[str],
                      command: str) -> list[str]:
    """Markdown lines: for each period and metric, the seeds' mean with the 95% Student's t interval
    of that mean and the range, and each baseline's value with the number of seeds on which the GRU
    scores strictly above it.

    Args:
        summary: `seed_sweep.sweep`'s result (runs with per-seed `val` and `test` metrics).
        baselines: table rows of the baselines (`model`, and `test` / `val` metrics).
        metrics: the metrics to show.
        command: the command that reproduces the sweep, quoted in the text.

    Returns:
        The lines, starting with a blank one.
    """
    runs, n = summary["runs"], len(summary["runs"])
    ids = [r["seed"] for r in runs]
    seeds = f"{ids[0]}-{ids[-1]}" if ids == list(range(ids[0], ids[0] + n)) and n > 2 else ", ".join(map(str, ids))
    lines = ["", f"The GRU row above is one run. The same preset over seeds {seeds} (`{command}`), against each "
             "baseline's single fit: the seeds' mean, the 95% t interval of that mean (in brackets) and the range, "
             "and for each baseline its value and on how many seeds the GRU is strictly above it. A baseline "
             "inside the interval is not told apart from the GRU by these seeds. Validation is where each "
             "seed's best epoch was chosen.", "",
             f"| period | metric | GRU, mean of {n} seeds [95% t interval] (min-max) | " + " | ".join(b["model"] for b in baselines) + " |",
             "|---|---|---|" + "---|" * len(baselines)]
    for key, label in PERIODS:
        if not all(key in b for b in baselines):
            continue
        for metric in metrics:
            values = [r[key][metric] for r in runs]
            cells = [f"{b[key][metric]:.4f} (GRU above on {sum(v > b[key][metric] for v in values)} of {n})"
                     for b in baselines]
            lines.append(f"| {label} | {metric} | {mean_cell(values)} | " + " | ".join(cells) + " |")
    return lines
