"""A run records the data it learned from; scoring it on other data warns, resuming on other data is refused."""

from __future__ import annotations

import json
import shutil

from conftest import run_cli, tiny_config
from trainer.data_identity import DATA_FILE, data_digest
from trainer.prepare import prepare_log
from trainer.synthetic import synthetic_log

WARNING = "learned from other data than"


def other_data(tmp_path):
    out = tmp_path / "other"
    prepare_log(synthetic_log(n_users=300, n_movies=150, n_clusters=5, n_series=15, seed=12), out, "temporal",
                source="synthetic")
    return out


def test_a_run_records_the_files_it_learned_from(tiny_run, tiny_data):
    record = json.loads((tiny_run / DATA_FILE).read_text())
    assert record["sha256"] == data_digest(tiny_data) and record["files"] == ["train.pkl", "validate.pkl"]


def test_scoring_on_other_data_warns_and_on_a_copy_does_not(tiny_run, tiny_data, tmp_path):
    # Before, a run scored on another data set printed metrics like any evaluation.
    copy = shutil.copytree(tiny_data, tmp_path / "copy")
    for args in (["evaluate", "--run", str(tiny_run)], ["recommend", "--run", str(tiny_run), "--all"]):
        same = run_cli(*args, "--data", str(copy))
        assert same.returncode == 0 and WARNING not in same.stderr, same.stderr
    other = other_data(tmp_path)
    for args in (["evaluate", "--run", str(tiny_run)], ["recommend", "--run", str(tiny_run), "--all"],
                 ["compare", "--runs", str(tiny_run), str(tiny_run), "--resamples", "10"]):
        res = run_cli(*args, "--data", str(other))
        assert res.returncode == 0, res.stderr  # a warning, not a refusal: transfer is a legitimate question
        assert f"warning: {tiny_run} {WARNING} {other}" in res.stderr


def test_resume_follows_the_same_files_to_another_path_and_refuses_other_files(tiny_data, tmp_path):
    from trainer.train import train

    data = shutil.copytree(tiny_data, tmp_path / "data")
    run = tmp_path / "run"
    train(tiny_config(data, epochs=1), run, progress=False)
    moved = data.rename(tmp_path / "moved")
    res = run_cli("train", "--data", str(moved), "--out", str(run), "--resume", "--epochs", "2")
    assert res.returncode == 0, res.stderr  # was: "cannot change --data"
    assert json.loads((run / "config.json").read_text())["data"] == str(moved)

    other = other_data(tmp_path)
    res = run_cli("train", "--data", str(other), "--out", str(run), "--resume", "--epochs", "3")
    assert res.returncode == 2 and "cannot change --data" in res.stderr
    for name in ("train.pkl", "validate.pkl", "test.pkl"):  # other files at the run's own path
        shutil.copyfile(other / name, moved / name)
    before = (run / "history.jsonl").read_text()
    res = run_cli("train", "--data", str(moved), "--out", str(run), "--resume", "--epochs", "3")
    assert res.returncode == 2
    assert f"error: {moved}: its train.pkl and validate.pkl differ from those {run} started on" in res.stderr
    assert (run / "history.jsonl").read_text() == before  # nothing of the run changed


def test_baselines_and_ensembles_record_their_data_too(tiny_data, tiny_run, tmp_path):
    from trainer.baseline_run import run_baseline
    from trainer.ensemble import build_ensemble
    from trainer.train import train

    run_baseline("pop", tiny_data, tmp_path / "pop")
    assert json.loads((tmp_path / "pop" / DATA_FILE).read_text())["sha256"] == data_digest(tiny_data)
    train(tiny_config(tiny_data, seed=9, epochs=1), tmp_path / "second", progress=False)
    build_ensemble([tiny_run, tmp_path / "second"], tmp_path / "ens")
    assert json.loads((tmp_path / "ens" / DATA_FILE).read_text())["sha256"] == data_digest(tiny_data)
