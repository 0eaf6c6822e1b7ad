"""best_of_k: the test figures of shipping, from each group of k seeds, the one validation likes best."""

from __future__ import annotations

import json
from statistics import mean

import pytest

from trainer.best_of_k import best_of_k, main
from trainer.seed_interval import spread, spread_text


def _run(name: str, val: float, test: float) -> dict:
    return {"run": name, "val": {"map@20": val}, "test": {"ndcg@10": test, "hr@10": 2 * test}}


# validation ranks a > b > c; test ranks b > a > c, so a pick by validation is not the best on test
RUNS = [_run("a", 0.3, 0.2), _run("b", 0.2, 0.3), _run("c", 0.1, 0.1)]
# Pearson r of (0.3, 0.2, 0.1) and (0.2, 0.3, 0.1) by hand: deviations (0.1, 0, -0.1) and (0, 0.1, -0.1)
REF_R = 0.01 / (0.02 ** 0.5 * 0.02 ** 0.5)


def test_each_group_ships_its_best_run_on_validation():
    # pairs ab and ac ship a (0.2), bc ships b (0.3)
    pairs = best_of_k(RUNS, 2, "map@20", ["ndcg@10", "hr@10"], goal=("ndcg@10", 0.25))
    assert pairs == {"k": 2, "groups": 3, "test": {"ndcg@10": pytest.approx(0.7 / 3), "hr@10": pytest.approx(1.4 / 3)},
                     "at_goal": pytest.approx(1 / 3)}
    # k = 1 is the plain mean; k = all ships validation's overall best, whatever test says
    assert best_of_k(RUNS, 1, "map@20", ["ndcg@10"])["test"]["ndcg@10"] == pytest.approx(mean([0.2, 0.3, 0.1]))
    assert best_of_k(RUNS, 3, "map@20", ["ndcg@10"], goal=("ndcg@10", 0.25)) == {
        "k": 3, "groups": 1, "test": {"ndcg@10": 0.2}, "at_goal": 0.0}


def test_equal_validation_ships_the_first_run():
    runs = [_run("a", 0.3, 0.1), _run("b", 0.3, 0.4)]
    assert best_of_k(runs, 2, "map@20", ["ndcg@10"])["test"]["ndcg@10"] == 0.1


def test_a_sweep_summary_and_a_bench_table_are_read_alike(tmp_path, capsys):
    sweep, table = tmp_path / "summary.json", tmp_path / "steps.json"
    sweep.write_text(json.dumps({"runs": RUNS}))
    table.write_text(json.dumps({"data": "x", "rows": [*RUNS, _run("other-config", 0.9, 0.0)]}))
    assert main([str(sweep), "--k", "2", "3", "--goal", "ndcg@10=0.25"]) == 0
    from_sweep = capsys.readouterr().out
    assert from_sweep.splitlines() == [
        "3 runs; each group's pick: the best validation map@20",
        f"correlation of validation map@20 and test hr@10 over the runs: {REF_R:.2f}",
        f"correlation of validation map@20 and test ndcg@10 over the runs: {REF_R:.2f}",
        "test spread over the runs: " + "; ".join(spread_text(m, spread([r["test"][m] for r in RUNS]))
                                                  for m in ("hr@10", "ndcg@10")),
        "k=2 (3 groups): test hr@10 0.4667, test ndcg@10 0.2333, 33% at or above ndcg@10=0.25",
        "k=3 (1 group): test hr@10 0.4000, test ndcg@10 0.2000, 0% at or above ndcg@10=0.25"]
    # --match leaves the other configuration's row out; without it that row would win every group it is in
    assert main([str(table), "--match", "ab", "--k", "2", "3", "--goal", "ndcg@10=0.25"]) == 2  # matches nothing
    assert "no runs in" in capsys.readouterr().err
    table.write_text(json.dumps({"rows": [{**r, "run": f"v6-{r['run']}"} for r in RUNS] + [_run("v5-x", 0.9, 0.0)]}))
    assert main([str(table), "--match", "v6-", "--k", "2", "3", "--goal", "ndcg@10=0.25"]) == 0
    assert capsys.readouterr().out == from_sweep
    # runs of one configuration named two ways: any of several texts keeps a row
    table.write_text(json.dumps({"rows": [{**RUNS[0], "run": "old-name-a"}, *RUNS[1:], _run("v5-x", 0.9, 0.0)]}))
    assert main([str(table), "--match", "old-name", "b", "c", "--k", "2", "3", "--goal", "ndcg@10=0.25"]) == 0
    assert capsys.readouterr().out == from_sweep


@pytest.mark.parametrize("args, message", [
    (["--k", "4"], "--k must be in 1..3 (the number of runs), got 4"),
    (["--select", "mrr@20"], "val metric 'mrr@20' is missing from runs ['a', 'b', 'c']"),
    (["--metrics", "recall@20"], "test metric 'recall@20' is missing"),
    (["--goal", "ndcg@10>0.2"], "--goal must be METRIC=VALUE (say ndcg@10=0.175), got 'ndcg@10>0.2'"),
])
def test_bad_requests_name_the_problem(tmp_path, capsys, args, message):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"runs": RUNS}))
    assert main([str(path), *args]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("runs, why", [(RUNS[:1], "needs 3 runs"),
                                       # two points always correlate +-1: that would read as a perfect validation
                                       (RUNS[:2], "needs 3 runs"),
                                       ([_run("a", 0.3, 0.2), _run("b", 0.2, 0.2), _run("c", 0.1, 0.2)],
                                        "a constant column")])
def test_too_few_or_constant_runs_have_no_correlation(tmp_path, capsys, runs, why):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"runs": runs}))
    assert main([str(path), "--metrics", "ndcg@10"]) == 0
    assert f"test ndcg@10 over the runs: undefined ({why})" in capsys.readouterr().out


@pytest.mark.parametrize("text, message", [(None, "cannot read runs from"), ("[1, 2]", "neither a seed sweep"),
                                           ("{not json", "cannot read runs from")])
def test_unreadable_files_are_refused(tmp_path, capsys, text, message):
    path = tmp_path / "runs.json"
    if text is not None:
        path.write_text(text)
    assert main([str(path)]) == 2
    assert message in capsys.readouterr().err
