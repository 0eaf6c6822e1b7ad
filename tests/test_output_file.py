"""Files a user names for output (`evaluate --per-user`, `recommend --out`) never replace what the
command reads: the split files, the run's own files, the --input file."""

from __future__ import annotations

import os
import shutil

import pytest

from conftest import run_cli
from trainer.errors import ConfigError
from trainer.output_file import check_output_file


@pytest.fixture()
def copies(tiny_run, tiny_data, tmp_path):
    """A run and its data that a failing test may damage without harming the shared fixtures."""
    return shutil.copytree(tiny_run, tmp_path / "run"), shutil.copytree(tiny_data, tmp_path / "data")


def snapshot(*dirs):
    return {p: p.read_bytes() for d in dirs for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("target, named", [
    ("data/train.pkl", "data/train.pkl, a split file"),
    ("data/meta.json", "data/meta.json, a split file"),
    ("run/model.pt", "run/model.pt, a file of the run"),
    ("run/data.json", "run/data.json, a file of the run"),
    ("run/../run/vocab.json", "run/vocab.json, a file of the run"),
])
def test_evaluate_refuses_to_write_per_user_values_over_its_own_inputs(copies, tmp_path, target, named):
    # Before, `--per-user DATA/train.pkl` replaced the training split with JSON after scoring.
    run, data = copies
    before = snapshot(run, data)
    res = run_cli("evaluate", "--run", str(run), "--data", str(data), "--per-user", str(tmp_path / target))
    assert res.returncode == 2
    assert f"--per-user {tmp_path / target} is {tmp_path / named}" in res.stderr
    assert "writing there would destroy it" in res.stderr and snapshot(run, data) == before


def test_recommend_refuses_to_write_answers_over_its_input_or_the_data(copies, tmp_path):
    run, data = copies
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"movies": [1, 2]}\n')
    os.link(queries, tmp_path / "hardlink.jsonl")
    (tmp_path / "symlink.jsonl").symlink_to(queries)
    before = snapshot(run, data) | {queries: queries.read_bytes()}
    for args, what in [
        (["--input", str(queries), "--out", str(queries)], "the --input file"),
        (["--input", str(queries), "--out", str(tmp_path / "hardlink.jsonl")], "the --input file"),
        (["--input", str(queries), "--out", str(tmp_path / "symlink.jsonl")], "the --input file"),
        (["--all", "--data", str(data), "--out", str(data / "test.pkl")], "a split file"),
        (["--input", str(queries), "--out", str(run / "config.json")], "a file of the run"),
    ]:
        res = run_cli("recommend", "--run", str(run), *args)
        assert res.returncode == 2 and what in res.stderr and "writing there would destroy it" in res.stderr, res.stderr
    assert snapshot(run, data) | {queries: queries.read_bytes()} == before


def test_other_files_in_the_run_and_data_directories_may_be_written(copies):
    run, data = copies
    res = run_cli("evaluate", "--run", str(run), "--data", str(data), "--per-user", str(run / "per_user.json"))
    assert res.returncode == 0 and (run / "per_user.json").exists()
    check_output_file(data / "answers.jsonl", "--out", run=run, data=data)  # no error: not a file either reads


def test_a_directory_is_named_as_the_problem(tmp_path):
    with pytest.raises(ConfigError, match=f"--per-user {tmp_path} is a directory; name the file to write"):
        check_output_file(tmp_path, "--per-user")


def test_a_dash_is_standard_output_for_answers_and_refused_for_per_user_values(tiny_run, tiny_data, tmp_path):
    # Both wrote a file called "-" in the working directory, where `--input -` reads standard input.
    res = run_cli("recommend", "--run", str(tiny_run), "--data", str(tiny_data), "--all", "--out", "-", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) > 10 and not (tmp_path / "-").exists()
    res = run_cli("evaluate", "--run", str(tiny_run), "--data", str(tiny_data), "--per-user", "-", cwd=tmp_path)
    assert res.returncode == 2 and "error: --per-user - would write a file called '-'" in res.stderr
    assert not (tmp_path / "-").exists()


def test_missing_directories_are_made_and_a_file_in_the_way_is_named_before_any_work(tiny_run, tiny_data, tmp_path):
    # recommend --out refused a missing directory that evaluate --per-user made; and a file standing
    # where a directory must go failed only after the scoring, as "error: afile: File exists".
    res = run_cli("recommend", "--run", str(tiny_run), "--data", str(tiny_data), "--all", "--out",
                  str(tmp_path / "new" / "dir" / "answers.jsonl"))
    assert res.returncode == 0, res.stderr
    assert len((tmp_path / "new" / "dir" / "answers.jsonl").read_text().splitlines()) > 10
    (tmp_path / "afile").write_text("kept\n")
    for command, flag in [("recommend", "--out"), ("evaluate", "--per-user")]:
        extra = ["--all"] if command == "recommend" else []
        out = tmp_path / "afile" / "sub" / "x.json"
        res = run_cli(command, "--run", str(tiny_run), "--data", str(tiny_data), *extra, flag, str(out))
        assert res.returncode == 2
        assert f"error: {flag} {out}: {tmp_path / 'afile'} is a file, not a directory" in res.stderr, res.stderr
    assert (tmp_path / "afile").read_text() == "kept\n"
