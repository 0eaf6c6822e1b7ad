"""A model.pt exported before the run's best checkpoint changed is not taken for the run's best."""

from __future__ import annotations

import shutil

import torch

from conftest import run_cli
from trainer.export import BEST_FILE, MODEL_FILE, load_scripted, torchscript_quiet


def a_later_best(run):
    """best.pt as a resumed run that found a better epoch after `export` leaves it (other weights)."""
    state = torch.load(run / BEST_FILE, map_location="cpu", weights_only=True)
    state["model"] = {k: v + 0.01 if v.is_floating_point() else v for k, v in state["model"].items()}
    torch.save(state, run / BEST_FILE)


def test_archive_refuses_and_evaluate_warns_until_export_runs_again(tiny_run, tiny_data, tmp_path):
    # Before, a run exported, resumed and improved was archived and scored from the old export
    # without a word: the served model was not the run's best.
    run = shutil.copytree(tiny_run, tmp_path / "run")
    store = tmp_path / "store"
    assert run_cli("archive", "--run", str(run), "--out", str(store)).returncode == 0  # fresh export: fine
    a_later_best(run)

    res = run_cli("archive", "--run", str(run), "--out", str(store), "--name", "later")
    assert res.returncode == 2 and not (store / "later.mar").exists()
    assert f"error: {run / MODEL_FILE} was exported from an earlier best checkpoint than {run / BEST_FILE}" in res.stderr
    res = run_cli("evaluate", "--run", str(run), "--data", str(tiny_data))
    assert res.returncode == 0 and "earlier best checkpoint" in res.stderr and "it answers as exported" in res.stderr

    assert run_cli("export", "--run", str(run)).returncode == 0
    res = run_cli("archive", "--run", str(run), "--out", str(store), "--name", "later")
    assert res.returncode == 0 and "warning" not in res.stderr, res.stderr


def test_a_copied_run_and_an_export_without_the_record_pass(tiny_run, tiny_data, tmp_path):
    # The record is the checkpoint's content, not a time: a copy (new file times) is still current,
    # and a model.pt exported before the record existed is taken as it is.
    run = shutil.copytree(tiny_run, tmp_path / "run", copy_function=shutil.copy)
    (run / BEST_FILE).touch()
    res = run_cli("evaluate", "--run", str(run), "--data", str(tiny_data))
    assert res.returncode == 0 and "warning" not in res.stderr, res.stderr
    with torchscript_quiet():
        torch.jit.save(load_scripted(run / MODEL_FILE), str(run / MODEL_FILE))  # no extra files
    a_later_best(run)
    res = run_cli("evaluate", "--run", str(run), "--data", str(tiny_data))
    assert res.returncode == 0 and "warning" not in res.stderr, res.stderr
