"""`train --config FILE`: a run's config.json repeats the run; hand-written JSON or YAML sets part of it."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from conftest import run_cli
from trainer.__main__ import _train_config
from trainer.cli_parser import _add_train
from trainer.config import TrainConfig
from trainer.config_file import read_config_file
from trainer.errors import ConfigError
from trainer.presets import PRESETS


def _config(*argv: str) -> TrainConfig:
    parser = argparse.ArgumentParser()
    _add_train(parser.add_subparsers(dest="command"))
    return _train_config(parser.parse_args(["train", "--data", "d", "--out", "o", *argv]))


def _history(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]


def test_a_finished_runs_config_json_repeats_the_run(tiny_data, tiny_run, tmp_path):
    again = tmp_path / "again"
    res = run_cli("train", "--data", str(tiny_data), "--out", str(again), "--config", str(tiny_run / "config.json"))
    assert res.returncode == 0, res.stderr
    assert json.loads((again / "config.json").read_text()) == json.loads((tiny_run / "config.json").read_text())
    # same settings, same seed, same CPU: the same losses and validation scores, epoch by epoch
    keys = ("epoch", "train_loss", "val")
    assert [[h[k] for k in keys] for h in _history(again)] == [[h[k] for k in keys] for h in _history(tiny_run)]


def test_layers_defaults_then_preset_then_file_then_flags(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("# over the preset\nlr: 1e-3\nhidden-dim: 64\nmodel:\n  emb_dim: 32\nwindows: all\n")
    cfg = _config("--preset", "ml-100k", "--config", str(path), "--windows", "last", "--seed", "9")
    preset = PRESETS["ml-100k"]
    assert (cfg.lr, cfg.model.hidden_dim, cfg.model.emb_dim) == (1e-3, 64, 32)  # the file over the preset
    assert (cfg.windows, cfg.seed) == ("last", 9)  # the flags over the file
    assert (cfg.batch_size, cfg.target, cfg.model.dropout) == (preset["batch_size"], preset["target"],
                                                                preset["model"]["dropout"])  # the preset kept
    assert (cfg.patience, cfg.data) == (TrainConfig().patience, "d")  # the defaults kept; the data is --data
    cfg.validate()


def test_plateau_knobs_without_the_plateau_schedule_are_refused(tmp_path):
    # --lr-decay 0.3 on the default constant schedule trained at a constant lr without a word
    with pytest.raises(ConfigError, match="--lr-decay and --lr-patience shape --lr-schedule plateau; with 'cosine'"):
        _config("--lr-schedule", "cosine", "--lr-patience", "3")
    with pytest.raises(ConfigError, match="with 'constant' they would be ignored"):
        _config("--lr-decay", "0.3")
    assert _config("--preset", "ml-1m", "--lr-decay", "0.3").lr_decay == 0.3  # the preset's schedule is plateau
    path = tmp_path / "plateau.yaml"
    path.write_text("lr_schedule: plateau\n")
    assert _config("--config", str(path), "--lr-patience", "4").lr_patience == 4


def test_json_file_with_every_spelling_and_number_form(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"weight-decay": 0, "label_smoothing": "0.1", "tied": True, "layers": 2,
                                "model": {"dropout": 0.25, "vocab_size": 999}, "data": "elsewhere",
                                "distill": [], "device": "cpu"}))
    got = read_config_file(path)
    assert got == {"weight_decay": 0.0, "label_smoothing": 0.1, "device": "cpu", "distill": [],
                   "model": {"tied": True, "layers": 2, "dropout": 0.25}}
    assert isinstance(got["weight_decay"], float)


@pytest.mark.parametrize("suffix,text,message", [
    (".yaml", "hiden_dim: 3\n", r"unknown setting hiden_dim \(did you mean hidden_dim\?\)"),
    (".yaml", "model:\n  lr: 0.1\n", r"unknown setting model\.lr"),
    (".yaml", "model: 3\n", r"model must be a mapping"),
    (".yaml", "epochs: true\n", r"epochs must be an integer, got bool True"),
    (".yaml", "epochs: 2.5\n", r"epochs must be an integer, got float 2.5"),
    (".yaml", "lr: fast\n", r"lr must be a finite number, got str 'fast'"),
    (".yaml", "lr: .nan\n", r"lr must be a finite number"),
    (".yaml", "tied: 1\n", r"tied must be true or false, got int 1"),
    (".yaml", "distill: [1, 2]\n", r"distill must be a list of strings"),
    (".yaml", "windows: 3\n", r"windows must be a string, got int 3"),
    (".yaml", "hidden_dim: 64\nmodel:\n  hidden_dim: 32\n", r"model\.hidden_dim is 32 here and 64 elsewhere"),
    (".yaml", "kind: sknn\n", r"kind 'sknn' is a baseline's config.*baseline --name sknn"),
    (".yaml", "- 1\n", r"holds one mapping of settings, got list"),
    (".yaml", "", r"the config file is empty"),
    (".yaml", "epochs: [1\n", r"not valid YAML \(line 2, column 1: "),
    (".json", "{\"epochs\": 2,}", r"not valid JSON"),
    (".toml", "epochs = 2\n", r"must end in .json, .yaml, .yml, got '.toml'"),
])
def test_a_bad_file_is_named_with_its_problem(tmp_path, suffix, text, message):
    path = tmp_path / f"bad{suffix}"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: (.*)?{message}"):
        read_config_file(path)


def test_cli_refuses_a_bad_file_before_touching_the_run_directory(tiny_data, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hidden_dim: big\n")
    out = tmp_path / "run"
    res = run_cli("train", "--data", str(tiny_data), "--out", str(out), "--config", str(bad))
    assert res.returncode == 2 and res.stderr == f"error: {bad}: hidden_dim must be an integer, got str 'big'\n"
    assert not out.exists()
    res = run_cli("train", "--data", str(tiny_data), "--out", str(out), "--config", str(tmp_path / "none.json"))
    assert res.returncode == 2 and "none.json: config file not found" in res.stderr and not out.exists()
    # eval_k past the catalog: validation ranked every user that wide (10**8: gigabytes per batch)
    wide = tmp_path / "wide.json"
    wide.write_text('{"eval_k": 100000000, "select_metric": "ndcg@10"}\n')
    res = run_cli("train", "--data", str(tiny_data), "--out", str(out), "--config", str(wide))
    assert res.returncode == 2 and "error: eval_k 100000000 is past the catalog of" in res.stderr
    assert not out.exists() or not any(out.iterdir())  # nothing written: the same --out trains next time


def test_config_cannot_be_combined_with_resume(tiny_run):
    with pytest.raises(ConfigError, match="--config cannot be combined with --resume"):
        _config("--resume", "--config", str(tiny_run / "config.json"))


def test_a_notebooks_config_with_paths_one_teacher_and_a_model_dict(tmp_path):
    # TrainConfig(data=Path(...)) raised TypeError from json.dumps as train wrote config.json;
    # distill="runs/t" would have been read as the teachers "r", "u", "n", ...
    cfg = TrainConfig(data=tmp_path / "data", distill=tmp_path / "teacher", model={"hidden_dim": 32})
    assert (cfg.data, cfg.distill, cfg.model.hidden_dim) == (str(tmp_path / "data"), [str(tmp_path / "teacher")], 32)
    cfg.save(tmp_path / "config.json")
    assert TrainConfig.load(tmp_path / "config.json") == cfg
    assert TrainConfig(distill=["a", Path("b")]).distill == ["a", "b"]
