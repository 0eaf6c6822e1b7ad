"""Every command that needs a GRU run refuses another kind of directory with the same sentence (run_kind.py),
and writes nothing."""

from __future__ import annotations

import shutil

import pytest

from conftest import tiny_config
from trainer.__main__ import main
from trainer.baseline_run import run_baseline
from trainer.ensemble import build_ensemble
from trainer.run_kind import BEST_FILE, ENSEMBLE, not_a_gru_run, not_a_trained_gru_run, run_kind
from trainer.train import train


@pytest.fixture(scope="module")
def runs(tiny_data, tiny_run, tmp_path_factory):
    """One directory of each kind that is not a trained GRU run, by name."""
    root = tmp_path_factory.mktemp("kinds")
    run_baseline("pop", tiny_data, root / "pop", min_count=2)
    train(tiny_config(tiny_data, epochs=1, seed=5), root / "second", progress=False)
    build_ensemble([tiny_run, root / "second"], root / "ensemble")
    shutil.copytree(tiny_run, root / "unfinished")
    (root / "unfinished" / BEST_FILE).unlink()
    (root / "stray").mkdir()
    (root / "stray" / "notes.txt").write_text("not a run")
    return {name: root / name for name in ("pop", "ensemble", "unfinished", "stray")} | {"missing": root / "absent"}


def test_each_directory_is_named_for_what_it_is(runs, tiny_run):
    assert run_kind(tiny_run) == "gru" and not_a_trained_gru_run(tiny_run) is None
    assert [run_kind(runs[k]) for k in ("pop", "ensemble", "unfinished", "stray", "missing")] == [
        "pop", ENSEMBLE, "gru", None, None]
    assert not_a_gru_run(runs["unfinished"]) is None  # a GRU run that may still be resumed
    assert not_a_trained_gru_run(runs["unfinished"]).endswith("has no best.pt: it has not finished an epoch")
    assert not_a_trained_gru_run(runs["pop"]).endswith("is a 'pop' baseline run: it has no trained weights (GRU runs have)")
    assert not_a_trained_gru_run(runs["ensemble"]).endswith("its member runs hold the trained weights")
    assert not_a_trained_gru_run(runs["stray"]).endswith("holds no config.json: not a run directory")
    assert not_a_trained_gru_run(runs["missing"]).endswith("absent: no such run directory")


COMMANDS = {
    "export": lambda run, data, out, good: ["export", "--run", str(run)],
    "ensemble": lambda run, data, out, good: ["ensemble", "--runs", str(good), str(run), "--out", str(out)],
    "distill": lambda run, data, out, good: ["train", "--data", str(data), "--out", str(out), "--distill", str(run)],
    "init-from": lambda run, data, out, good: ["train", "--data", str(data), "--out", str(out), "--init-from", str(run),
                                               "--emb-dim", "16", "--hidden-dim", "16"],
}


# --distill takes an ensemble of teachers as its members (test_distill.py), so that pair is not refused.
@pytest.mark.parametrize("command, kind", [(c, k) for c in sorted(COMMANDS) for k in ("pop", "ensemble", "unfinished",
                                           "stray", "missing") if (c, k) != ("distill", "ensemble")])
def test_commands_that_need_a_trained_gru_run_refuse_the_others_alike(runs, tiny_data, tiny_run, tmp_path, capsys,
                                                                       command, kind):
    run, out = runs[kind], tmp_path / "new"
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    code = main(COMMANDS[command](run, tiny_data, out, tiny_run))
    err = capsys.readouterr().err
    assert code == 2 and not_a_trained_gru_run(run) in err, err
    assert not out.exists() and {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("kind", ["pop", "ensemble"])
def test_resume_refuses_what_is_not_a_gru_run_in_the_same_words(runs, tiny_data, capsys, kind):
    run = runs[kind]
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    code = main(["train", "--data", str(tiny_data), "--out", str(run), "--resume"])
    err = capsys.readouterr().err
    assert code == 2 and f"{not_a_gru_run(run)}; only GRU runs train or resume" in err, err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
