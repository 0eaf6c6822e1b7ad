"""`ensemble`: finished GRU runs served as one model; offline, stateless and session answers agree."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from conftest import run_cli, tiny_config
from handler_harness import Harness, extract_archive
from trainer.config import ModelConfig
from trainer.ensemble import build_ensemble
from trainer.errors import RunDirError
from trainer.evaluate import evaluate_run
from trainer.distill import check_teachers, teacher_runs
from trainer.export import ensemble_members, load_scripted
from trainer.recommend import pad_batch
from trainer.splits import history_for, load_data_dir
from trainer.train import train

SEQ_ID, START = "ts_request_sequence_id", "ts_request_sequence_start"


@pytest.fixture(scope="module")
def other_run(tiny_data, tmp_path_factory):
    # Another seed and another hidden size: the state layout must handle unequal members.
    cfg = tiny_config(tiny_data, seed=4)
    cfg.model = ModelConfig(emb_dim=16, hidden_dim=24)
    run = tmp_path_factory.mktemp("runs") / "other"
    train(cfg, run, progress=False)
    return run


@pytest.fixture(scope="module")
def ens(tiny_run, other_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("ens") / "ens"
    build_ensemble([tiny_run, other_run], out)
    return out


def test_scores_are_the_members_mean_log_probabilities(tiny_run, other_run, ens):
    movies, lens = pad_batch([[0, 3, 5, 7], [0, 2], [0] + list(range(1, 60))])
    a, b = (load_scripted(r / "model.pt") for r in (tiny_run, other_run))
    model = load_scripted(ens / "model.pt")
    with torch.inference_mode():
        expected = (torch.log_softmax(a.predict_next(movies, lens), -1)
                    + torch.log_softmax(b.predict_next(movies, lens), -1)) / 2
        got = model.predict_next(movies, lens)
        state = model.encode(movies, lens)
    assert torch.allclose(got, expected, atol=1e-5)
    assert state.shape == (1, 3, 16 + 24)


def test_evaluate_scores_the_ensemble_like_any_run(tiny_data, ens):
    res = evaluate_run(tiny_data, ens, "validate")
    assert res["users"] > 0 and 0 < res["map@20"] <= 1


def test_sessions_on_an_ensemble_archive_equal_its_stateless_answers(tiny_data, ens, tmp_path):
    sessions = Harness(extract_archive(ens, tmp_path / "a", sessions=True), {"sessions": {"store": "memory"}},
                       {"minWorkers": 1, "maxWorkers": 1})
    stateless = Harness(extract_archive(ens, tmp_path / "b"))
    histories = [h for h in history_for(load_data_dir(tiny_data), "test").values() if len(h) > 6][:5]
    for n, history in enumerate(histories):
        [(status, _)] = sessions.call([{"movies": history[:3]}], [{SEQ_ID: f"e{n}", START: "true"}])
        assert status == 200
        for cut in range(4, len(history) + 1, 2):
            [(status, body)] = sessions.call([{"movies": history[cut - 2 if cut > 4 else 3: cut]}], [{SEQ_ID: f"e{n}"}])
            [(_, expected)] = stateless.call([{"movies": history[:cut]}])
            assert status == 200 and body["movies"] == expected["movies"], (n, cut)


def test_runs_that_cannot_be_combined_are_refused_by_name(tiny_data, tiny_run, tmp_path):
    with pytest.raises(RunDirError, match="at least two runs"):
        build_ensemble([tiny_run], tmp_path / "one")
    other_vocab = tmp_path / "vocab"
    train(tiny_config(tiny_data, min_count=40), other_vocab, progress=False)  # drops rare movies
    with pytest.raises(RunDirError, match="vocabulary differs"):
        build_ensemble([tiny_run, other_vocab], tmp_path / "mixed")
    window = tmp_path / "window"
    shutil.copytree(tiny_run, window)
    ckpt = torch.load(window / "best.pt", weights_only=True)
    ckpt["config"]["max_len"] = 30
    torch.save(ckpt, window / "best.pt")
    with pytest.raises(RunDirError, match="max_len 30 differs"):
        build_ensemble([tiny_run, window], tmp_path / "window-ens")
    assert not (tmp_path / "mixed").exists() and not (tmp_path / "window-ens").exists()


def test_cli_names_the_problem(tiny_data, tiny_run, other_run, tmp_path):
    res = run_cli("baseline", "--name", "pop", "--data", str(tiny_data), "--out", str(tmp_path / "pop"))
    assert res.returncode == 0, res.stderr
    res = run_cli("ensemble", "--runs", str(tiny_run), str(tmp_path / "pop"), "--out", str(tmp_path / "ens"))
    assert res.returncode == 2 and f"{tmp_path / 'pop'} is a 'pop' baseline run: it has no trained weights" in res.stderr
    # The same run twice (here under two spellings) would only count double in the average.
    res = run_cli("ensemble", "--runs", str(tiny_run), str(tiny_run.parent / ".." / tiny_run.parent.name / tiny_run.name),
                  "--out", str(tmp_path / "twice"))
    assert res.returncode == 2 and "is given twice (also as " in res.stderr and not (tmp_path / "twice").exists()
    res = run_cli("ensemble", "--runs", str(tiny_run), str(other_run), "--out", str(tmp_path / "two"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "two" / "model.pt").exists() and (tmp_path / "two" / "ensemble.json").exists()
    before = {p.name: p.read_bytes() for p in (tmp_path / "two").iterdir()}
    for args in (["train", "--data", str(tiny_data), "--out", str(tmp_path / "two"), "--resume"],
                 ["export", "--run", str(tmp_path / "two")]):
        res = run_cli(*args)
        assert res.returncode == 2 and "is an ensemble" in res.stderr, args
    res = run_cli("ensemble", "--runs", str(tiny_run), str(tmp_path / "two"), "--out", str(tmp_path / "nested"))
    assert res.returncode == 2 and "is an ensemble (ensemble.json): its member runs hold the trained weights" in res.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "two").iterdir()} == before


def test_runs_moved_together_with_their_ensemble_still_find_each_other(tiny_run, other_run, tmp_path, monkeypatch):
    # Built as a user would, with paths relative to where they stand; then the whole folder moves.
    old = tmp_path / "old"
    for name, run in (("a", tiny_run), ("b", other_run)):
        shutil.copytree(run, old / name)
    monkeypatch.chdir(old)
    build_ensemble([Path("a"), Path("b")], Path("ens"))
    old.rename(tmp_path / "new")
    monkeypatch.chdir(tmp_path)
    ens = tmp_path / "new" / "ens"
    members = ensemble_members(ens)
    assert [m.resolve() for m in members] == [tmp_path / "new" / "a", tmp_path / "new" / "b"]
    assert [m.resolve() for m in teacher_runs([str(ens)])] == [m.resolve() for m in members]
    check_teachers([str(ens)])  # a teacher it could not find would be a ConfigError


def test_an_ensemble_without_relative_member_paths_reads_them_as_given(ens, tmp_path):
    # Ensembles built before the relative path was recorded: the path as given, from the current directory.
    old_style = tmp_path / "old-style"
    shutil.copytree(ens, old_style)
    spec = json.loads((old_style / "ensemble.json").read_text())
    for member in spec["members"]:
        del member["from_ensemble"]
    (old_style / "ensemble.json").write_text(json.dumps(spec))
    assert ensemble_members(old_style) == [Path(m["run"]) for m in spec["members"]]
    assert all(m.exists() for m in ensemble_members(old_style))
