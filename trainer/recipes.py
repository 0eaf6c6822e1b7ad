"""Recipes: named configurations that take several runs, for results no single preset can name.

    python -m trainer recipe NAME --data DIR --out DIR [--student-seed S] [--epochs N] [--device D] [--amp] [--jobs N]

A distilled GRU learns from an ensemble of teacher GRUs, which must be trained first. A recipe
trains them all into OUT: `teacher-seed-S` (one per teacher seed), `teachers` (their ensemble), and
`student`, the result: a plain GRU run that `evaluate`, `archive` and serving take like any other.
Calling the same command again continues where it stopped: finished runs are kept, an interrupted
one is resumed. OUT/recipe.json pins what OUT was started with, so that the runs in OUT always belong
together: another recipe, data directory or setting is refused by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .atomic import write_text_atomic
from .checkpoint import best_val, history_timings, read_history, selection_metric
from .config import check_seed
from .ensemble import build_ensemble
from .errors import ConfigError, RunDirError
from .recipe_book import RECIPES, Recipe
from .run_lock import run_lock
from .devices import check_amp, resolve_device
from .seed_sweep import train_or_resume
from .side_by_side import train_side_by_side
from .run_kind import CONFIG_FILE, ENSEMBLE_FILE

RECIPE_FILE = "recipe.json"
OLD_LOCK_FILE = ".lock"  # a recipe's lock file before run_lock held the directory itself; may remain in old ones
ENSEMBLE_DIR = "teachers"
STUDENT_DIR = "student"


def _pinned(name: str, recipe: Recipe, data: Path, student_seed: int, epochs: int | None,
            device: str | None, amp: bool) -> dict[str, Any]:
    return {"recipe": name, "spec": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(recipe).items()
                                     if k not in ("measured", "measured_amp")},
            "data": str(Path(data).resolve()), "student_seed": student_seed, "epochs": epochs, "device": device,
            "amp": amp}  # bf16 changes what the runs learn


def _claim(out: Path, pinned: dict[str, Any]) -> None:
    """Start OUT for this recipe, or check that OUT was started with exactly these settings (until its
    first run has begun, e.g. when that run refused a setting, a corrected call may start it afresh).
    Called inside `working_in`, which has already refused a directory that is not a recipe's."""
    path = out / RECIPE_FILE
    if path.exists():
        before = {"amp": False, **json.loads(path.read_text())}  # written before --amp existed: fp32
        changed = sorted(k for k in pinned.keys() | before.keys() if pinned.get(k) != before.get(k))
        if not changed:
            return
        if any((run / CONFIG_FILE).exists() for run in out.iterdir() if run.is_dir()):
            was = ", ".join(f"{k}: {before.get(k)!r}" for k in changed)
            raise ConfigError(f"{out} was started with other settings ({was}); continue with those, "
                              "or choose another --out")
    write_text_atomic(path, json.dumps(pinned, indent=2) + "\n")


def _refuse_foreign(out: Path) -> None:
    """A directory that holds anything but a recipe's own files is not ours to write into."""
    if out.exists() and not (out / RECIPE_FILE).exists() and any(p.name != OLD_LOCK_FILE for p in out.iterdir()):
        raise RunDirError(f"{out}: exists, is not empty and holds no {RECIPE_FILE}; choose another --out")


@contextlib.contextmanager
def working_in(out: Path) -> Iterator[None]:
    """Hold OUT for this process: a second recipe call on the same directory (say, launched twice)
    would train the same runs at once and corrupt them, so it is refused while this one works. The
    lock is run_lock's, on the directory itself (each run inside is locked by its own training)."""
    _refuse_foreign(out)
    out.mkdir(parents=True, exist_ok=True)
    with run_lock(out, busy="another recipe call{pid} is working in it; wait for it to end"):
        yield


def _common(epochs: int | None, device: str | None, amp: bool) -> list[str]:
    return [*(["--epochs", str(epochs)] if epochs is not None else []), *(["--device", device] if device else []),
            *(["--amp"] if amp else [])]


def _summary(run: Path, keys: tuple[str, ...] = ("map@20", "ndcg@10", "hr@10")) -> dict[str, Any]:
    """A run's best epoch and its main validation metrics (history.jsonl has every one)."""
    history, metric = read_history(run), selection_metric(run)
    val = best_val(history, metric)
    return {"run": str(run), "best_epoch": history_timings(history, metric)["best_epoch"], "epochs_run": len(history),
            "val": {k: round(val[k], 5) for k in keys}}


def run_recipe(name: str, data: Path, out: Path, student_seed: int | None = None, epochs: int | None = None,
               device: str | None = None, jobs: int = 1, amp: bool = False) -> dict[str, Any]:
    """Train (or continue) every run of recipe `name` in `out`.

    Args:
        name: a key of RECIPES.
        data: directory with train/validate/test pickles.
        out: the recipe's directory (new, empty, or started by this same call earlier).
        student_seed: the student's seed (default: the recipe's, the one its figures name first).
        epochs: cap every run's epochs (a quick try; the recipe's own runs early-stop).
        device: --device for every run.
        jobs: train this many teachers at once (side_by_side.py), each with its share of the cores;
            not pinned, since it changes only the time taken and the threads' rounding.
        amp: train every run with bf16 autocast (`train --amp`), where bf16 is native.

    Returns:
        Each run's best epoch and validation metrics, and the student's run directory under "model".

    Raises:
        ConfigError: an unknown recipe, a bad setting, or `out` started with other settings.
        RunDirError: `out` holds something else.
        SessrecError: a run failed (named, with its log when it ran side by side).
    """
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}: expected one of {sorted(RECIPES)}")
    if epochs is not None and epochs < 1:
        raise ConfigError(f"--epochs must be >= 1, got {epochs}")
    if jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {jobs}")
    recipe = RECIPES[name]
    seed = recipe.student_seed if student_seed is None else student_seed
    check_seed(seed, "--student-seed")  # now, not after hours of teacher training
    where = resolve_device(device or "auto")  # now, not as the first teacher's error after recipe.json is written
    if amp:
        check_amp(where, "leave out --amp")
    elif recipe.measured_amp:
        print(f"note: recipe {name} was measured with --amp (bf16); without it its runs train in fp32, whose "
              "figures are unmeasured", file=sys.stderr)
    out, data = Path(out), Path(data)
    with working_in(out):
        _claim(out, _pinned(name, recipe, data, seed, epochs, device, amp))
        return _train_all(name, recipe, data, out, seed, _common(epochs, device, amp), jobs)


def _train_all(name: str, recipe: Recipe, data: Path, out: Path, seed: int, common: list[str],
               jobs: int) -> dict[str, Any]:
    # ---- teachers: one run per seed, `jobs` at a time ----
    teachers = [out / f"teacher-seed-{s}" for s in recipe.teacher_seeds]
    plans = [(run, ["--preset", recipe.teacher_preset, *recipe.teacher_flags, *common, "--seed", str(s)])
             for run, s in zip(teachers, recipe.teacher_seeds)]
    if jobs > 1:
        train_side_by_side(data, plans, jobs)
    else:
        for run, flags in plans:
            train_or_resume(data, run, flags)

    # ---- their ensemble (the distillation target) ----
    ensemble = out / ENSEMBLE_DIR
    if not (ensemble / ENSEMBLE_FILE).exists():  # written last: without it the build was cut short
        shutil.rmtree(ensemble, ignore_errors=True)
        build_ensemble(teachers, ensemble)

    # ---- the student ----
    student = out / STUDENT_DIR
    train_or_resume(data, student, ["--preset", recipe.student_preset, "--distill", str(ensemble),
                                    *recipe.student_flags, *common, "--seed", str(seed)])
    return {"recipe": name, "teachers": [_summary(t) for t in teachers], "student": _summary(student),
            "model": str(student)}
