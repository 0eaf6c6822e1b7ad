"""`bench-accuracy`: GRU vs baselines on MovieLens with the evaluation that is served.

Writes BENCHMARKS.md sections (tables stating the protocol), one figure of the GRU's validation
curves per data set (docs/accuracy_curves-NAME.png), and build/bench/accuracy-*.json. Data comes
from ../shared/data when present (development), else from GroupLens via `prepare --dataset`
(checksummed download).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .archive import REPO
from .benchmarks_md import replace_section
from .breakdown import breakdown_lines
from .checkpoint import history_timings, read_history
from .plots import plot_benchmark_curves
from .presets import PRESETS
from .run_text import goal_text, loss_text, lr_schedule_text, stopped_text
from .seed_spread import seed_spread_lines
from .seed_sweep import sweep
from .significance import paired_bootstrap

SHARED = REPO.parent / "shared" / "data"
BUILD = REPO / "build" / "bench"
LITERATURE = [  # ML-1M leave-one-out, full ranking, items with < 5 interactions removed
    ("SASRec + cross-entropy (Klenitskiy & Vasilev, RecSys 2023)", {"hr@10": 0.3152, "ndcg@10": 0.1821}),
    ("best GRU4Rec (Klenitskiy & Vasilev 2023; Time-to-Split grid, RecSys 2025)", {"hr@10": 0.2887, "ndcg@10": 0.1679}),
]
BENCHES: dict[str, dict[str, Any]] = {
    "ml-1m": {
        "title": "MovieLens-1M, leave-one-out, full ranking",
        "shared": ("ml-1m/interactions.tsv", ["--time-col", "position"]), "dataset": "ml-1m",
        "prepare": ["--split", "leave-one-out", "--min-item-count", "5"], "min_count": 1, "max_len": 200,
        "metrics": ["hr@10", "ndcg@10", "hr@20", "ndcg@20", "map@20"], "compare": ["hr@10", "ndcg@10", "map@20"],
        "goal": {"hr@10": 0.30, "ndcg@10": 0.175},
        "protocol": "leave-one-out (each user's last item is test, the one before validate); items with fewer than 5 "
                    "interactions removed before splitting; full catalog ranked; every movie of the history masked",
    },
    "ml-100k": {
        "title": "MovieLens-100k, temporal split (the notebook's protocol)",
        "shared": ("ml-100k/interactions.tsv", []), "dataset": "ml-100k",
        "prepare": ["--split", "temporal"], "min_count": 5, "max_len": 150,
        "metrics": ["map@20", "precision@1", "precision@5", "precision@10", "precision@20", "recall@20"],
        "compare": ["map@20", "precision@10", "precision@20", "recall@20"], "breakdown": ["map@20", "precision@20"],
        # ~70-80 users per period, a few of them with hundreds of movies: which model leads can flip
        # from one period to the next, so the validation period is shown beside the test period.
        "validation_table": True,
        # fp32 even under --amp (`make bench-accuracy AMP=1`, the ML-1M table's command): the preset and its
        # seed figures were measured in fp32, and an epoch takes under a second, so bf16 would buy nothing
        "fp32_only": True,
        # a seed moves test map@20 by more than the gap to sknn: the preset over ten seeds goes beside the table
        "seeds": list(range(1, 11)),
        "protocol": "global temporal cut (last 10% of events test, 10% before validate; test history = train + "
                    "validate); vocabulary: movies with >= 5 training events; full catalog ranked; history masked",
    },
}


def curves_file(name: str) -> str:
    """The figure of a data set's GRU validation curves, relative to the repository."""
    return f"docs/accuracy_curves-{name}.png"


def cli(*args: str) -> str:
    res = subprocess.run([sys.executable, "-m", "trainer", *args], cwd=REPO, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"python -m trainer {' '.join(args)} failed:\n{res.stderr[-2000:]}")
    return res.stdout


def prepare(name: str, bench: dict[str, Any]) -> Path:
    out = BUILD / "data" / name
    if (out / "train.pkl").exists():
        return out
    rel, cols = bench["shared"]
    source = ["--input", str(SHARED / rel), *cols] if (SHARED / rel).exists() else ["--dataset", bench["dataset"]]
    cli("prepare", *source, "--out", str(out), *bench["prepare"])
    return out


def per_user_file(name: str, model: str) -> Path:
    """Where `score` puts a model's per-user values; `model` as a table row names it ("GRU" -> gru)."""
    return BUILD / "per-user" / f"{name}-{model.lower()}.json"


def score(data: Path, run: Path, name: str, model: str) -> dict[str, Any]:
    """Test metrics of a run (as `evaluate` prints them); the per-user values go to `per_user_file`."""
    return json.loads(cli("evaluate", "--data", str(data), "--run", str(run), "--per-user", str(per_user_file(name, model))))


def scores(bench: dict[str, Any], data: Path, run: Path, name: str, model: str) -> dict[str, Any]:
    """A table row's `test` metrics (`score`), and `val` ones for benches with a validation table
    (history: the training period, as in training)."""
    out = {"test": score(data, run, name, model)}
    if bench.get("validation_table"):
        out["val"] = json.loads(cli("evaluate", "--data", str(data), "--run", str(run), "--split", "validate"))
    return out


def differences(name: str, bench: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """Table lines: GRU minus each baseline on the same test users, with paired bootstrap intervals."""
    gru = json.loads(per_user_file(name, "gru").read_text())
    lines = ["", f"GRU minus each baseline on the same {len(gru['users']):,} test users: mean difference and 95% "
             "interval of a paired bootstrap over users (10,000 resamples, seed 0; `trainer/significance.py`).", "",
             "| GRU minus | " + " | ".join(bench["compare"]) + " | all intervals above 0? |",
             "|---|" + "---|" * (len(bench["compare"]) + 1)]
    for r in rows[:-1]:
        base = json.loads(per_user_file(name, r["model"]).read_text())
        if base["users"] != gru["users"]:
            raise SystemExit(f"{name}: {r['model']} was scored on other users than the GRU")
        cells, better = [], True
        for metric in bench["compare"]:
            d = paired_bootstrap(gru["metrics"][metric], base["metrics"][metric])
            cells.append(f"{d.mean:+.4f} [{d.low:+.4f}, {d.high:+.4f}]")
            better = better and d.significant and d.mean > 0
        lines.append(f"| {r['model']} | " + " | ".join(cells) + f" | {'yes' if better else 'no'} |")
    return lines


def bench_amp(name: str, bench: dict[str, Any], amp: bool) -> bool:
    """Whether this bench's GRU runs train with `--amp`: as asked, unless the bench is `fp32_only`."""
    if amp and bench.get("fp32_only"):
        print(f"{name}: training in fp32 (--amp applies to the other benches; this one's preset was measured in fp32)",
              flush=True)
        return False
    return amp


def gru_flags(name: str, epochs: int | None, amp: bool) -> list[str]:
    """`train` flags of a bench's GRU runs (the table's run and its seeds)."""
    return [*(["--preset", name] if name in PRESETS else []), *(["--epochs", str(epochs)] if epochs else []),
            *(["--amp"] if amp else [])]


def run_models(name: str, bench: dict[str, Any], data: Path, epochs: int | None, reuse: bool,
               amp: bool = False) -> list[dict[str, Any]]:
    """Fit the baselines and train the GRU preset (or, with `reuse`, score the runs already there;
    a baseline without a recorded fit time is fit again, which takes seconds)."""
    run = BUILD / "runs" / f"{name}-gru"
    if reuse and not (run / "config.json").exists():  # before fitting anything
        raise SystemExit(f"--reuse: no GRU run in {run}; train one there (or run without --reuse)")
    rows = []
    saved = BUILD / f"timings-{name}.json"
    timings = json.loads(saved.read_text()) if reuse and saved.exists() else {}
    for model in ("pop", "sr", "sknn"):
        base = BUILD / "runs" / f"{name}-{model}"
        if model not in timings:
            subprocess.run(["rm", "-rf", str(base)], check=True)
            t0 = time.perf_counter()
            cli("baseline", "--name", model, "--data", str(data), "--out", str(base), "--min-count",
                str(bench["min_count"]), "--max-len", str(bench["max_len"]))
            timings[model] = round(time.perf_counter() - t0, 1)
        rows.append({"model": model, **scores(bench, data, base, name, model), "fit_seconds": timings.get(model)})
    if reuse:
        cli("export", "--run", str(run))  # a run stopped early still has its best epoch
    else:
        subprocess.run(["rm", "-rf", str(run)], check=True)
        t0 = time.perf_counter()
        cli("train", "--data", str(data), "--out", str(run), *gru_flags(name, epochs, amp))
        timings["gru"] = round(time.perf_counter() - t0, 1)
    history = read_history(run)
    cfg = json.loads((run / "config.json").read_text())
    run_timings = history_timings(history)
    if reuse:  # a run trained outside this command (maybe resumed): its own epochs are its time
        timings["gru"] = run_timings["total_seconds"]
    saved.write_text(json.dumps(timings))
    wall = timings.get("gru", 0.0)
    rows.append({"model": "GRU", **scores(bench, data, run, name, "gru"), "config": cfg, "history": history, **run_timings,
                 "wall_seconds": round(wall, 1)})
    return rows


def seed_lines(name: str, bench: dict[str, Any], data: Path, rows: list[dict[str, Any]], epochs: int | None,
               reuse: bool, amp: bool = False) -> list[str]:
    """For benches with `seeds`: the GRU preset over those seeds beside the baselines (`seed_spread`)."""
    if not bench.get("seeds"):
        return []
    out = BUILD / "runs" / f"{name}-gru-seeds"
    if not reuse:
        subprocess.run(["rm", "-rf", str(out)], check=True)
    flags = gru_flags(name, epochs, amp)
    summary = sweep(data, out, bench["seeds"], flags)
    command = (f"python -m trainer.seed_sweep --data DIR --out OUT --seeds {' '.join(map(str, bench['seeds']))} -- "
               + " ".join(flags))
    # Every metric of the table above, not only the compared ones: a metric where the seeds trail a
    # baseline (ML-100k's precision@20) must show here too, or the spread would read as a clean sweep.
    return seed_spread_lines(summary, rows[:-1], bench["metrics"], command)


def section(name: str, bench: dict[str, Any], data: Path, rows: list[dict[str, Any]], seeds: list[str]) -> str:
    meta = json.loads((data / "meta.json").read_text())
    gru = rows[-1]
    cfg = gru["config"]
    m = cfg["model"]
    lines = [
        f"Protocol: {bench['protocol']}. {meta['users']:,} users, {meta['items']:,} items, "
        f"{meta['events_kept']:,} events; {rows[0]['test']['users']:,} test users. Ties: lower index (more popular) first. "
        f"Baselines: fit on the training split; vocabulary: movies with >= {bench['min_count']} training events "
        f"(GRU: {cfg['min_count']}); input: the last {bench['max_len']} movies of a history (GRU: {cfg['max_len']}).",
        f"GRU ({'`--preset ' + name + '`' if name in PRESETS else 'default configuration'}): emb {m['emb_dim']}, hidden {m['hidden_dim']}, layers {m['layers']}, emb dropout "
        f"{m['emb_dropout']}, dropout {m['dropout']}, tied {m['tied']}, batch {cfg['batch_size']}, lr {cfg['lr']}, "
        f"weight decay {cfg['weight_decay']}{loss_text(cfg)}, {lr_schedule_text(cfg)}, max len {cfg['max_len']}, windows {cfg['windows']}, "
        f"seed {cfg['seed']}{', bf16 autocast' if cfg.get('amp') else ''}; "
        f"early stopping on validation map@20 (patience {cfg['patience']}): best epoch {gru['best_epoch']} of "
        f"{gru['epochs_run']}{stopped_text(gru, cfg)}, {gru['seconds_per_epoch']} s per training epoch (median {gru['median_seconds_per_epoch']} s), "
        f"{gru['time_to_best_seconds']:.0f} s to the best epoch (with validation) on 2 CPU cores (the mean and the "
        "time to best include epochs slowed by other work on the machine; the median is the speed of an idle one)."
        + goal_text(bench, gru),
        f"Command: `make bench-accuracy{' AMP=1' if cfg.get('amp') else ''}` (this section: `python -m "
        f"trainer.bench_accuracy --only {name}{' --amp' if cfg.get('amp') else ''}`). "
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
    return "\n".join(lines + seeds + validation_lines(bench, rows) + differences(name, bench, rows)
                     + target_count_lines(name, bench, rows))


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


def target_count_lines(name: str, bench: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """Where each model wins: the breakdown metrics by the size of the users' test sets."""
    if not bench.get("breakdown"):
        return []
    per_user = {r["model"]: json.loads(per_user_file(name, r["model"]).read_text()) for r in rows}
    return ["", "The same test users grouped by how many distinct movies they watched in the test period (each "
            "group's mean; the best of each column in bold; `trainer/breakdown.py`):", "",
            *breakdown_lines(per_user, bench["breakdown"])]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=sorted(BENCHES), nargs="*", default=sorted(BENCHES))
    parser.add_argument("--epochs", type=int, default=None, help="cap GRU epochs")
    parser.add_argument("--amp", action="store_true",
                        help="train the GRU runs with bf16 autocast (CUDA, or a CPU with native bf16: train refuses others); "
                             "benches marked fp32_only (ML-100k) stay in fp32")
    parser.add_argument("--reuse", action="store_true",
                        help="re-score and re-render from the runs in build/bench/runs (e.g. after stopping training)")
    args = parser.parse_args(argv)
    BUILD.mkdir(parents=True, exist_ok=True)
    (REPO / "docs").mkdir(exist_ok=True)
    for name in args.only:
        bench = BENCHES[name]
        data = prepare(name, bench)
        amp = bench_amp(name, bench, args.amp)
        rows = run_models(name, bench, data, args.epochs, args.reuse, amp)
        (BUILD / f"accuracy-{name}.json").write_text(json.dumps(rows, indent=2) + "\n")
        seeds = seed_lines(name, bench, data, rows, args.epochs, args.reuse, amp)
        replace_section(REPO / "BENCHMARKS.md", bench["title"], section(name, bench, data, rows, seeds))
        # One figure per section, rewritten with it: `--only` never drops another data set's curves.
        plot_benchmark_curves({name: rows[-1]["history"]}, REPO / curves_file(name))
        print(json.dumps({r["model"]: {k: round(r["test"][k], 4) for k in bench["metrics"]} for r in rows}), flush=True)


if __name__ == "__main__":
    main()
