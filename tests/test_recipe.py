"""`recipe`: teachers, their ensemble and a distilled student in one directory, continued where it stopped."""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from conftest import CPU_STEPS
from trainer.__main__ import _train_config, main
from trainer.cli_parser import _add_train
from trainer.config import TrainConfig
from trainer.devices import bf16_native
from trainer.evaluate import evaluate_run
from trainer.presets import PRESETS
from trainer.recipes import RECIPE_FILE, RECIPES, Recipe, working_in
from trainer.thread_share import ENV, follow_share, write_share

SMALL = ("--batch-size", "64", "--min-count", "2", "--max-len", "40", "--emb-dim", "16", "--hidden-dim", "16")
TINY = Recipe(teacher_preset="ml-100k", teacher_flags=(*SMALL, "--label-smoothing", "0.1"), teacher_seeds=(3, 4),
              # --distill needs the logged order and the next movie: the preset reorders windows, targets the rest
              student_preset="ml-100k",
              student_flags=(*SMALL, "--shuffle-window", "0", "--target", "next", "--distill-weight", "0.3",
                             "--distill-k", "20"),
              student_seed=9, measured="nothing: a test recipe")


@pytest.fixture(scope="module", autouse=True)
def tiny_recipe():
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(RECIPES, "tiny", TINY)
        yield "tiny"


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_data, tiny_recipe):
    """One finished recipe directory; tests that change it work on a copy (file times kept)."""
    out = tmp_path_factory.mktemp("recipe") / "r"
    assert _recipe(tiny_data, out) == 0
    return out


def _recipe(data, out, *extra):
    return main(["recipe", "tiny", "--data", str(data), "--out", str(out), "--epochs", "2", *extra])


def _mtimes(out):
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.glob("*/model.pt")}


def test_recipe_trains_teachers_ensemble_and_student(finished, tiny_data, capsys):
    out = finished
    assert _recipe(tiny_data, out) == 0  # called again: the same summary, from the finished runs
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["model"] == str(out / "student")
    for seed, t in zip((3, 4), summary["teachers"]):
        cfg = json.loads((out / f"teacher-seed-{seed}" / "config.json").read_text())
        assert (cfg["seed"], cfg["label_smoothing"], cfg["epochs"], cfg["model"]["hidden_dim"]) == (seed, 0.1, 2, 16)
        assert t["run"] == str(out / f"teacher-seed-{seed}") and 1 <= t["best_epoch"] <= t["epochs_run"] == 2
    members = json.loads((out / "teachers" / "ensemble.json").read_text())["members"]
    assert [m["run"] for m in members] == [str(out / "teacher-seed-3"), str(out / "teacher-seed-4")]
    student = json.loads((out / "student" / "config.json").read_text())
    assert (student["seed"], student["distill"], student["distill_weight"], student["distill_k"]) == (
        9, [str(out / "teachers")], 0.3, 20)
    assert student["label_smoothing"] == PRESETS["ml-100k"].get("label_smoothing", 0.0)  # teachers' flags stay theirs
    # The student is a plain run: evaluated (and archived) like any other.
    assert 0 <= evaluate_run(tiny_data, out / "student", "test")["map@20"] <= 1
    assert json.loads((out / RECIPE_FILE).read_text())["student_seed"] == 9


def test_recipe_continues_where_it_stopped(finished, tiny_data, tmp_path, capsys):
    out = tmp_path / "r"
    shutil.copytree(finished, out)
    first = _mtimes(out)
    assert sorted(first) == ["student/model.pt", "teacher-seed-3/model.pt", "teacher-seed-4/model.pt",
                             "teachers/model.pt"]
    assert _recipe(tiny_data, out) == 0  # all finished: nothing is trained or rebuilt
    assert _mtimes(out) == first
    # Cut short: one teacher lost its export, the ensemble its last file.
    (out / "teacher-seed-4" / "model.pt").unlink()
    (out / "teachers" / "ensemble.json").unlink()
    capsys.readouterr()
    assert _recipe(tiny_data, out) == 0
    assert "resuming" in capsys.readouterr().out
    now = _mtimes(out)
    assert now["teacher-seed-3/model.pt"] == first["teacher-seed-3/model.pt"]
    assert now["teachers/model.pt"] != first["teachers/model.pt"] and (out / "teachers" / "ensemble.json").exists()
    assert now["student/model.pt"] == first["student/model.pt"]  # finished, so kept


@pytest.mark.parametrize("extra, message", [
    (["--student-seed", "5"], "student_seed: 9"),
    (["--epochs", "3"], "epochs: 2"),
])
def test_other_settings_in_a_started_directory_are_refused(finished, tiny_data, capsys, extra, message):
    out = finished
    before = _mtimes(out)
    pinned = (out / RECIPE_FILE).read_text()
    capsys.readouterr()
    epochs = [] if "--epochs" in extra else ["--epochs", "2"]
    assert main(["recipe", "tiny", "--data", str(tiny_data), "--out", str(out), *epochs, *extra]) == 2
    err = capsys.readouterr().err
    assert "was started with other settings" in err and message in err
    assert _mtimes(out) == before and (out / RECIPE_FILE).read_text() == pinned


def test_a_directory_holding_something_else_is_refused(tiny_data, tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert _recipe(tiny_data, out) == 2
    assert "holds no recipe.json" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_a_directory_in_use_by_another_call_is_refused(finished, tiny_data, capsys):
    before = _mtimes(finished)
    with working_in(finished):  # as a second process would find it while the first still trains
        assert _recipe(tiny_data, finished) == 2
    err = capsys.readouterr().err
    assert f"another recipe call (pid {os.getpid()}) is working in it; wait for it to end" in err
    assert _mtimes(finished) == before
    assert _recipe(tiny_data, finished) == 0  # once it is free


def test_settings_refused_by_the_first_run_can_be_corrected(tiny_data, tmp_path, capsys):
    out = tmp_path / "r"
    assert _recipe(tmp_path / "no-such-data", out) == 2
    assert "no-such-data" in capsys.readouterr().err
    assert not (out / "teacher-seed-3" / "config.json").exists()
    assert _recipe(tiny_data, out, "--student-seed", "2") == 0  # nothing had started: the new settings hold
    assert json.loads((out / RECIPE_FILE).read_text())["student_seed"] == 2


def test_a_student_seed_no_run_could_take_is_refused_before_any_teacher(tiny_data, tmp_path, capsys):
    # Caught only by the student's own training, it would cost every teacher's training first.
    out = tmp_path / "r"
    assert _recipe(tiny_data, out, "--student-seed", "-1") == 2
    assert "--student-seed must be an int in 0..2**63-1, got -1" in capsys.readouterr().err
    assert not out.exists()



def test_a_device_this_machine_lacks_is_refused_before_the_recipe_is_written(tiny_data, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "r"
    assert _recipe(tiny_data, out, "--device", "cuda") == 2
    assert "--device cuda requested but no CUDA device is available" in capsys.readouterr().err
    assert not out.exists()  # was recipe.json, then the first teacher's failure


def test_amp_where_bf16_would_be_emulated_is_refused_before_the_recipe_is_written(tiny_data, tmp_path, capsys,
                                                                                  monkeypatch):
    import trainer.devices as devices

    monkeypatch.setattr(devices, "bf16_native", lambda device: False)
    out = tmp_path / "r"
    assert _recipe(tiny_data, out, "--amp", "--device", "cpu") == 2
    assert "--amp: cpu has no native bf16" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.skipif(not bf16_native(torch.device("cpu")), reason="this CPU has no native bf16")
def test_amp_reaches_every_run_and_is_pinned(finished, tiny_data, tmp_path, capsys):
    out = tmp_path / "r"
    assert _recipe(tiny_data, out, "--amp", "--device", "cpu") == 0
    for run in ("teacher-seed-3", "teacher-seed-4", "student"):
        assert json.loads((out / run / "config.json").read_text())["amp"] is True, run
    assert json.loads((out / RECIPE_FILE).read_text())["amp"] is True
    before = _mtimes(out)
    capsys.readouterr()
    assert _recipe(tiny_data, out, "--device", "cpu") == 2  # the same directory in fp32 would mix precisions
    assert "was started with other settings (amp: True)" in capsys.readouterr().err
    assert _mtimes(out) == before
    # and the other way, also for a directory from before the flag (no "amp" in recipe.json: fp32)
    old = tmp_path / "old"
    shutil.copytree(finished, old)
    pinned = json.loads((old / RECIPE_FILE).read_text())
    del pinned["amp"]
    (old / RECIPE_FILE).write_text(json.dumps(pinned))
    assert _recipe(tiny_data, old) == 0
    assert _recipe(tiny_data, old, "--amp") == 2
    assert "was started with other settings (amp: False)" in capsys.readouterr().err


def test_a_recipe_measured_with_amp_says_so_when_called_without_it(finished, tiny_data, tmp_path, capsys,
                                                                   monkeypatch):
    from dataclasses import replace

    out = tmp_path / "r"
    shutil.copytree(finished, out)
    before = _mtimes(out)
    monkeypatch.setitem(RECIPES, "tiny", replace(TINY, measured_amp=True))
    # the flag is about the figures, not the runs: a directory started before it existed carries on as it was
    assert _recipe(tiny_data, out) == 0
    assert ("note: recipe tiny was measured with --amp (bf16); without it its runs train in fp32, whose figures "
            "are unmeasured") in capsys.readouterr().err
    assert _mtimes(out) == before
    monkeypatch.setitem(RECIPES, "tiny", TINY)
    assert _recipe(tiny_data, out) == 0
    assert "note:" not in capsys.readouterr().err


def test_teachers_side_by_side(finished, tiny_data, tmp_path, capsys):
    out = tmp_path / "r"
    assert _recipe(tmp_path / "missing", out, "--jobs", "2") == 2  # both teacher processes fail
    err = capsys.readouterr().err
    for seed in (3, 4):
        assert f"training {out / f'teacher-seed-{seed}'} failed, see {out / f'teacher-seed-{seed}.log'}" in err
    assert "missing: data directory not found" in err

    assert _recipe(tiny_data, out, "--jobs", "2") == 0
    printed = capsys.readouterr().out
    cores = os.cpu_count() or 1
    # The first run has the cores to itself until the second starts; then each has half.
    assert f"started {out / 'teacher-seed-3'} (threads each: {cores};" in printed
    assert f"started {out / 'teacher-seed-4'} (threads each: {max(1, cores // 2)};" in printed
    assert not list(out.glob("*.threads"))  # the share files go with their runs
    for seed in (3, 4):
        log = (out / f"teacher-seed-{seed}.log").read_text()
        assert "epoch   2" in log and "model.pt" in log
        # The same runs as in one process (their numbers differ a little: other thread counts round differently).
        ours, theirs = (json.loads((d / f"teacher-seed-{seed}" / "config.json").read_text()) for d in (out, finished))
        assert {k: v for k, v in ours.items() if k != "data"} == {k: v for k, v in theirs.items() if k != "data"}
    assert (out / "student" / "model.pt").exists()


def _train_config_of(preset, flags, seed):
    """The TrainConfig `train --preset PRESET FLAGS --seed SEED` would run (a student's teachers: "t")."""
    parser = argparse.ArgumentParser()
    _add_train(parser.add_subparsers(dest="command"))
    teachers = ["--distill", "t"] if "--distill-weight" in flags else []
    return _train_config(parser.parse_args(["train", "--data", "d", "--out", "o", "--preset", preset, *flags,
                                            "--seed", str(seed), *teachers]))


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_shipped_recipes_are_valid_train_commands(name):
    recipe = RECIPES[name]
    teachers = [_train_config_of(recipe.teacher_preset, recipe.teacher_flags, s) for s in recipe.teacher_seeds]
    student = _train_config_of(recipe.student_preset, recipe.student_flags, recipe.student_seed)
    assert len(teachers) >= 2 and len({t.seed for t in teachers}) == len(teachers)
    for t in teachers:
        t.validate()
        assert (t.max_len, t.model.layers) == (student.max_len, student.model.layers)  # an ensemble needs both
    student.validate()
    assert student.distill == ["t"] and student.distill_weight > 0


@pytest.mark.parametrize("name, teacher_runs, student_run, teachers_dir, extra", [
    ("ml-1m-distilled", ("ml-1m-gru", "ml-1m-gru-seed1", "ml-1m-gru-seed2"), "ml-1m-gru-kd",
     "build/bench/runs/ml-1m-gru-ens3", ()),
    ("ml-1m-distilled-amp", ("ml-1m-gru-v5-amp", "ml-1m-gru-v5-amp-seed1", "ml-1m-gru-v5-amp-seed2"),
     "ml-1m-gru-v6-kd-amp-seed6", "build/kd5/ml-1m-gru-v5-amp-ens3", ("--amp",)),
])
def test_ml_1m_recipes_are_the_measured_runs(name, teacher_runs, student_run, teachers_dir, extra):
    """Its teachers and student are configured as the CPU runs whose figures it names (docs/ablations)."""
    rows = {r["run"]: r for r in json.loads(CPU_STEPS.read_text())["rows"]}
    recorded = {run: row["config"] for run, row in rows.items()}
    recipe = RECIPES[name]

    def same(run, preset, flags, seed):
        ours = _train_config_of(preset, (*flags, *extra), seed).to_dict()

        def compared(cfg):  # settings added since a run was made held their defaults then
            full = TrainConfig.completed(cfg)
            return ({k: v for k, v in full.items() if k not in ("data", "model", "distill")},
                    {k: v for k, v in full["model"].items() if k != "vocab_size"})  # paths and sizes: the data's

        assert compared(ours) == compared(recorded[run]), run

    for run, seed in zip(teacher_runs, recipe.teacher_seeds, strict=True):
        same(run, recipe.teacher_preset, recipe.teacher_flags, seed)
    same(student_run, recipe.student_preset, recipe.student_flags, recipe.student_seed)
    assert recorded[student_run]["distill"] == [teachers_dir]
    # the ensemble the student learnt from is made of the teacher runs compared above
    assert rows[Path(teachers_dir).name]["ensemble"] == list(teacher_runs)


def test_a_run_follows_its_share_of_the_cores(tmp_path, monkeypatch):
    before = torch.get_num_threads()
    share = tmp_path / "run.threads"
    try:
        assert follow_share() is None  # a run of its own: left as it is
        monkeypatch.setenv(ENV, str(share))
        assert follow_share() is None and torch.get_num_threads() == before  # no file yet
        write_share(share, 1)
        assert follow_share() == 1 and torch.get_num_threads() == 1
        share.write_text("half\n")
        assert follow_share() is None and torch.get_num_threads() == 1  # unreadable: kept, never fatal
    finally:
        torch.set_num_threads(before)
