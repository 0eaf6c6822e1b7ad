"""A run records the data it learned from; scoring it on other data warns, resuming on other data is refused."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np

from conftest import run_cli, tiny_config
from trainer.data_identity import DATA_FILE, content_digest, data_digest
from trainer.prepare import prepare_log
from trainer.splits import load_data_dir
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
    assert record["content_sha256"] == content_digest(load_data_dir(tiny_data))


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


def repickle(src, dst, transform):
    """The same splits written again another way (as a user's own pipeline might): other bytes."""
    dst.mkdir()
    for name in ("train", "validate", "test"):
        users, movies = pickle.loads((src / f"{name}.pkl").read_bytes())
        (dst / f"{name}.pkl").write_bytes(transform(users, movies))


def test_the_same_splits_pickled_another_way_are_the_same_data(tiny_run, tiny_data, tmp_path):
    # Before, data.json compared the files' bytes: splits pickled with another protocol, or as numpy
    # arrays, warned "other data" and blocked --resume and --distill, though nothing had changed.
    arrays = tmp_path / "arrays"
    repickle(tiny_data, arrays, lambda u, m: pickle.dumps((np.array(u), [np.array(x, dtype=np.int64) for x in m]),
                                                          protocol=2))
    assert (arrays / "train.pkl").read_bytes() != (tiny_data / "train.pkl").read_bytes()
    res = run_cli("evaluate", "--run", str(tiny_run), "--data", str(arrays))
    assert res.returncode == 0 and WARNING not in res.stderr, res.stderr
    # one movie changed in the training split: other data, though the bytes' length is the same
    changed = tmp_path / "changed"
    repickle(tiny_data, changed, lambda u, m: pickle.dumps((u, [m[0][:-1] + [m[0][-2]]] + m[1:]), protocol=4))
    res = run_cli("evaluate", "--run", str(tiny_run), "--data", str(changed))
    assert res.returncode == 0 and f"warning: {tiny_run} {WARNING} {changed}" in res.stderr


def test_resume_accepts_the_same_splits_pickled_another_way(tiny_data, tmp_path):
    from trainer.train import train

    data = shutil.copytree(tiny_data, tmp_path / "data")
    run = tmp_path / "run"
    train(tiny_config(data, epochs=1), run, progress=False)
    for name in ("train", "validate", "test"):  # rewritten in place by another pickle protocol
        path = data / f"{name}.pkl"
        path.write_bytes(pickle.dumps(pickle.loads(path.read_bytes()), protocol=2))
    res = run_cli("train", "--data", str(data), "--out", str(run), "--resume", "--epochs", "2")
    assert res.returncode == 0, res.stderr
    assert [json.loads(line)["epoch"] for line in (run / "history.jsonl").read_text().splitlines()] == [1, 2]


def test_records_from_before_the_content_digest_compare_by_bytes(tiny_data, tmp_path):
    from trainer.data_identity import data_record, holds, same_records

    new = data_record(tiny_data)
    old = {k: v for k, v in new.items() if k != "content_sha256"}
    again = tmp_path / "again"
    repickle(tiny_data, again, lambda u, m: pickle.dumps((u, m), protocol=2))
    assert holds(new, tiny_data) and holds(old, tiny_data) and holds(new, again)
    assert not holds(old, again)  # bytes are all an old record can compare
    assert same_records(new, data_record(again)) and not same_records(old, data_record(again))
