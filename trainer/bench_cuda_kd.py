"""Step 4 of `bench_cuda`: distillation settled in one GPU call.

`--distill-teachers` adds v4 (`label-smoothing-0.1`) runs at those seeds to step 3, which then ends
`--student-seconds` early. Step 4 makes the teachers that reached a best epoch into one ensemble,
scores it on test, and trains the `distilled` candidate at `--distill-students` seeds side by side
until the deadline, each learning from that ensemble. Teachers and students are ordinary candidate
runs in results.json, so `bench_candidates_md` sets the students beside v4's own seeds.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

from .ablations import CANDIDATE_BASE, DISTILL_TEACHER, candidate_runs

ENSEMBLE_RUN = "teachers-ensemble"


def teacher_plan(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Step 3's extra runs: the teachers, named like any candidate run."""
    return candidate_runs([DISTILL_TEACHER], args.distill_teachers)


def student_plan(args: argparse.Namespace, ensemble: Path) -> dict[str, dict[str, Any]]:
    """The `distilled` candidate at each student seed, its "teachers" marker replaced by `ensemble`."""
    runs = candidate_runs(["distilled"], args.distill_students)
    return {name: {**o, "distill": [str(ensemble) if t == "teachers" else t for t in o["distill"]]}
            for name, o in runs.items()}


def distill_step(args: argparse.Namespace, start: float, results: dict[str, Any], save: Callable[[], None],
                 cfg_for: Callable[..., Any]) -> None:
    """Ensemble the teachers, then train the students until the call's deadline; results land as they come."""
    from .bench_cuda import _launch, _safe_summary, _wait
    from .ensemble import build_ensemble
    from .evaluate import evaluate_run
    from .export import BEST_FILE

    teachers = [args.out / name for name in teacher_plan(args)]
    usable = [t for t in teachers if (t / BEST_FILE).exists()]
    ensemble = args.out / ENSEMBLE_RUN
    try:
        build_ensemble(usable, ensemble)  # refuses fewer than two members by name
        results[ENSEMBLE_RUN] = {"members": [t.name for t in usable],
                                 "test": evaluate_run(args.data, ensemble, "test", device=args.device)}
    except Exception as exc:  # noqa: BLE001 - what did run stays in results.json
        results[ENSEMBLE_RUN] = {"members": [t.name for t in usable], "error": f"{type(exc).__name__}: {exc}"}
        save()
        return
    save()
    plan = student_plan(args, ensemble)
    procs = {name: _launch(args.out / name, cfg_for(o, amp=False, base=CANDIDATE_BASE)) for name, o in plan.items()}
    ended = _wait(procs, start + args.budget - args.reserve)
    for name, overrides in plan.items():
        results[name] = {"ended": ended[name], "base": "preset", "overrides": overrides, "amp": False,
                         "side_by_side": len(plan), **_safe_summary(args.out / name, args)}
        save()
