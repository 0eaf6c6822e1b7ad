"""bench_accuracy's tables: what they show is what the runs measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import cli_error
from trainer.__main__ import _train_config
from trainer.archive import REPO
from trainer.bench_accuracy import BENCHES, bench_amp
from trainer.bench_accuracy_md import catalog_lines, gru_config_text, validation_lines
from trainer.cli_parser import build_parser


def test_validation_table_rows_carry_each_runs_values_and_bold_the_leader_per_column():
    rows = [{"model": "pop", "val": {"users": 81, "map@20": 0.0648, "recall@20": 0.1278}},
            {"model": "sknn", "val": {"users": 81, "map@20": 0.0488, "recall@20": 0.1234}},
            {"model": "GRU", "val": {"users": 81, "map@20": 0.0641, "recall@20": 0.1662}},
            {"model": "tie", "val": {"users": 81, "map@20": 0.06480000001, "recall@20": 0.1}}]
    lines = validation_lines({"metrics": ["map@20", "recall@20"], "validation_table": True}, rows)
    assert "81 users" in lines[1]
    table = {line.split(" | ")[0].lstrip("| "): line for line in lines if line.startswith("| ") and "---" not in line}
    assert table["pop"] == "| pop | **0.0648** | 0.1278 |"
    assert table["sknn"] == "| sknn | 0.0488 | 0.1234 |"
    assert table["GRU"] == "| GRU | 0.0641 | **0.1662** |"
    assert table["tie"] == "| tie | **0.0648** | 0.1000 |"  # equal as shown: both bold


def test_catalog_table_shows_each_runs_figures_and_is_left_out_for_runs_scored_without_them():
    catalog = {"coverage@10": 0.0546, "coverage@20": 0.0866, "gini@20": 0.96041, "popularity@20": 241.847}
    rows = [{"model": "pop", "test": {**catalog, "coverage@20": 0.1053}}, {"model": "GRU", "test": catalog}]
    lines = catalog_lines(rows)
    assert lines[-2:] == ["| pop | 0.0546 | 0.1053 | 0.9604 | 241.8 |", "| GRU | 0.0546 | 0.0866 | 0.9604 | 241.8 |"]
    assert lines[3] == "| model | coverage@10 | coverage@20 | gini@20 | popularity@20 |"
    assert catalog_lines([{"model": "GRU", "test": {"map@20": 0.1}}, *rows]) == []  # an older run's row


def test_only_benches_that_ask_for_it_get_a_validation_table():
    assert validation_lines({"metrics": ["map@20"]}, [{"model": "GRU", "test": {"map@20": 0.1}}]) == []
    assert BENCHES["ml-100k"].get("validation_table") and not BENCHES["ml-1m"].get("validation_table")


def test_seed_spread_gives_each_periods_mean_range_and_the_seeds_strictly_above_each_baseline():
    from trainer.seed_spread import seed_spread_lines

    runs = [{"seed": s, "test": {"map@20": t}, "val": {"map@20": v}}
            for s, t, v in ((1, 0.08, 0.05), (2, 0.09, 0.07), (3, 0.10, 0.06))]
    baselines = [{"model": "pop", "test": {"map@20": 0.09}, "val": {"map@20": 0.01}},
                 {"model": "sknn", "test": {"map@20": 0.2}, "val": {"map@20": 0.065}}]
    lines = seed_spread_lines({"runs": runs}, baselines, ["map@20"], "CMD")
    assert "seeds 1-3 (`CMD`)" in lines[1]
    assert lines[3] == "| period | metric | GRU, mean of 3 seeds [95% t interval] (min-max) | pop | sknn |"
    # sd 0.01 over 3 seeds, t(0.975, 2) = 4.303: the mean +- 4.303 * 0.01 / sqrt(3) = +- 0.0248.
    # 0.09 equals pop's test value: not above it
    assert lines[5] == ("| test | map@20 | 0.0900 [0.0652, 0.1148] (0.0800-0.1000) | 0.0900 (GRU above on 1 of 3) | "
                        "0.2000 (GRU above on 0 of 3) |")
    assert lines[6] == ("| validation | map@20 | 0.0600 [0.0352, 0.0848] (0.0500-0.0700) | 0.0100 (GRU above on 3 of 3) | "
                        "0.0650 (GRU above on 1 of 3) |")
    # baselines without validation metrics: the test period only; seeds not consecutive are listed
    lines = seed_spread_lines({"runs": runs[::2]}, [{"model": "pop", "test": {"map@20": 0.0}}], ["map@20"], "CMD")
    assert "seeds 1, 3 " in lines[1] and len(lines) == 6 and lines[-1].startswith("| test |")
    # one seed has no spread: mean and range only
    lines = seed_spread_lines({"runs": runs[:1]}, [{"model": "pop", "test": {"map@20": 0.0}}], ["map@20"], "CMD")
    assert lines[-1].startswith("| test | map@20 | 0.0800 (0.0800-0.0800) |")


def _fake_cli(monkeypatch, tmp_path):
    """bench_accuracy with its `trainer` calls recorded instead of run (a baseline or GRU "run" is a directory)."""
    import json

    from trainer import bench_accuracy

    calls: list[tuple[str, ...]] = []

    def cli(*args: str) -> str:
        calls.append(args)
        if args[0] in ("baseline", "train"):
            out = tmp_path / "runs" / Path(args[args.index("--out") + 1]).name
            out.mkdir(parents=True)
            (out / "config.json").write_text(json.dumps({"amp": "--amp" in args}))
        return "{}"

    monkeypatch.setattr(bench_accuracy, "BUILD", tmp_path)
    monkeypatch.setattr(bench_accuracy, "cli", cli)
    monkeypatch.setattr(bench_accuracy, "scores", lambda *a: {"test": {}})
    monkeypatch.setattr(bench_accuracy, "read_history", lambda run: [])
    monkeypatch.setattr(bench_accuracy, "history_timings", lambda h, metric: {"total_seconds": 5.0})
    return bench_accuracy, calls


def test_reuse_fits_only_the_baselines_without_a_recorded_time_and_needs_the_gru_run(monkeypatch, tmp_path, capsys):
    import json

    import pytest

    bench_accuracy, calls = _fake_cli(monkeypatch, tmp_path)
    (tmp_path / "timings-toy.json").write_text(json.dumps({"pop": 1.5}))
    with cli_error(capsys, "no GRU run in .*toy-gru"):
        bench_accuracy.run_models("toy", {"min_count": 1, "max_len": 50}, tmp_path / "data", None, reuse=True)
    assert calls == []  # refused before any work

    (tmp_path / "runs" / "toy-gru").mkdir(parents=True)
    (tmp_path / "runs" / "toy-gru" / "config.json").write_text(json.dumps({"amp": True}))
    rows = bench_accuracy.run_models("toy", {"min_count": 1, "max_len": 50}, tmp_path / "data", None, reuse=True)
    # pop's fit is kept; sr and sknn have no recorded time, so they are fit again; the GRU is only exported
    assert [c[0] for c in calls] == ["baseline", "baseline", "export"] and [c[2] for c in calls[:2]] == ["sr", "sknn"]
    assert [r["model"] for r in rows] == ["pop", "sr", "sknn", "GRU"]
    # the run's config with every setting, so the section states what an older run left to defaults
    assert rows[-1]["config"]["amp"] is True and rows[-1]["config"]["select_metric"] == "map@20"
    assert rows[0]["fit_seconds"] == 1.5 and rows[-1]["wall_seconds"] == 5.0


def test_reuse_keeps_the_wall_clock_of_the_benchs_own_training_until_the_run_changes(monkeypatch, tmp_path):
    import json
    import types

    bench_accuracy, _ = _fake_cli(monkeypatch, tmp_path)
    bench = {"min_count": 1, "max_len": 50}
    clock = iter(range(0, 1000, 10))  # every perf_counter call 10 s later: each fit or training "takes" 10 s
    monkeypatch.setattr(bench_accuracy, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    trained = bench_accuracy.run_models("toy", bench, tmp_path / "data", None, reuse=False)
    assert trained[-1]["wall_seconds"] == 10.0  # the wall clock, not the epochs' 5 s
    # a rerender of that same run keeps its wall clock
    assert bench_accuracy.run_models("toy", bench, tmp_path / "data", None, reuse=True)[-1]["wall_seconds"] == 10.0
    # resumed by hand: its epochs now total 7 s, and the old wall clock no longer describes it
    monkeypatch.setattr(bench_accuracy, "history_timings", lambda h, metric: {"total_seconds": 7.0})
    assert bench_accuracy.run_models("toy", bench, tmp_path / "data", None, reuse=True)[-1]["wall_seconds"] == 7.0
    assert json.loads((tmp_path / "timings-toy.json").read_text())["gru"] == 7.0


def test_amp_reaches_the_gru_training_with_the_preset_and_epoch_cap(monkeypatch, tmp_path):
    bench_accuracy, calls = _fake_cli(monkeypatch, tmp_path)
    bench_accuracy.run_models("ml-1m", {"min_count": 1, "max_len": 50}, tmp_path / "data", 2, reuse=False, amp=True)
    train = next(c for c in calls if c[0] == "train")
    assert train[train.index("--preset") + 1] == "ml-1m" and "--amp" in train and train[train.index("--epochs") + 1] == "2"
    assert "--amp" not in bench_accuracy.gru_flags("ml-1m", None, False)


def test_amp_skips_benches_measured_in_fp32_so_the_ml_1m_command_reproduces_the_ml_100k_section(capsys):
    from trainer.bench_accuracy import bench_amp

    assert bench_amp("ml-1m", BENCHES["ml-1m"], True) is True
    assert bench_amp("ml-100k", BENCHES["ml-100k"], True) is False
    assert "ml-100k: training in fp32" in capsys.readouterr().out
    assert bench_amp("ml-100k", BENCHES["ml-100k"], False) is False and bench_amp("ml-1m", BENCHES["ml-1m"], False) is False


def test_seed_table_shows_every_metric_of_the_main_table_not_only_the_compared_ones(monkeypatch, tmp_path):
    from trainer import bench_accuracy

    bench = {"seeds": [1, 2], "metrics": ["map@20", "precision@20"], "compare": ["map@20"], "min_count": 1, "max_len": 50}
    runs = [{"seed": s, "test": {"map@20": 0.09, "precision@20": p}, "val": {"map@20": 0.08, "precision@20": 0.1}}
            for s, p in ((1, 0.10), (2, 0.11))]
    swept = []
    monkeypatch.setattr(bench_accuracy, "BUILD", tmp_path)
    monkeypatch.setattr(bench_accuracy, "sweep", lambda data, out, seeds, flags: swept.append(seeds) or {"runs": runs})
    rows = [{"model": "sknn", "test": {"map@20": 0.08, "precision@20": 0.1123}, "val": {"map@20": 0.05, "precision@20": 0.08}},
            {"model": "GRU"}]
    lines, seed_next = bench_accuracy.seed_lines("toy", bench, tmp_path / "data", rows, None, reuse=True)
    assert swept == [[1, 2]] and seed_next == []  # this bench asks for no next-event table
    body = [line for line in lines if line.startswith("| test |") or line.startswith("| validation |")]
    assert [line.split(" | ")[:2] for line in body] == [["| test", "map@20"], ["| test", "precision@20"],
                                                         ["| validation", "map@20"], ["| validation", "precision@20"]]
    # the metric the seeds lose is in the table, with its count
    assert body[1].endswith("| 0.1123 (GRU above on 0 of 2) |")


def test_section_states_the_protocol_and_compares_the_gru_with_each_baseline_on_the_same_users():
    from trainer.bench_accuracy_md import section
    from trainer.config import TrainConfig

    bench = {**BENCHES["ml-1m"], "metrics": ["hr@10", "ndcg@10"], "compare": ["hr@10"]}
    cfg = TrainConfig().to_dict()
    gru = {"model": "GRU", "test": {"users": 4, "hr@10": 0.31, "ndcg@10": 0.18}, "config": cfg, "best_epoch": 3,
           "epochs_run": 3 + cfg["patience"], "seconds_per_epoch": 2.0, "median_seconds_per_epoch": 1.5,
           "time_to_best_seconds": 6.0, "wall_seconds": 12.0}
    rows = [{"model": "pop", "test": {"users": 4, "hr@10": 0.05, "ndcg@10": 0.02}, "fit_seconds": 1.0}, gru]
    users = [1, 2, 3, 4]
    per_user = {"pop": {"users": users, "metrics": {"hr@10": [0.0, 0.0, 0.0, 0.0]}},
                "GRU": {"users": users, "metrics": {"hr@10": [1.0, 1.0, 1.0, 1.0]}}}
    meta = {"users": 10, "items": 20, "events_kept": 300}
    text = section("ml-1m", bench, meta, rows, [], per_user)
    assert "10 users, 20 items, 300 events; 4 test users" in text
    assert f"best epoch 3 of {3 + cfg['patience']}" in text and "hr@10 0.31000 (met: goal >= 0.3)" in text
    lines = text.splitlines()
    assert "| pop | 0.0500 | 0.0200 | 1 s |" in lines and "| GRU | 0.3100 | 0.1800 | 12 s |" in lines
    assert any(line.startswith("| SASRec + cross-entropy") and "0.3152 | 0.1821" in line for line in lines)
    assert "| pop | +1.0000 [+1.0000, +1.0000] | yes |" in lines  # GRU hits every user pop misses
    per_user["pop"]["users"] = [1, 2, 3, 5]
    with pytest.raises(SystemExit, match="pop was scored on other users than the GRU"):
        section("ml-1m", bench, meta, rows, [], per_user)


def test_a_problem_a_trainer_command_names_ends_the_benchmark_with_its_line_and_status_2(tmp_path, capsys):
    from trainer import bench_accuracy

    with cli_error(capsys, rf"^error: python -m trainer evaluate --data {tmp_path} --run {tmp_path}/none: "
                           rf"{tmp_path}/none: no such run directory"):
        bench_accuracy.cli("evaluate", "--data", str(tmp_path), "--run", str(tmp_path / "none"))


def test_next_event_table_scores_every_run_and_each_seed_with_protocol_next(monkeypatch, tmp_path):
    from trainer import bench_accuracy
    from trainer.bench_accuracy_md import next_lines

    bench = {"seeds": [1, 2, 3], "metrics": ["map@20"], "compare": ["map@20"], "next_metrics": ["hr@10", "mrr@20"]}
    runs = [{"seed": s, "run": str(tmp_path / f"seed-{s}"), "test": {"map@20": 0.1}, "val": {"map@20": 0.1}}
            for s in (1, 2, 3)]
    monkeypatch.setattr(bench_accuracy, "sweep", lambda data, out, seeds, flags: {"runs": runs})
    scored = []
    hr = {"seed-1": 0.15, "seed-2": 0.10, "seed-3": 0.20}

    def evaluate_run(data, run, split, protocol):
        scored.append((run.name, split, protocol))
        return {"hr@10": hr[run.name], "mrr@20": 0.05}

    monkeypatch.setattr(bench_accuracy, "evaluate_run", evaluate_run)
    rows = [{"model": "pop", "test": {"map@20": 0.0}, "next": {"hr@10": 0.10, "mrr@20": 0.02}},
            {"model": "sr", "test": {"map@20": 0.0}, "next": {"hr@10": 0.12, "mrr@20": 0.06}},
            {"model": "GRU", "test": {"map@20": 0.1}, "next": {"hr@10": 0.15, "mrr@20": 0.05}}]
    _, seed_next = bench_accuracy.seed_lines("toy", bench, tmp_path / "data", rows, None, reuse=True)
    assert scored == [("seed-1", "test", "next"), ("seed-2", "test", "next"), ("seed-3", "test", "next")]
    lines = next_lines(bench, rows, seed_next)
    assert "`evaluate --protocol next`" in lines[1]
    assert lines[3:] == ["| model | hr@10 | mrr@20 |", "|---|---|---|",
                         "| pop | 0.1000 | 0.0200 |", "| sr | 0.1200 | 0.0600 |", "| GRU | 0.1500 | 0.0500 |",
                         # hr@10: sd 0.05, so 0.15 +- 4.303 * 0.05 / sqrt(3); mrr@20 the same on every seed
                         "| GRU, mean of the 3 seeds above [95% t interval] (min-max) | 0.1500 [0.0258, 0.2742] "
                         "(0.1000-0.2000) | 0.0500 [0.0500, 0.0500] (0.0500-0.0500) |",
                         # 0.10 equals pop's hr@10: not above it
                         "| seeds strictly above pop / sr (of 3) | 2 / 2 | 3 / 0 |"]
    assert next_lines({"metrics": ["map@20"]}, rows, seed_next) == []


@pytest.mark.parametrize("name", sorted(BENCHES))
def test_benchmarks_md_shows_the_run_of_each_presets_current_configuration(name):
    # A preset changed without `make bench-accuracy` leaves a table that the preset no longer
    # reproduces (v5's popularity prior did, until its table was trained again).
    amp = bench_amp(name, BENCHES[name], True)  # the ML-1M table's command is `make bench-accuracy AMP=1`
    args = build_parser().parse_args(["train", "--data", "D", "--out", "O", "--preset", name, "--seed", "42",
                                      *(["--amp"] if amp else [])])
    expected = gru_config_text(name, _train_config(args).to_dict())
    assert {"ml-1m": "popularity prior 0.15", "ml-100k": "target rest"}[name] in expected  # the preset was applied
    assert expected + "; early stopping" in (REPO / "BENCHMARKS.md").read_text()
