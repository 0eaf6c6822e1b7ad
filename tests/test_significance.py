"""The paired bootstrap that says whether a difference between two models outlasts the choice of users."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import cli_error
from trainer.significance import paired_bootstrap


def test_interval_brackets_the_mean_and_matches_the_normal_approximation():
    rng = np.random.default_rng(1)
    b = rng.random(2000)
    a = b + rng.normal(0.01, 0.1, 2000)
    d = paired_bootstrap(a, b, resamples=4000)
    assert d.low < d.mean < d.high and d.users == 2000 and d.significant
    assert math.isclose(d.mean, float(np.mean(a - b)), rel_tol=1e-12)
    # the percentile interval of a mean is close to mean +- 1.96 standard errors
    se = float(np.std(a - b, ddof=1)) / math.sqrt(2000)
    assert math.isclose(d.high - d.low, 2 * 1.96 * se, rel_tol=0.1)
    assert paired_bootstrap(a, b, resamples=4000) == d  # deterministic for a seed


def test_pairing_matters_and_noise_is_not_significant():
    rng = np.random.default_rng(2)
    users = rng.random(300)  # per-user difficulty shared by both models
    a, b = users + 0.005, users
    paired = paired_bootstrap(a, b)
    assert paired.significant and paired.low > 0  # the same users, a constant gain: certain
    noise = paired_bootstrap(users + rng.normal(0, 0.2, 300), users)
    assert not noise.significant and noise.low < 0 < noise.high
    same = paired_bootstrap(users, users)
    assert (same.mean, same.low, same.high, same.significant) == (0.0, 0.0, 0.0, False)
    # p agrees with the interval: none of the resampled means of a constant gain reach 0; noise is far from 5%
    assert paired.p == 0.0 and noise.p > 0.05 and same.p == 1.0
    for level in (0.5, 0.8, 0.95):
        at = paired_bootstrap(users + rng.normal(0.02, 0.2, 300), users, level=level)
        assert at.significant == (at.p < 1 - level) or abs(at.p - (1 - level)) < 2e-3


@pytest.mark.parametrize("a, b, message", [
    ([0.1, 0.2], [0.1], "one length"),
    ([], [], "at least one user"),
])
def test_bad_inputs_are_refused(a, b, message):
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(a, b)


def test_benchmark_table_says_yes_only_where_every_interval_is_above_zero():
    from trainer.bench_accuracy_md import differences

    rng = np.random.default_rng(3)
    users = list(range(500))
    base = rng.random(500)
    runs = {"GRU": base + 0.05, "weak": base, "close": base + 0.05 + rng.normal(0, 0.3, 500)}
    per_user = {model: {"users": users, "metrics": {"m": values.tolist(), "n": values.tolist()}}
                for model, values in runs.items()}
    lines = differences("toy", {"compare": ["m", "n"]}, [{"model": "weak"}, {"model": "close"}, {"model": "GRU"}], per_user)
    table = {line.split(" | ")[0].strip("| "): line for line in lines if line.startswith("| weak") or line.startswith("| close")}
    assert table["weak"].endswith("| yes |") and "+0.0500 [+0.0500, +0.0500]" in table["weak"]
    assert table["close"].endswith("| no |")
    per_user["close"] = {"users": users[1:], "metrics": {}}
    with pytest.raises(SystemExit, match="other users"):
        differences("toy", {"compare": ["m"]}, [{"model": "close"}, {"model": "GRU"}], per_user)


def test_cpu_steps_table_states_each_change_and_how_the_run_ended():
    from trainer.bench_cpu_steps import render

    cfg = {"data": "a", "max_len": 200, "windows": "all", "epochs": 200, "model": {"hidden_dim": 512}}
    metrics = {k: 0.1 for k in ("hr@10", "ndcg@10", "hr@20", "ndcg@20", "map@20")}
    row = {"best_epoch": 30, "epochs_run": 35, "patience": 5, "median_seconds_per_epoch": 159.4, "val": metrics,
           "test": metrics, "users": 6040}
    d = {"mean": 0.01, "low": 0.002, "high": 0.018}
    text = render({"rows": [{**row, "run": "v2", "config": cfg},
                            {**row, "run": "len50", "epochs_run": 33, "config": {**cfg, "data": "b", "max_len": 50,
                                                                               "windows": "last"},
                             "vs_first": {"hr@10": d, "ndcg@10": d}}]})
    v2, len50 = [line for line in text.splitlines() if line.startswith("| v2") or line.startswith("| len50")]
    assert "| none (the first row) | 30 / 35 (early stop) |" in v2
    assert "| max_len 50, windows last | 30 / 33 (stopped) |" in len50  # the data path is not a change
    assert len50.endswith("| +0.0100 [+0.0020, +0.0180] | +0.0100 [+0.0020, +0.0180] |")
    text = render({"rows": [{**row, "run": "v2", "config": cfg}, {**row, "run": "amp", "config": {**cfg, "amp": True}}]})
    [amp] = [line for line in text.splitlines() if line.startswith("| amp")]
    assert amp.startswith("| amp | bf16 autocast | 30 / 35 (early stop) |") and amp.endswith("|  |  |")
    text = render({"rows": [{**row, "run": "kd", "config": {**cfg, "distill": ["runs/ens3"]}},
                            {**row, "run": "plain", "config": cfg}]})
    [plain] = [line for line in text.splitlines() if line.startswith("| plain")]
    assert plain.startswith("| plain | distill off |")  # an empty teacher list reads as what it means


def test_cpu_steps_table_summarises_runs_that_differ_only_in_the_seed():
    from trainer.bench_cpu_steps import render

    cfg = {"data": "a", "max_len": 50, "seed": 42, "epochs": 200, "patience": 5, "model": {"hidden_dim": 512}}
    metrics = lambda hr, ndcg: {"hr@10": hr, "ndcg@10": ndcg, "hr@20": 0.4, "ndcg@20": 0.2, "map@20": 0.1}  # noqa: E731
    row = {"best_epoch": 30, "epochs_run": 35, "patience": 5, "median_seconds_per_epoch": 150.0, "users": 6040}
    d = {"mean": 0.0, "low": -0.01, "high": 0.01}
    rows = [{**row, "run": "base", "config": {**cfg, "max_len": 200}, "val": metrics(0.3, 0.17), "test": metrics(0.28, 0.16)},
            {**row, "run": "s42", "config": cfg, "val": metrics(0.3, 0.17), "test": metrics(0.30, 0.174),
             "vs_first": {"hr@10": d, "ndcg@10": d}},
            {**row, "run": "s1", "config": {**cfg, "seed": 1, "data": "b"}, "epochs_run": 31,
             "val": metrics(0.3, 0.17), "test": metrics(0.31, 0.178), "vs_first": {"hr@10": d, "ndcg@10": d}}]
    seeds = [line for line in render({"rows": rows}).splitlines() if line.startswith("Seeds")]
    # two seeds: sd = |a - b| / sqrt(2), and the mean's 95% half width is t(1 df) = 12.706 times sd / sqrt(2):
    # hr@10 0.0071 and 0.0635, ndcg@10 0.0028 and 0.0254
    assert seeds == ["Seeds 42, 1 of one configuration (s42, s1): mean test hr@10 0.3050 (from 0.3000 to 0.3100; "
                     "sd 0.0071, 95% t interval of the mean 0.2415-0.3685), "
                     "ndcg@10 0.1760 (from 0.1740 to 0.1780; sd 0.0028, 95% t interval of the mean 0.1506-0.2014); "
                     "not early-stopped: s1."]
    assert not [line for line in render({"rows": rows[:2]}).splitlines() if line.startswith("Seeds")]


def test_cpu_steps_table_pairs_two_configurations_on_the_seeds_they_share():
    from trainer.bench_cpu_steps import render

    cfg = {"data": "a", "max_len": 50, "seed": 42, "epochs": 200, "patience": 5, "model": {"hidden_dim": 512}}
    metrics = lambda hr, ndcg: {"hr@10": hr, "ndcg@10": ndcg, "hr@20": 0.4, "ndcg@20": 0.2, "map@20": 0.1}  # noqa: E731
    row = {"best_epoch": 30, "epochs_run": 35, "patience": 5, "median_seconds_per_epoch": 150.0, "users": 6040,
           "val": metrics(0.3, 0.17)}
    run = lambda name, seed, hr, ndcg, **change: {**row, "run": name, "config": {**cfg, **change, "seed": seed},  # noqa: E731
                                                  "test": metrics(hr, ndcg)}
    old = [run("a42", 42, 0.300, 0.170), run("a1", 1, 0.310, 0.175), run("a2", 2, 0.305, 0.172)]
    # the new configuration's seeds in another order, one seed the old one lacks, and a third
    # configuration that shares only one seed with either (one pair is no paired figure)
    new = [run("b1", 1, 0.308, 0.178, label_smoothing=0.1), run("b42", 42, 0.306, 0.173, label_smoothing=0.1),
           run("b7", 7, 0.5, 0.5, label_smoothing=0.1)]
    other = [run("c42", 42, 0.1, 0.1, max_len=200), run("c9", 9, 0.1, 0.1, max_len=200)]
    lines = [line for line in render({"rows": old + new + other}).splitlines() if line.startswith("Paired")]
    # the paired differences' own t interval: hr@10's -0.002 and +0.006 have sd 0.0057, half width 0.0508;
    # ndcg@10's two equal differences have none
    assert lines == ["Paired seeds 1, 42, b1's configuration minus a42's (changes: label_smoothing 0.1): test "
                     "hr@10 +0.0020 [-0.0488, +0.0528] (per seed -0.0020, +0.0060; higher on 1 of 2), "
                     "ndcg@10 +0.0030 [+0.0030, +0.0030] (per seed +0.0030, +0.0030; higher on 2 of 2)."]
    new[0]["test"] = metrics(0.310 - 1e-6, 0.175)  # a difference that rounds to zero has no sign
    [line] = [line for line in render({"rows": old + new}).splitlines() if line.startswith("Paired")]
    assert "hr@10 +0.0030 [-0.0351, +0.0411] (per seed +0.0000, +0.0060; higher on 1 of 2)" in line


def test_cpu_steps_table_names_an_ensembles_members_and_keeps_it_out_of_seed_groups():
    from trainer.bench_cpu_steps import render

    cfg = {"data": "a", "max_len": 50, "seed": 42, "epochs": 200, "patience": 5, "model": {"hidden_dim": 512}}
    metrics = {"hr@10": 0.3, "ndcg@10": 0.17, "hr@20": 0.4, "ndcg@20": 0.2, "map@20": 0.1}
    row = {"best_epoch": 30, "epochs_run": 35, "patience": 5, "median_seconds_per_epoch": 150.0, "users": 6040,
           "val": metrics, "test": metrics}
    d = {"mean": 0.0, "low": -0.01, "high": 0.01}
    rows = [{**row, "run": "s42", "config": cfg},
            {**row, "run": "s1", "config": {**cfg, "seed": 1}, "vs_first": {"hr@10": d, "ndcg@10": d}},
            {"run": "ens", "config": cfg, "ensemble": ["s42", "s1"], "users": 6040, "val": metrics, "test": metrics,
             "vs_first": {"hr@10": d, "ndcg@10": d}}]
    lines = render({"rows": rows}).splitlines()
    [ens] = [line for line in lines if line.startswith("| ens")]
    assert ens.startswith("| ens | ensemble of s42, s1 (mean log-probabilities) | - | - | 0.3000 | 0.1700 |")
    [seeds] = [line for line in lines if line.startswith("Seeds")]
    assert "(s42, s1)" in seeds


def test_goal_text_is_unrounded_and_says_it_is_one_seed():
    from trainer.run_text import goal_text

    text = goal_text({"goal": {"ndcg@10": 0.175}}, {"test": {"ndcg@10": 0.174951}})
    assert "ndcg@10 0.17495 (not met: goal >= 0.175)" in text and "one seed" in text
    assert goal_text({}, {"test": {}}) == ""


def test_cpu_steps_read_settings_missing_from_older_configs_as_their_defaults():
    from trainer.bench_cpu_steps import render

    old = {"data": "a", "max_len": 50, "seed": 42, "patience": 5, "model": {"hidden_dim": 512}}  # saved before ema existed
    metrics = {"hr@10": 0.3, "ndcg@10": 0.17, "hr@20": 0.4, "ndcg@20": 0.2, "map@20": 0.1}
    row = {"best_epoch": 30, "epochs_run": 35, "patience": 5, "median_seconds_per_epoch": 150.0, "users": 6040,
           "val": metrics, "test": metrics}
    d = {"mean": 0.0, "low": -0.01, "high": 0.01}
    new = {**old, "seed": 1, "ema": 0.0, "label_smoothing": 0.0}
    rows = [{**row, "run": "old", "config": old},
            {**row, "run": "new", "config": new, "vs_first": {"hr@10": d, "ndcg@10": d}},
            {**row, "run": "ls", "config": {**new, "label_smoothing": 0.1}, "vs_first": {"hr@10": d, "ndcg@10": d}}]
    lines = render({"rows": rows}).splitlines()
    assert [line.split(" | ")[1] for line in lines if line.startswith("| new") or line.startswith("| ls")] == [
        "seed 1", "label_smoothing 0.1, seed 1"]
    [seeds] = [line for line in lines if line.startswith("Seeds")]
    assert "(old, new)" in seeds


def test_loss_text_names_only_the_settings_a_run_used():
    from trainer.run_text import loss_text

    assert loss_text({"label_smoothing": 0.0, "ema": 0.0}) == "" and loss_text({}) == ""  # {}: saved before both
    assert loss_text({"label_smoothing": 0.1, "ema": 0.0}) == ", label smoothing 0.1"
    assert loss_text({"label_smoothing": 0.1, "ema": 0.999}) == ", label smoothing 0.1, weight average (ema) 0.999"
    assert loss_text({"distill": [], "distill_weight": 0.5, "distill_k": 50}) == ""
    assert (loss_text({"distill": ["runs/ml-1m-gru-ens3"], "distill_weight": 0.5, "distill_k": 50})
            == ", distilled from ml-1m-gru-ens3 (weight 0.5, top 50)")
    assert loss_text({"shuffle_window": 0}) == "" and loss_text({"shuffle_window": 1}) == ""  # 1: nothing moves
    assert loss_text({"shuffle_window": 50}) == ", training windows reordered in blocks of 50 each epoch"
    assert loss_text({"target": "next"}) == ""
    assert loss_text({"item_dropout": 0.0}) == ""
    assert loss_text({"item_dropout": 0.2}) == ", input movies left out with probability 0.2 each epoch (item dropout)"
    assert loss_text({"user_weight": 0.0}) == ""
    assert loss_text({"user_weight": 0.5}) == (", each user's training window used round((n / max len) ** 0.5) times an "
                                               "epoch for n training movies (user weight)")
    assert loss_text({"target": "rest"}) == ", each position trained on every movie still ahead in its window (target rest)"


def test_cpu_steps_add_appends_measured_runs_and_keeps_the_saved_rows(tiny_data, tiny_run, tmp_path):
    import shutil

    from conftest import tiny_config
    from trainer.bench_cpu_steps import main
    from trainer.train import train

    first = tmp_path / "first"
    shutil.copytree(tiny_run, first)
    train(tiny_config(tiny_data, seed=4), tmp_path / "other", progress=False)
    saved, md = tmp_path / "steps.json", tmp_path / "B.md"
    main(["--data", str(tiny_data), "--save", str(saved), "--out", str(md), str(first)])
    before = json.loads(saved.read_text())["rows"]
    main(["--load", str(saved), "--save", str(saved), "--data", str(tiny_data), "--out", str(md),
          str(first), str(tmp_path / "other")])
    rows = json.loads(saved.read_text())["rows"]
    assert rows[0] == before[0] and [r["run"] for r in rows] == ["first", "other"]
    assert set(rows[1]["vs_first"]) == {"hr@10", "ndcg@10"} and "| other | seed 4 |" in md.read_text()
    with pytest.raises(SystemExit):  # the reference must be the saved first row's run
        main(["--load", str(saved), "--data", str(tiny_data), "--out", str(md), str(tmp_path / "other"), str(first)])
    # a run added again (resumed since) replaces its own row instead of being listed, and counted, twice
    rows[1]["test"]["hr@10"] = -1.0
    saved.write_text(json.dumps({**json.loads(saved.read_text()), "rows": rows}))
    main(["--load", str(saved), "--save", str(saved), "--data", str(tiny_data), "--out", str(md),
          str(first), str(tmp_path / "other")])
    again = json.loads(saved.read_text())["rows"]
    assert [r["run"] for r in again] == ["first", "other"] and again[1]["test"]["hr@10"] >= 0
    assert md.read_text().count("| other | seed 4 |") == 1


def test_cpu_steps_rows_name_distillation_teachers_by_their_run():
    from trainer.bench_cpu_steps import _changes
    from trainer.config import TrainConfig

    base = TrainConfig().to_dict()
    cfg = {**base, "label_smoothing": 0.1, "distill": ["build/bench/runs/ml-1m-gru-ens3"]}
    assert _changes(cfg, base) == "label_smoothing 0.1, distill ml-1m-gru-ens3"
    assert _changes(base, base) == "none (the first row)"


def test_cpu_steps_adds_runs_unpaired_once_the_first_rows_run_is_gone(tiny_data, tiny_run, tmp_path):
    import shutil

    from trainer.bench_cpu_steps import main

    saved, md = tmp_path / "steps.json", tmp_path / "B.md"
    main(["--data", str(tiny_data), "--save", str(saved), "--out", str(md), str(tiny_run)])
    later = tmp_path / "later"
    shutil.copytree(tiny_run, later)
    main(["--load", str(saved), "--save", str(saved), "--data", str(tiny_data), "--out", str(md), str(later)])
    rows = json.loads(saved.read_text())["rows"]
    assert [r["run"] for r in rows] == [tiny_run.name, "later"] and "vs_first" not in rows[1]
    assert rows[1]["test"] == rows[0]["test"]
    [line] = [line for line in md.read_text().splitlines() if line.startswith("| later")]
    assert line.endswith("|  |  |")


def test_cpu_steps_cli_names_an_unfinished_run(tiny_data, tmp_path, capsys):
    from trainer.bench_cpu_steps import main

    out = tmp_path / "B.md"
    (tmp_path / "unfinished").mkdir()
    with cli_error(capsys, r"unfinished/model\.pt: no exported model"):
        main(["--data", str(tiny_data), str(tmp_path / "unfinished"), "--out", str(out)])
    assert not out.exists()


def test_signed_difference_keeps_the_sign_only_where_the_rounded_figure_has_one():
    from trainer.significance import signed

    assert [signed(x) for x in (0.0123, -0.00012, -4e-5, 0.0)] == ["+0.0123", "-0.0001", "+0.0000", "+0.0000"]


def test_signed_interval_writes_each_end_with_its_own_sign():
    from trainer.significance import signed_interval

    assert signed_interval(0.00214, -4e-5, 0.00431) == "+0.0021 [+0.0000, +0.0043]"
    assert signed_interval(-0.0034, -0.0064, -0.00041) == "-0.0034 [-0.0064, -0.0004]"
