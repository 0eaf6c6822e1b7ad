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
from .bench_accuracy_md import curves_file, section
from .benchmarks_md import replace_section
from .checkpoint import history_timings, read_history, run_config
from .errors import exit_with_error
from .evaluate import evaluate_run
from .plots import plot_benchmark_curves
from .presets import PRESETS
from .seed_spread import seed_spread_lines
from .seed_sweep import sweep

SHARED = REPO.parent / "shared" / "data"
BUILD = REPO / "build" / "bench"
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
        # the temporal test period event by event too (`evaluate --protocol next`), as sessions are answered
        "next_metrics": ["hr@10", "ndcg@10", "mrr@20", "recall@20"],
        # fp32 even under --amp (`make bench-accuracy AMP=1`, the ML-1M table's command): the preset and its
        # seed figures were measured in fp32, and an epoch takes under a second, so bf16 would buy nothing
        "fp32_only": True,
        # a seed moves test map@20 by more than the gap to sknn: the preset over ten seeds goes beside the table
        "seeds": list(range(1, 11)),
        "protocol": "global temporal cut (last 10% of events test, 10% before validate; test history = train + "
                    "validate); vocabulary: movies with >= 5 training events; full catalog ranked; history masked",
    },
}


def cli(*args: str) -> str:
    res = subprocess.run([sys.executable, "-m", "trainer", *args], cwd=REPO, capture_output=True, text=True)
    named = [line for line in res.stderr.splitlines() if line.startswith("error: ")]
    if res.returncode == 2 and named:  # a problem the command named: its line, and the same status
        exit_with_error(f"python -m trainer {' '.join(args)}: {named[-1].removeprefix('error: ')}")
    if res.returncode != 0:  # a crash: the tail of its traceback
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
    if bench.get("next_metrics"):
        out["next"] = json.loads(cli("evaluate", "--data", str(data), "--run", str(run), "--protocol", "next"))
    return out


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
        exit_with_error(f"--reuse: no GRU run in {run}; train one there (or run without --reuse)")
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
    cfg = run_config(run)
    run_timings = history_timings(history, cfg["select_metric"])
    if not reuse:  # the wall clock belongs to exactly this run's epochs
        timings["gru_epochs_seconds"] = run_timings["total_seconds"]
    elif timings.get("gru_epochs_seconds") != run_timings["total_seconds"]:
        # trained outside this command, or resumed since: only its own epochs' time is known
        timings["gru"] = run_timings["total_seconds"]
    saved.write_text(json.dumps(timings))
    wall = timings.get("gru", 0.0)
    rows.append({"model": "GRU", **scores(bench, data, run, name, "gru"), "config": cfg, "history": history, **run_timings,
                 "wall_seconds": round(wall, 1)})
    return rows


def seed_lines(name: str, bench: dict[str, Any], data: Path, rows: list[dict[str, Any]], epochs: int | None,
               reuse: bool, amp: bool = False) -> tuple[list[str], list[dict[str, Any]]]:
    """For benches with `seeds`: the GRU preset over those seeds beside the baselines (`seed_spread`),
    and for benches with `next_metrics` each seed's test metrics with `--protocol next`."""
    if not bench.get("seeds"):
        return [], []
    out = BUILD / "runs" / f"{name}-gru-seeds"
    if not reuse:
        subprocess.run(["rm", "-rf", str(out)], check=True)
    flags = gru_flags(name, epochs, amp)
    summary = sweep(data, out, bench["seeds"], flags)
    command = (f"python -m trainer.seed_sweep --data DIR --out OUT --seeds {' '.join(map(str, bench['seeds']))} -- "
               + " ".join(flags))
    # Every metric of the table above, not only the compared ones: a metric where the seeds trail a
    # baseline (ML-100k's precision@20) must show here too, or the spread would read as a clean sweep.
    seed_next = [evaluate_run(data, Path(r["run"]), "test", protocol="next") for r in summary["runs"]
                 if bench.get("next_metrics")]
    return seed_spread_lines(summary, rows[:-1], bench["metrics"], command), seed_next


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
        seeds, seed_next = seed_lines(name, bench, data, rows, args.epochs, args.reuse, amp)
        meta = json.loads((data / "meta.json").read_text())
        per_user = {r["model"]: json.loads(per_user_file(name, r["model"]).read_text()) for r in rows}
        replace_section(REPO / "BENCHMARKS.md", bench["title"], section(name, bench, meta, rows, seeds, per_user, seed_next))
        # One figure per section, rewritten with it: `--only` never drops another data set's curves.
        plot_benchmark_curves({name: rows[-1]["history"]}, REPO / curves_file(name))
        print(json.dumps({r["model"]: {k: round(r["test"][k], 4) for k in bench["metrics"]} for r in rows}), flush=True)


if __name__ == "__main__":
    main()
