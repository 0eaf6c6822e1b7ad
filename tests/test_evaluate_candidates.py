"""`evaluate --candidates FILE`: offline figures for a deployment that sends an allow-list with every request."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import run_cli
from trainer.candidate_ids import read_id_file
from trainer.evaluate import load_exported, run_cases
from trainer.evaluation import evaluate_scorer


def evaluate(tiny_run, tiny_data, *flags):
    res = run_cli("evaluate", "--run", str(tiny_run), "--data", str(tiny_data), *flags)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_an_allow_list_scores_as_a_model_whose_other_movies_score_minus_infinity(tiny_run, tiny_data, tmp_path):
    # the reference masks through the scores, not through recommend.keep_only: two routes, one answer
    model, cases = run_cases(tiny_data, tiny_run)
    vocab = load_exported(tiny_run)[1]
    pool = vocab.movies[::3]
    ids = tmp_path / "region.txt"
    ids.write_text("# titles licensed in one region\n" + "\n".join(f"{m}, {m}" for m in pool) + "\n999999999 # not ours\n")
    got = evaluate(tiny_run, tiny_data, "--candidates", str(ids))
    outside = torch.ones(vocab.size, dtype=torch.bool)
    outside[vocab.encode(pool)] = False
    reference = evaluate_scorer(lambda m, l: model.predict_next(m, l).masked_fill(outside, float("-inf")), cases,
                                counts=vocab.counts)
    assert got.pop("candidates") == len(pool)
    for name, value in reference.items():
        assert got[name] == pytest.approx(value, abs=1e-9), name
    whole = evaluate(tiny_run, tiny_data)
    assert got["map@20"] != whole["map@20"] and got["coverage@20"] < whole["coverage@20"]
    # the whole catalog as the list: the plain evaluation
    ids.write_text(" ".join(map(str, vocab.movies)))
    every = evaluate(tiny_run, tiny_data, "--candidates", str(ids))
    assert every.pop("candidates") == vocab.size - 1 and every == whole


@pytest.mark.parametrize("text, message", [
    ("12 13\n14 x15\n", r"ids.txt:2: 'x15' is not a movie id \(a 64-bit integer\)"),
    ("1.5\n", r"ids.txt:1: '1.5' is not a movie id"),
    ("99999999999999999999\n", r"ids.txt:1: '99999999999999999999' is not a movie id"),
    ("# nothing yet\n\n", r"ids.txt: no movie ids in it"),
])
def test_a_bad_id_file_is_named_by_line(tmp_path, text, message):
    from trainer.errors import DataError

    (tmp_path / "ids.txt").write_text(text)
    with pytest.raises(DataError, match=message):
        read_id_file(tmp_path / "ids.txt")


def test_ids_none_of_which_the_model_knows_are_refused(tiny_run, tiny_data, tmp_path):
    (tmp_path / "ids.txt").write_text("999999991 999999992\n")
    res = run_cli("evaluate", "--run", str(tiny_run), "--data", str(tiny_data), "--candidates", str(tmp_path / "ids.txt"))
    assert res.returncode == 2 and "none of the 2 candidate id(s) is in" in res.stderr and "nothing could be ranked" \
        in res.stderr, res.stderr
    res = run_cli("evaluate", "--run", str(tiny_run), "--data", str(tiny_data), "--candidates", str(tmp_path / "no.txt"))
    assert res.returncode == 2 and "no.txt: cannot read it as a text file of movie ids" in res.stderr, res.stderr


def test_an_output_naming_the_id_file_is_refused_before_any_work(tiny_run, tiny_data, tmp_path):
    ids = tmp_path / "region.txt"
    ids.write_text("1 2 3\n")
    res = run_cli("evaluate", "--run", str(tiny_run), "--data", str(tiny_data), "--candidates", str(ids),
                  "--per-user", str(ids))
    assert res.returncode == 2 and "--per-user" in res.stderr and str(ids) in res.stderr, res.stderr
    (tmp_path / "in.jsonl").write_text('{"movies": [1]}\n')
    res = run_cli("recommend", "--run", str(tiny_run), "--input", str(tmp_path / "in.jsonl"), "--candidates-file",
                  str(ids), "--out", str(ids))
    assert res.returncode == 2 and "--out" in res.stderr and str(ids) in res.stderr, res.stderr
    assert ids.read_text() == "1 2 3\n"


def test_compare_ranks_every_run_among_the_same_candidates(tiny_run, tiny_data, tmp_path):
    from trainer.compare import compare_runs, comparison_table
    from trainer.evaluate import evaluate_run

    pool = load_exported(tiny_run)[1].movies[1::2]
    result = compare_runs(tiny_data, [tiny_run, tiny_run], metrics=["map@20", "recall@20"], resamples=200,
                          candidates=pool)
    alone = evaluate_run(tiny_data, tiny_run, candidates=pool)
    for entry in result["runs"]:
        assert entry["candidates"] == len(pool)
        assert entry["means"] == {m: pytest.approx(alone[m], abs=1e-12) for m in ("map@20", "recall@20")}
    assert f"ranked among the --candidates ids (in each run's catalog: {len(pool)}, {len(pool)})" in \
        comparison_table(result)
    assert "candidates" not in compare_runs(tiny_data, [tiny_run, tiny_run], resamples=200)["runs"][0]
