"""Training picks its best epoch by the validation metric and protocol the user chose."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import run_cli, tiny_config
from trainer.checkpoint import history_timings, read_history, run_config, selection_metric
from trainer.config import TrainConfig
from trainer.errors import ConfigError, RunDirError
from trainer.metrics import metric_names
from trainer.train import train


def first_best(rows: list[dict], metric: str) -> int:
    """The epoch training must keep: the first of the highest values."""
    values = [r["val"][metric] for r in rows]
    return rows[max(range(len(values)), key=lambda i: (values[i], -i))]["epoch"]


def test_early_stopping_and_the_export_follow_the_selected_metric(tiny_data, tmp_path):
    run = tmp_path / "p1"
    # lr 0.05 makes validation bounce, so precision@1 and map@20 peak at different epochs here
    summary = train(tiny_config(tiny_data, epochs=40, patience=3, lr=0.05, select_metric="precision@1"), run,
                    progress=False)
    rows = read_history(run)
    best = first_best(rows, "precision@1")
    assert best != first_best(rows, "map@20"), "the data no longer tells the two metrics apart"
    assert summary["best_epoch"] == best and summary["selected_by"] == "precision@1 (set)"
    assert len(rows) == best + 3  # exactly `patience` epochs without a better precision@1
    assert torch.load(run / "best.pt", weights_only=True)["epoch"] == best
    # what sweeps, recipes and benchmarks report as the run's best epoch
    assert selection_metric(run) == "precision@1"
    assert history_timings(rows, selection_metric(run))["best_epoch"] == best


def test_next_protocol_validation_is_what_evaluate_reports_for_the_exported_model(tiny_data, tmp_path):
    run = tmp_path / "next"
    summary = train(tiny_config(tiny_data, epochs=4, select_metric="ndcg@10", select_protocol="next"), run,
                    progress=False)
    res = run_cli("evaluate", "--data", str(tiny_data), "--run", str(run), "--split", "validate",
                  "--protocol", "next")
    assert res.returncode == 0, res.stderr
    scored = json.loads(res.stdout)
    assert scored["protocol"] == "next" and {k: scored[k] for k in summary["val"]} == pytest.approx(summary["val"],
                                                                                                    abs=1e-9)
    # and not what the set protocol gives the same model
    res = run_cli("evaluate", "--data", str(tiny_data), "--run", str(run), "--split", "validate")
    assert json.loads(res.stdout)["ndcg@10"] != pytest.approx(scored["ndcg@10"], abs=1e-6)


def test_a_config_from_before_the_settings_selects_as_it_did(tmp_path):
    cfg = TrainConfig.from_dict({"epochs": 3, "model": {"hidden_dim": 8}})
    assert (cfg.select_metric, cfg.select_protocol) == ("map@20", "set")
    # the readers of a run directory (sweeps, benchmarks) see the same completed settings
    (tmp_path / "config.json").write_text(json.dumps({"epochs": 3, "max_len": 7, "model": {"hidden_dim": 8}}))
    saved = run_config(tmp_path)
    assert (saved["select_metric"], saved["select_protocol"], saved["max_len"]) == ("map@20", "set", 7)
    assert saved["model"]["hidden_dim"] == 8 and selection_metric(tmp_path) == "map@20"


def test_a_run_without_a_readable_config_is_named(tmp_path):
    with pytest.raises(RunDirError, match=f"{tmp_path}/config.json: config not found"):
        selection_metric(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(RunDirError, match="config.json: not a valid sessrec config"):
        run_config(tmp_path)


@pytest.mark.parametrize("field, value, message", [
    ("select_metric", "map@10", "--select-metric must be one of map@20, .* got 'map@10'"),
    ("select_metric", "NDCG@10", "got 'NDCG@10'"),
    ("select_protocol", "loo", "--select-protocol must be set or next, got 'loo'")])
def test_bad_selection_settings_name_the_value(field, value, message):
    cfg = TrainConfig()
    setattr(cfg, field, value)
    with pytest.raises(ConfigError, match=message):
        cfg.validate()


def test_cli_choices_and_resume(tiny_data, tiny_run, tmp_path):
    assert set(metric_names()) >= {"map@20", "ndcg@10", "hr@10", "mrr@20", "precision@20"}
    res = run_cli("train", "--data", str(tiny_data), "--out", str(tmp_path / "r"), "--select-metric", "auc")
    assert res.returncode == 2 and "--select-metric must be one of map@20, precision@1," in res.stderr
    assert "got 'auc'" in res.stderr
    assert not (tmp_path / "r").exists()
    config = tmp_path / "c.yaml"
    config.write_text("select_protocol: events\n")
    res = run_cli("train", "--data", str(tiny_data), "--out", str(tmp_path / "r"), "--config", str(config))
    assert res.returncode == 2 and "--select-protocol must be set or next, got 'events'" in res.stderr
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())
    # a run's best epoch so far was chosen by its metric: another one cannot take over halfway
    before = (tiny_run / "model.pt").read_bytes()
    res = run_cli("train", "--data", str(tiny_data), "--out", str(tiny_run), "--resume", "--select-metric", "hr@10")
    assert res.returncode == 2 and "cannot change --select-metric" in res.stderr
    assert (tiny_run / "model.pt").read_bytes() == before

