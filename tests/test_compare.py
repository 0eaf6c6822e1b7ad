"""`python -m trainer compare`: runs scored as `evaluate` scores them, differences with paired bootstrap intervals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_cli
from trainer.baseline_run import run_baseline
from trainer.catalog_metrics import CATALOG_METRICS
from trainer.compare import compare_runs, comparison_table, holm_adjusted
from trainer.errors import ConfigError, RunDirError
from trainer.evaluate import evaluate_run


@pytest.fixture(scope="module")
def pop_run(tmp_path_factory, tiny_data):
    run = tmp_path_factory.mktemp("compare") / "pop"
    run_baseline("pop", tiny_data, run, min_count=2)
    return run


def test_compare_agrees_with_evaluate_and_an_independent_bootstrap(tiny_data, tiny_run, pop_run, tmp_path):
    files = {}
    for name, run in (("gru", tiny_run), ("pop", pop_run)):
        files[name] = tmp_path / f"{name}.json"
        res = run_cli("evaluate", "--data", str(tiny_data), "--run", str(run), "--split", "validate",
                      "--per-user", str(files[name]))
        assert res.returncode == 0, res.stderr
        files[name] = (json.loads(res.stdout), json.loads(files[name].read_text()))
    got = compare_runs(tiny_data, [tiny_run, pop_run], split="validate", resamples=2000, seed=5)
    (gru_means, gru_users), (pop_means, pop_users) = files["gru"], files["pop"]
    assert got["users"] == gru_means["users"] > 0 and got["metrics"] == list(gru_users["metrics"])
    for run, means in zip(got["runs"], (gru_means, pop_means)):
        assert run["means"] == {m: means[m] for m in got["metrics"]}
    (diff,) = got["differences"]
    assert (diff["run"], diff["minus"]) == (str(pop_run), str(tiny_run))
    rng = np.random.default_rng(5)  # the interval recomputed here, not with significance.py
    d = np.asarray(pop_users["metrics"]["map@20"]) - np.asarray(gru_users["metrics"]["map@20"])
    means = d[rng.integers(0, d.size, size=(2000, d.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    assert diff["map@20"]["mean"] == pytest.approx(d.mean(), abs=1e-12)
    assert (diff["map@20"]["low"], diff["map@20"]["high"]) == pytest.approx((low, high), abs=1e-12)
    assert diff["map@20"]["significant"] == (low > 0 or high < 0)
    # the two-sided p-value from the same resampled means: twice the smaller share on one side of 0
    assert diff["map@20"]["p"] == pytest.approx(min(1.0, 2 * min((means <= 0).mean(), (means >= 0).mean())), abs=1e-12)


def test_bonferroni_widens_each_interval_to_cover_all_of_them_together(tiny_data, tiny_run, pop_run, tmp_path):
    metrics = ["map@20", "ndcg@10", "hr@10", "precision@5"]
    runs = [tiny_run, pop_run, tiny_run]  # three runs: 2 differences x 4 metrics = 8 intervals
    plain = compare_runs(tiny_data, runs, split="validate", metrics=metrics, resamples=2000, seed=5)
    wide = compare_runs(tiny_data, runs, split="validate", metrics=metrics, resamples=2000, seed=5,
                        adjust="bonferroni")
    assert plain["interval_level"] == 0.95 and wide["interval_level"] == pytest.approx(1 - 0.05 / 8)
    for p_diff, w_diff in zip(plain["differences"], wide["differences"]):
        for metric in metrics:
            p, w = p_diff[metric], w_diff[metric]
            assert w["mean"] == p["mean"] and w["low"] <= p["low"] and w["high"] >= p["high"]
    # each adjusted interval is the same bootstrap's percentiles at 1 - 0.05/8, recomputed here with numpy
    per_user = {}
    for name, run in (("gru", tiny_run), ("pop", pop_run)):
        res = run_cli("evaluate", "--data", str(tiny_data), "--run", str(run), "--split", "validate",
                      "--per-user", str(tmp_path / f"{name}.json"))
        assert res.returncode == 0, res.stderr
        per_user[name] = np.asarray(json.loads((tmp_path / f"{name}.json").read_text())["metrics"]["hr@10"])
    d = per_user["pop"] - per_user["gru"]
    means = d[np.random.default_rng(5).integers(0, d.size, size=(2000, d.size))].mean(axis=1)
    tail = 0.05 / 8 / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    assert (wide["differences"][0]["hr@10"]["low"], wide["differences"][0]["hr@10"]["high"]) == pytest.approx(
        (low, high), abs=1e-12)
    assert wide["differences"][0]["hr@10"]["low"] < plain["differences"][0]["hr@10"]["low"]  # strictly wider here
    head = comparison_table(wide).splitlines()[0]
    assert "95% intervals together (Bonferroni over 8: each 99.38%)" in head


def test_holm_steps_down_from_the_smallest_p_value():
    # worked by hand: sorted 0.011, 0.02, 0.3 are held to 3x, 2x and 1x, each at least the one before
    assert holm_adjusted([0.3, 0.011, 0.02]) == pytest.approx([0.3, 0.033, 0.04])
    assert holm_adjusted([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjusted([0.9, 0.02]) == pytest.approx([0.9, 0.04]) and holm_adjusted([0.6, 0.7, 0.8]) == [1.0, 1.0, 1.0]
    # at 5%, Bonferroni (3 p < 0.05) marks only 0.011; Holm marks 0.02 as well
    assert [a < 0.05 for a in holm_adjusted([0.3, 0.011, 0.02])] == [False, True, True]


def test_holm_marks_by_adjusted_p_and_keeps_the_plain_intervals(tiny_data, tiny_run, pop_run):
    metrics = ["map@20", "ndcg@10", "hr@10", "precision@5"]
    runs = [tiny_run, pop_run, tiny_run]
    kwargs = dict(split="validate", metrics=metrics, resamples=2000, seed=5)
    plain, bonf = compare_runs(tiny_data, runs, **kwargs), compare_runs(tiny_data, runs, adjust="bonferroni", **kwargs)
    holm = compare_runs(tiny_data, runs, level=0.9, adjust="holm", **kwargs)
    assert holm["interval_level"] == 0.9 and holm["adjust"] == "holm"
    cells = [(d, metric) for d in range(2) for metric in metrics]
    raw = [holm["differences"][d][metric]["p"] for d, metric in cells]
    assert raw == [plain["differences"][d][metric]["p"] for d, metric in cells]  # p does not depend on the level
    assert [holm["differences"][d][metric]["p_holm"] for d, metric in cells] == holm_adjusted(raw)
    for d, metric in cells:
        cell = holm["differences"][d][metric]
        assert cell["significant"] == (cell["p_holm"] < 0.1) and cell["p_holm"] >= cell["p"]
        assert "p_holm" not in plain["differences"][d][metric]
    assert any(holm["differences"][0][m]["significant"] for m in metrics), "the data no longer tell the runs apart"
    assert not any(holm["differences"][1][m]["significant"] for m in metrics)  # a run against itself
    # Holm at 5% marks at least what Bonferroni's intervals mark
    holm5 = compare_runs(tiny_data, runs, adjust="holm", **kwargs)
    for d, metric in cells:
        assert holm5["differences"][d][metric]["significant"] >= bonf["differences"][d][metric]["significant"]
    table = comparison_table(holm).splitlines()
    assert "90% interval, seed 5; * = marked by Holm's step-down over 8 at family-wise 10%; p = the Holm" in table[0]
    row = next(line for line in table if line.startswith("| map@20 |"))
    pop_minus_gru, itself = holm["differences"][0]["map@20"], holm["differences"][1]["map@20"]
    # no resample of pop - GRU reaches 0: p is below 1 / resamples, not 0
    assert pop_minus_gru["p_holm"] == 0.0, "the data no longer separate the runs on map@20"
    assert row.endswith("] p < 0.0005 * | +0.0000 [+0.0000, +0.0000] p 1 |") and itself["p_holm"] == 1.0


def test_a_metric_named_twice_is_compared_once(tiny_data, tiny_run, pop_run):
    # Before: two rows, and with --adjust bonferroni each interval widened for a difference counted twice.
    once = compare_runs(tiny_data, [tiny_run, pop_run], metrics=["hr@10"], resamples=200, adjust="bonferroni")
    twice = compare_runs(tiny_data, [tiny_run, pop_run], metrics=["hr@10", "hr@10"], resamples=200, adjust="bonferroni")
    assert twice["metrics"] == ["hr@10"] and twice == once


def test_a_run_against_itself_differs_by_nothing(tiny_data, tiny_run):
    got = compare_runs(tiny_data, [tiny_run, tiny_run], metrics=["ndcg@10", "hr@10"], resamples=200)
    assert got["metrics"] == ["ndcg@10", "hr@10"]
    for metric in got["metrics"]:
        assert got["differences"][0][metric] == {"mean": 0.0, "low": 0.0, "high": 0.0, "p": 1.0, "significant": False}


def test_the_table_has_a_row_per_metric_and_marks_what_excludes_zero():
    result = {"split": "test", "users": 1234, "metrics": ["map@20", "hr@10"], "resamples": 10_000, "level": 0.95,
              "seed": 0, "runs": [{"run": "a", "means": {"map@20": 0.1, "hr@10": 0.5}},
                                  {"run": "b", "means": {"map@20": 0.12, "hr@10": 0.49}}],
              "differences": [{"run": "b", "minus": "a",
                               "map@20": {"mean": 0.02, "low": 0.01, "high": 0.03, "significant": True},
                               "hr@10": {"mean": -0.01, "low": -0.03, "high": 0.01, "significant": False}}]}
    lines = comparison_table(result).splitlines()
    assert lines[0].startswith("test split, 1,234 users; paired bootstrap over users (10,000 resamples, 95% interval")
    assert lines[2] == "| metric | a | b | b - a |"
    assert lines[4] == "| map@20 | 0.1000 | 0.1200 | +0.0200 [+0.0100, +0.0300] * |"
    assert lines[5] == "| hr@10 | 0.5000 | 0.4900 | -0.0100 [-0.0300, +0.0100] |"


def test_cli_prints_the_table_or_json(tiny_data, tiny_run, pop_run):
    args = ["compare", "--data", str(tiny_data), "--runs", str(tiny_run), str(pop_run), "--metrics", "map@20",
            "--resamples", "300"]
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[2] == f"| metric | {tiny_run} | {pop_run} | {pop_run} - {tiny_run} |"
    assert res.stdout.splitlines()[4].startswith("| map@20 | ")
    as_json = json.loads(run_cli(*args, "--json").stdout)
    assert as_json == compare_runs(tiny_data, [tiny_run, pop_run], metrics=["map@20"], resamples=300)


def test_bad_requests_are_named(tiny_data, tiny_run, tmp_path):
    with pytest.raises(ConfigError, match="two or more runs"):
        compare_runs(tiny_data, [tiny_run])
    with pytest.raises(ConfigError, match="unknown metric ndcg@5; evaluate reports map@20, "):
        compare_runs(tiny_data, [tiny_run, tiny_run], metrics=["ndcg@5"])
    with pytest.raises(ConfigError, match=r"unknown metric map@10; .* \(map's cut-off is --k: --k 10 reports map@10\)"):
        compare_runs(tiny_data, [tiny_run, tiny_run], metrics=["map@10"])
    assert "map@10" in compare_runs(tiny_data, [tiny_run, tiny_run], metrics=["map@10"], k=10, resamples=10)["metrics"]
    with pytest.raises(ConfigError, match="--level in"):
        compare_runs(tiny_data, [tiny_run, tiny_run], level=95)
    with pytest.raises(ConfigError, match=r"--resamples must be in 1\.\.1,000,000 .* got 1000000000"):
        compare_runs(tiny_data, [tiny_run, tiny_run], resamples=10**9)  # was 8 GB and hours, no word
    with pytest.raises(RunDirError, match="nowhere"):
        compare_runs(tiny_data, [tiny_run, tmp_path / "nowhere"])
    with pytest.raises(ConfigError, match="--adjust must be one of none, bonferroni, holm, got 'sidak'"):
        compare_runs(tiny_data, [tiny_run, tiny_run], adjust="sidak")
    res = run_cli("compare", "--data", str(tiny_data), "--runs", str(tiny_run), str(tiny_run), "--metrics", "p@20")
    assert res.returncode == 2 and res.stderr.startswith("error: unknown metric p@20")
    with pytest.raises(ConfigError, match=r"--k \(the map@k cut-off\) must be a positive int, got 0"):
        compare_runs(tiny_data, [tiny_run, tiny_run], k=0)
    # evaluate too: k = 0 printed map@0 as NaN (not JSON), k < 0 crashed in torch.arange
    for k in ("0", "-3"):
        res = run_cli("evaluate", "--data", str(tiny_data), "--run", str(tiny_run), "--k", k)
        assert res.returncode == 2 and res.stderr.startswith(f"error: --k (the map@k cut-off) must be a positive int, got {k}")
    # and k past the catalog: every user's ranking was k wide (10**9 asked for terabytes)
    catalog = json.loads((tiny_run / "config.json").read_text())["model"]["vocab_size"] - 1
    res = run_cli("evaluate", "--data", str(tiny_data), "--run", str(tiny_run), "--k", str(10**9))
    assert res.returncode == 2 and res.stderr.startswith(f"error: --k {10**9} is past the catalog of {catalog:,} movies")
    res = run_cli("evaluate", "--data", str(tiny_data), "--run", str(tiny_run), "--k", str(catalog))
    assert res.returncode == 0 and f'"map@{catalog}"' in res.stdout
    with pytest.raises(ConfigError, match=r"--seed must be an int in 0..2\*\*63-1, got -1"):
        compare_runs(tiny_data, [tiny_run, tiny_run], seed=-1)  # numpy's generator takes no negative seed


def test_catalog_figures_go_below_the_table_as_evaluate_reports_them(tiny_data, tiny_run, pop_run):
    got = compare_runs(tiny_data, [tiny_run, pop_run], metrics=["map@20"], resamples=100)
    for entry, run in zip(got["catalog"], (tiny_run, pop_run)):
        means = evaluate_run(tiny_data, run, "test")
        assert entry == {"run": str(run), **{m: pytest.approx(means[m]) for m in CATALOG_METRICS}}
    lines = comparison_table(got).splitlines()
    at = lines.index("| run | coverage@10 | coverage@20 | gini@20 | popularity@20 |")
    assert lines[at + 2] == f"| {tiny_run} | " + " | ".join(f"{got['catalog'][0][m]:.4f}" for m in CATALOG_METRICS) + " |"
    with pytest.raises(ConfigError, match=r"coverage@20 is a figure of all the users' lists at once, not a per-user "
                                          r"value to pair: compare shows it below the table"):
        compare_runs(tiny_data, [tiny_run, pop_run], metrics=["coverage@20"], resamples=100)
