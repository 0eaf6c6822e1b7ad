"""The BENCHMARKS.md section of one `bench-accuracy` data set: its protocol, tables and comparisons.

`bench_accuracy` trains and scores; this module only turns its rows (each model's metrics, and the
GRU's config and history) and the per-user values into text, so the tables show what was measured.
"""

from __future__ import annotations

from typing import Any

from .breakdown import breakdown_lines
from .catalog_metrics import CATALOG_METRICS
from .presets import PRESETS
from .run_text import goal_text, loss_text, lr_schedule_text, stopped_text
from .seed_spread import mean_cell
from .significance import paired_bootstrap, signed_interval

LITERATURE = [  # ML-1M leave-one-out, full ranking, items with < 5 interactions removed
    ("SASRec + cross-entropy (Klenitskiy & Vasilev, RecSys 2023)", {"hr@10": 0.3152, "ndcg@10": 0.1821}),
    ("best GRU4Rec (Klenitskiy & Vasilev 2023; Time-to-Split grid, RecSys 2025)", {"hr@10": 0.2887, "ndcg@10": 0.1679}),
]


def curves_file(name: str) -> str:
    """The figure of a data set's GRU validation curves, relative to the repository."""
    return f"docs/accuracy_curves-{name}.png"


def section(name: str, bench: dict[str, Any], meta: dict[str, Any], rows: list[dict[str, Any]], seeds: list[str],
            per_user: dict[str, dict[str, Any]], seed_next: list[dict[str, Any]] | None = None) -> str:
    """The whole section: `meta` is the prepared data's meta.json, `rows` the models (the GRU last),
    `seeds` the seed-spread lines, `per_user` each model's per-user values by its row name, `seed_next`
    the GRU seeds' test metrics with `--protocol next` (for benches with `next_metrics`)."""
    gru = rows[-1]
    cfg = gru["config"]
    lines = [
        f"Protocol: {bench['protocol']}. {meta['users']:,} users, {meta['items']:,} items, "
        f"{meta['events_kept']:,} events; {rows[0]['test']['users']:,} test users. Ties: lower index (more popular) first. "
        f"Baselines: fit on the training split; vocabulary: movies with >= {bench['min_count']} training events "
        f"(GRU: {cfg['min_count']}); input: the last {bench['max_len']} movies of a history (GRU: {cfg['max_len']}).",
        gru_config_text(name, cfg) + f"; early stopping on validation {cfg['select_metric']}"
        f"{' (next-event protocol)' if cfg['select_protocol'] == 'next' else ''} (patience {cfg['patience']}): "
        f"best epoch {gru['best_epoch']} of "
        f"{gru['epochs_run']}{stopped_text(gru, cfg)}, {gru['seconds_per_epoch']} s per training epoch (median {gru['median_seconds_per_epoch']} s), "
        f"{gru['time_to_best_seconds']:.0f} s to the best epoch (with validation) on 2 CPU cores (the mean and the "
        "time to best include epochs slowed by other work on the machine; the median is the speed of an idle one)."
        + goal_text(bench, gru),
        f"Command: `make bench-accuracy{' AMP=1' if cfg['amp'] else ''}` (this section: `python -m "
        f"trainer.bench_accuracy --only {name}{' --amp' if cfg['amp'] else ''}`). "
        f"Validation curves of the GRU run: [{curves_file(name)}]({curves_file(name)}).", "",
        "| model | " + " | ".join(bench["metrics"]) + " | fit / train time |",
        "|---|" + "---|" * (len(bench["metrics"]) + 1)]
    for r in rows:
        seconds = r["fit_seconds"] if "fit_seconds" in r else r["wall_seconds"]
        t = f"{seconds:.0f} s" if seconds else "not recorded"
        lines.append(f"| {r['model']} | " + " | ".join(f"{r['test'][k]:.4f}" for k in bench["metrics"]) + f" | {t} |")
    if name == "ml-1m":
        for label, vals in LITERATURE:
            lines.append(f"| {label} | " + " | ".join(f"{vals[k]:.4f}" if k in vals else "" for k in bench["metrics"]) + " | |")
    return "\n".join(lines + seeds + validation_lines(bench, rows) + differences(name, bench, rows, per_user)
                     + target_count_lines(bench, rows, per_user) + next_lines(bench, rows, seed_next or [])
                     + catalog_lines(rows))


def gru_config_text(name: str, cfg: dict[str, Any]) -> str:
    """How a section names the GRU run's configuration (`cfg`: its config.json), from "GRU (" to its seed
    and precision; tests/test_bench_accuracy.py checks that BENCHMARKS.md shows the current presets."""
    m = cfg["model"]
    return (f"GRU ({'`--preset ' + name + '`' if name in PRESETS else 'default configuration'}): emb {m['emb_dim']}, "
            f"hidden {m['hidden_dim']}, layers {m['layers']}, emb dropout {m['emb_dropout']}, dropout {m['dropout']}, "
            f"tied {m['tied']}, batch {cfg['batch_size']}, lr {cfg['lr']}, weight decay {cfg['weight_decay']}"
            f"{loss_text(cfg)}, {lr_schedule_text(cfg)}, max len {cfg['max_len']}, windows {cfg['windows']}, "
            f"seed {cfg['seed']}{', bf16 autocast' if cfg['amp'] else ''}")


def catalog_lines(rows: list[dict[str, Any]]) -> list[str]:
    """What each model's test lists do with the catalog (runs scored before evaluate reported it: none)."""
    if not all(k in r["test"] for r in rows for k in CATALOG_METRICS):
        return []
    lines = ["", "Beyond accuracy, the same test lists (`trainer/catalog_metrics.py`): the share of the catalog in at "
             "least one user's top 10 / top 20, the Gini index of how often each catalog movie is in a top 20 "
             "(0: all equally often, towards 1: a few take every slot), and the mean training count of the "
             "recommended movies.", "", "| model | " + " | ".join(CATALOG_METRICS) + " |",
             "|---|" + "---|" * len(CATALOG_METRICS)]
    for r in rows:
        lines.append(f"| {r['model']} | " + " | ".join(f"{r['test'][k]:.1f}" if k == "popularity@20" else
                                                       f"{r['test'][k]:.4f}" for k in CATALOG_METRICS) + " |")
    return lines


def next_lines(bench: dict[str, Any], rows: list[dict[str, Any]], seed_next: list[dict[str, Any]]) -> list[str]:
    """The same runs on the test period event by event (`evaluate --protocol next`), the GRU seeds' spread
    below the table, and on how many seeds the GRU is strictly above each baseline."""
    metrics = bench.get("next_metrics")
    if not metrics:
        return []
    lines = ["", "The same runs on the same test users, each test movie predicted from everything before it "
             "(`evaluate --protocol next`: the history, then the test period's earlier movies, all masked, as a session "
             "is answered after each event; a user's metrics are the mean over their movies, and the figures the mean "
             "over users). The notebook's protocol above asks for the whole test period at once instead.", "",
             "| model | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for r in rows:
        lines.append(f"| {r['model']} | " + " | ".join(f"{r['next'][k]:.4f}" for k in metrics) + " |")
    if seed_next:
        n = len(seed_next)
        cells = [mean_cell([s[k] for s in seed_next]) for k in metrics]
        lines.append(f"| GRU, mean of the {n} seeds above [95% t interval] (min-max) | " + " | ".join(cells) + " |")
        names = [r["model"] for r in rows[:-1]]
        above = [" / ".join(str(sum(s[k] > r["next"][k] for s in seed_next)) for r in rows[:-1]) for k in metrics]
        lines.append(f"| seeds strictly above {' / '.join(names)} (of {n}) | " + " | ".join(above) + " |")
    return lines


def validation_lines(bench: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """The same models on the validation period, for benches whose test period is small."""
    if not bench.get("validation_table"):
        return []
    best = {k: max(round(r["val"][k], 4) for r in rows) for k in bench["metrics"]}  # as shown: ties share the bold
    lines = ["", f"The same runs on the validation period ({rows[0]['val']['users']:,} users; history: the training "
             "period). The GRU's best epoch and its preset were chosen on this period, so its row here is optimistic; "
             "the baselines were not tuned on it. The best of each column in bold.", "",
             "| model | " + " | ".join(bench["metrics"]) + " |", "|---|" + "---|" * len(bench["metrics"])]
    for r in rows:
        cells = [f"**{r['val'][k]:.4f}**" if round(r["val"][k], 4) == best[k] else f"{r['val'][k]:.4f}"
                 for k in bench["metrics"]]
        lines.append(f"| {r['model']} | " + " | ".join(cells) + " |")
    return lines


def target_count_lines(bench: dict[str, Any], rows: list[dict[str, Any]],
                       per_user: dict[str, dict[str, Any]]) -> list[str]:
    """Where each model wins: the breakdown metrics by the size of the users' test sets."""
    if not bench.get("breakdown"):
        return []
    return ["", "The same test users grouped by how many distinct movies they watched in the test period (each "
            "group's mean; the best of each column in bold; `trainer/breakdown.py`):", "",
            *breakdown_lines(per_user, bench["breakdown"])]


def differences(name: str, bench: dict[str, Any], rows: list[dict[str, Any]],
                per_user: dict[str, dict[str, Any]]) -> list[str]:
    """Table lines: GRU minus each baseline on the same test users, with paired bootstrap intervals."""
    gru = per_user["GRU"]
    lines = ["", f"GRU minus each baseline on the same {len(gru['users']):,} test users: mean difference and 95% "
             "interval of a paired bootstrap over users (10,000 resamples, seed 0; `trainer/significance.py`).", "",
             "| GRU minus | " + " | ".join(bench["compare"]) + " | all intervals above 0? |",
             "|---|" + "---|" * (len(bench["compare"]) + 1)]
    for r in rows[:-1]:
        base = per_user[r["model"]]
        if base["users"] != gru["users"]:
            raise SystemExit(f"{name}: {r['model']} was scored on other users than the GRU")
        cells, better = [], True
        for metric in bench["compare"]:
            d = paired_bootstrap(gru["metrics"][metric], base["metrics"][metric])
            cells.append(signed_interval(d.mean, d.low, d.high))
            better = better and d.significant and d.mean > 0
        lines.append(f"| {r['model']} | " + " | ".join(cells) + f" | {'yes' if better else 'no'} |")
    return lines
