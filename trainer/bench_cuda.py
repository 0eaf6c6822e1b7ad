"""One prepared CUDA session: time the ML-1M preset, check CPU/GPU parity, run an ablation grid.

    python -m trainer.bench_cuda --data build/bench/data/ml-1m --out OUT [--budget 480]
        [--grid NAME ...] [--candidates NAME ... --seeds N ...]

GPU time is lent in short slots, so everything happens in one call under one deadline:
  1. the current `--preset ml-1m` run on CUDA with bf16 AMP, alone on the GPU (clean timings);
  2. parity of its exported TorchScript model on CPU vs CUDA (fp32) over every test user;
  3. side by side until the deadline, each stopped there (a stopped run is exported from its best
     epoch so far): the v1 ablation grid (`--grid`, fp32) and/or the preset candidates (`--candidates`,
     each an override of preset v3, once per `--seeds`, bf16 autocast unless step 1 failed or the
     candidate says fp32), and the teachers of step 4 (`--distill-teachers`);
  4. with `--distill-students`: the teachers' ensemble, then students distilled from it, side by
     side in the last `--student-seconds` (bench_cuda_kd.py).
Results land in OUT/results.json as they arrive, so a cut-off call still returns what it measured.
The device image may lack matplotlib: workers then skip the per-run curve plot, nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from .ablations import ABLATION_BASE, CANDIDATE_BASE, CANDIDATE_SEEDS, CANDIDATES, GRID, candidate_runs
from .bench_cuda_kd import distill_step, teacher_plan
from .checkpoint import best_val, history_timings, read_history, run_config
from .config import TrainConfig
from .cuda_parity import parity
from .presets import PRESETS


def preset_config(data: Path, overrides: dict[str, Any], device: str, amp: bool,
                  base: dict[str, Any] = ABLATION_BASE) -> TrainConfig:
    payload = {**TrainConfig().to_dict(), **base, **{k: v for k, v in overrides.items() if k != "model"}}
    payload["model"] = {**TrainConfig().model.__dict__, **base["model"], **overrides.get("model", {})}
    payload.update(data=str(data), device=device, amp=amp)
    return TrainConfig.from_dict(payload)


def _worker(run: Path, cfg_json: str) -> None:
    from . import train as train_mod

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        train_mod.plot_curves = lambda *args, **kwargs: None  # type: ignore[assignment]
    torch.set_num_threads(1)
    train_mod.train(TrainConfig.from_dict(json.loads(cfg_json)), run, progress=False)


def _launch(run: Path, cfg: TrainConfig) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    log = open(f"{run}.log", "w")
    return subprocess.Popen([sys.executable, "-m", "trainer.bench_cuda", "--worker", str(run),
                             "--config", json.dumps(cfg.to_dict())], stdout=log, stderr=subprocess.STDOUT, env=env)


def _wait(procs: dict[str, subprocess.Popen], deadline: float) -> dict[str, str]:
    """Wait for every process until `deadline`, then terminate the rest; name -> how it ended."""
    while time.time() < deadline and any(p.poll() is None for p in procs.values()):
        time.sleep(1)
    ended = {}
    for name, proc in procs.items():
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
            ended[name] = "stopped at the deadline"
        else:
            ended[name] = "finished" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
    return ended


def summarize(run: Path, data: Path, device: str) -> dict[str, Any]:
    """Best validation row, timings, and test metrics of the run's (exported) best epoch."""
    from .evaluate import evaluate_run
    from .export import MODEL_FILE, export_run

    rows = read_history(run)
    if not rows:
        return {"epochs_run": 0}
    cfg = run_config(run)
    metric = cfg["select_metric"]
    timings = history_timings(rows, metric)
    out: dict[str, Any] = {
        "epochs_run": timings["epochs_run"], "best_epoch": timings["best_epoch"],
        "val": best_val(rows, metric),
        "median_train_s": timings["median_seconds_per_epoch"], "seconds_to_best": timings["time_to_best_seconds"],
        # what trained, so that a results file says which preset its `preset-amp` run was
        "config": cfg}
    if not (run / MODEL_FILE).exists():
        export_run(run)
    out["test"] = evaluate_run(data, run, "test", device=device)
    return out


def _safe_summary(run: Path, args: argparse.Namespace) -> dict[str, Any]:
    # One broken run must not cost the others' results.
    try:
        return summarize(run, args.data, args.device)
    except Exception as exc:  # noqa: BLE001
        return {"error": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainer.bench_cuda", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, help="prepared ML-1M leave-one-out data")
    p.add_argument("--out", type=Path, help="results directory (runs, logs, results.json)")
    p.add_argument("--budget", type=float, default=480, help="seconds for the whole call")
    p.add_argument("--reserve", type=float, default=60, help="seconds kept for exporting and testing step 3's runs")
    p.add_argument("--preset-seconds", type=float, default=150, help="cap on step 1")
    p.add_argument("--grid", nargs="*", default=[], choices=list(GRID), help="v1 ablations to run (fp32)")
    p.add_argument("--candidates", nargs="*", default=[], choices=list(CANDIDATES), help="preset candidates to run (trainer/ablations.py)")
    p.add_argument("--seeds", nargs="+", type=int, default=CANDIDATE_SEEDS, help="seeds of each candidate")
    p.add_argument("--distill-teachers", nargs="*", type=int, default=[], help="seeds of v4 teachers (step 3)")
    p.add_argument("--distill-students", nargs="*", type=int, default=[], help="seeds of distilled v4 (step 4)")
    p.add_argument("--student-seconds", type=float, default=240, help="the end of --budget kept for step 4")
    p.add_argument("--skip-preset", action="store_true", help="skip steps 1-2 (parity then uses preset-fp32 if run)")
    p.add_argument("--results", type=Path, default=None, help="results file (default OUT/results.json)")
    p.add_argument("--device", default="cuda", help="cuda; cpu only to rehearse the script")
    p.add_argument("--epochs", type=int, default=None, help="cap every run's epochs (rehearsal)")
    p.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--config", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.config)
        return 0
    start = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"torch": torch.__version__, "device": args.device,
                               "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}

    def save() -> None:
        (args.results or args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    def cfg_for(overrides: dict[str, Any], amp: bool, base: dict[str, Any] = ABLATION_BASE) -> TrainConfig:
        cfg = preset_config(args.data, overrides, args.device, amp, base)
        cfg.epochs = min(cfg.epochs, args.epochs or cfg.epochs)
        return cfg

    # ---- 1. the preset on CUDA with AMP, alone ----
    run = args.out / "preset-amp"
    if not args.skip_preset:
        ended = _wait({"preset-amp": _launch(run, cfg_for({}, amp=True, base=PRESETS["ml-1m"]))}, start + args.preset_seconds)
        results["preset-amp"] = {"ended": ended["preset-amp"], **_safe_summary(run, args)}
        save()
    # ---- 2. CPU/GPU parity of its exported model ----
    def check_parity(run: Path) -> None:
        if args.device == "cuda" and run.exists() and "users" not in results.get("parity", {}):
            try:
                results["parity"] = {"run": run.name, **parity(run, args.data)}
            except Exception as exc:  # noqa: BLE001 - e.g. the AMP run failed; retried on the fp32 run
                results["parity"] = {"run": run.name, "error": f"{type(exc).__name__}: {exc}"}
            save()

    if not args.skip_preset:
        check_parity(run)
    # ---- 3. ablations and candidates, side by side until the deadline ----
    # bf16 autocast for the candidates, as the preset is timed, unless that very path just failed.
    amp_ok = args.skip_preset or "test" in results.get("preset-amp", {})
    plan = {name: (GRID[name], False, ABLATION_BASE) for name in args.grid}
    plan.update({name: (o, amp_ok and o.get("amp", True), CANDIDATE_BASE)
                 for name, o in {**candidate_runs(args.candidates, args.seeds), **teacher_plan(args)}.items()})
    procs = {name: _launch(args.out / name, cfg_for(o, amp=amp, base=base)) for name, (o, amp, base) in plan.items()}
    ended = _wait(procs, start + args.budget - args.reserve - (args.student_seconds if args.distill_students else 0))
    for name, (overrides, amp, _) in plan.items():
        base_name = "v1" if name in GRID else "preset"
        results[name] = {"ended": ended[name], "base": base_name, "overrides": overrides, "amp": amp,
                         "side_by_side": len(plan), **_safe_summary(args.out / name, args)}
        save()
    for name in ("preset-fp32", *plan):
        check_parity(args.out / name)
    # ---- 4. students distilled from the teachers' ensemble ----
    if args.distill_students:
        distill_step(args, start, results, save, cfg_for)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
