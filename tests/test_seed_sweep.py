"""seed_sweep: one run per seed, scored like `evaluate`, with the means that presets are chosen by."""

from __future__ import annotations

import json

import pytest

from trainer.evaluate import evaluate_run
from trainer.seed_interval import spread
from trainer.seed_sweep import SUMMARY_FILE, main, select_seed, summary_file

FLAGS = ["--epochs", "2", "--batch-size", "64", "--min-count", "2", "--max-len", "40", "--emb-dim", "16",
         "--hidden-dim", "16"]


def test_each_seed_is_trained_scored_and_averaged(tiny_data, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["--data", str(tiny_data), "--out", str(out), "--seeds", "3", "5", "--", *FLAGS]) == 0
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert [r["seed"] for r in summary["runs"]] == [3, 5]
    for r in summary["runs"]:
        cfg = json.loads((out / f"seed-{r['seed']}" / "config.json").read_text())
        assert cfg["seed"] == r["seed"] and cfg["epochs"] == 2 and cfg["model"]["hidden_dim"] == 16
        assert r["test"] == evaluate_run(tiny_data, out / f"seed-{r['seed']}", "test")
    a, b = summary["runs"]
    assert a["test"]["map@20"] != b["test"]["map@20"], "two seeds gave identical runs"
    assert summary["mean"]["test"]["map@20"] == pytest.approx((a["test"]["map@20"] + b["test"]["map@20"]) / 2)
    assert summary["mean"]["val"]["ndcg@10"] == pytest.approx((a["val"]["ndcg@10"] + b["val"]["ndcg@10"]) / 2)
    # the seed to ship is the one training's own selection metric (map@20 by default) rates best on validation
    best = max(summary["runs"], key=lambda r: r["val"]["map@20"])
    assert summary["selected"] == {"seed": best["seed"], "run": best["run"], "by": "map@20 (set)",
                                   "val": best["val"]["map@20"]}
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-3].startswith("mean of 2 seeds: map@20 val ")
    # the spread of two seeds: sd of two values is |a - b| / sqrt(2); t with 1 degree of freedom is 12.706
    map_spread = summary["spread"]["test"]["map@20"]
    assert map_spread["sd"] == pytest.approx(abs(a["test"]["map@20"] - b["test"]["map@20"]) / 2 ** 0.5)
    assert map_spread["high"] - map_spread["low"] == pytest.approx(2 * 12.706 * map_spread["sd"] / 2 ** 0.5, rel=1e-4)
    assert printed[-2].startswith("test spread over the seeds: map@20 sd ")
    assert printed[-1] == (f"selected by validation map@20 (set): seed {best['seed']} ({best['run']}); "
                           f"ship it with `make archive RUN={best['run']}`")

    # Called again, finished seeds are kept as they are and a new seed is added.
    before = (out / "seed-3" / "model.pt").stat().st_mtime_ns
    assert main(["--data", str(tiny_data), "--out", str(out), "--seeds", "3", "7", "--", *FLAGS]) == 0
    assert (out / "seed-3" / "model.pt").stat().st_mtime_ns == before
    assert [r["seed"] for r in json.loads((out / SUMMARY_FILE).read_text())["runs"]] == [3, 7]

    # The same seeds scored event by event go to their own summary; the set protocol's stays as it was.
    set_summary = (out / SUMMARY_FILE).read_text()
    assert main(["--data", str(tiny_data), "--out", str(out), "--seeds", "3", "7", "--protocol", "next", "--",
                 *FLAGS]) == 0
    nxt = json.loads((out / summary_file("next")).read_text())
    assert nxt["protocol"] == "next" and (out / SUMMARY_FILE).read_text() == set_summary
    for r in nxt["runs"]:
        assert r["test"] == evaluate_run(tiny_data, out / f"seed-{r['seed']}", "test", protocol="next")
        assert r["test"]["ndcg@10"] != pytest.approx(
            evaluate_run(tiny_data, out / f"seed-{r['seed']}", "test")["ndcg@10"], abs=1e-6)


def test_seeds_side_by_side(tiny_data, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["--data", str(tiny_data), "--out", str(out), "--seeds", "3", "5", "--jobs", "2", "--", *FLAGS]) == 0
    printed = capsys.readouterr().out
    assert f"started {out / 'seed-3'}" in printed and f"started {out / 'seed-5'}" in printed
    summary = json.loads((out / SUMMARY_FILE).read_text())
    for r in summary["runs"]:
        run = out / f"seed-{r['seed']}"
        assert json.loads((run / "config.json").read_text())["seed"] == r["seed"]
        assert "epoch   2" in (out / f"seed-{r['seed']}.log").read_text()  # each process's output, beside its run
        assert r["test"] == evaluate_run(tiny_data, run, "test")
    assert summary["selected"]["seed"] == max(summary["runs"], key=lambda r: r["val"]["map@20"])["seed"]
    # called again, nothing is trained: the finished seeds are scored as they are
    before = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("seed-*/model.pt")}
    assert main(["--data", str(tiny_data), "--out", str(out), "--seeds", "3", "5", "--jobs", "2", "--", *FLAGS]) == 0
    assert "started" not in capsys.readouterr().out
    assert {p.parent.name: p.stat().st_mtime_ns for p in out.glob("seed-*/model.pt")} == before


@pytest.mark.parametrize("args, message", [
    (["--seeds", "1", "1"], "--seeds must be distinct"),
    (["--", "--seed", "4"], "give --seed to the sweep (--data, --out, --seeds), not among the train flags"),
    # argparse takes these spellings too; placed after the sweep's own, they would win: every seed
    # into one directory, or trained on other data than the sweep scores
    (["--", "--out=elsewhere"], "give --out to the sweep"),
    (["--", "--ou", "elsewhere"], "give --out to the sweep"),
    (["--", "--dat=other", "--seed=3"], "give --data and --seed to the sweep"),
    (["--", "--resume"], "the sweep resumes its interrupted runs by itself"),
    (["--protocol", "events"], "--protocol must be set or next, got 'events'"),
    (["--seeds", "1", "-1"], "--seeds must be an int in 0..2**63-1, got -1"),  # numpy takes no negative seed
    (["--jobs", "0"], "--jobs must be >= 1, got 0"),
])
def test_bad_sweeps_are_refused_by_name(tiny_data, tmp_path, capsys, args, message):
    assert main(["--data", str(tiny_data), "--out", str(tmp_path / "s"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_ctrl_c_in_a_seed_stops_the_sweep_and_says_how_to_go_on(tiny_data, tmp_path, capsys, monkeypatch):
    # train answers Ctrl-C with status 130; the sweep went on to say "training ... failed"
    import trainer.seed_sweep as seed_sweep

    calls = []
    monkeypatch.setattr(seed_sweep, "cli", lambda args: calls.append(args) or 130)
    assert seed_sweep.main(["--data", str(tiny_data), "--out", str(tmp_path / "sw"), "--seeds", "1", "2"]) == 130
    assert len(calls) == 1  # seed 2 never started
    err = capsys.readouterr().err
    assert f"interrupted; {tmp_path / 'sw'} keeps its finished seeds: the same command again continues" in err
    assert "failed" not in err


def _run(seed: int, val: float, test: float, by: str = "ndcg@10 (set)") -> dict:
    return {"seed": seed, "run": f"sw/seed-{seed}", "best_epoch": 3, "select_metric": by.split()[0], "selected_by": by,
            "val": {"ndcg@10": val, "map@20": 1 - val}, "test": {"ndcg@10": test, "map@20": test}}


def test_the_selected_seed_is_chosen_on_validation_alone_first_of_equals():
    # seed 2 is best on test and seed 7 ties seed 5 on validation: test plays no part and the earlier seed wins
    runs = [_run(5, 0.18, 0.170), _run(2, 0.17, 0.190), _run(7, 0.18, 0.175)]
    assert select_seed(runs) == {"seed": 5, "run": "sw/seed-5", "by": "ndcg@10 (set)", "val": 0.18}
    # by the metric the runs selected by, not map@20 (on which seed 2 leads here)
    assert select_seed([_run(2, 0.17, 0.19), _run(5, 0.18, 0.17)])["seed"] == 5


@pytest.mark.parametrize("other", ["ndcg@10 (next)", "map@20 (set)"])
def test_runs_selected_by_different_metrics_or_protocols_are_not_ranked(other, capsys):
    # a sweep directory resumed with other flags keeps its finished seeds, so its runs can disagree
    runs = [_run(1, 0.18, 0.17), _run(2, 0.17, 0.19, by=other)]
    assert select_seed(runs) is None
    from trainer.seed_sweep import summary_lines

    summary = {"runs": runs, "selected": None, "mean": {s: {"ndcg@10": 0.0, "map@20": 0.0, "hr@10": 0.0}
                                                        for s in ("val", "test")},
               "spread": {s: {"ndcg@10": spread([0.17, 0.19])} for s in ("val", "test")}}
    metrics = ", ".join(sorted(["ndcg@10 (set)", other]))
    assert summary_lines(summary, keys=("ndcg@10",))[-1] == (
        f"no seed selected: the runs chose their epochs by different validation metrics ({metrics})")
