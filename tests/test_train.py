"""Training end to end on small generated data: artefacts, determinism, early stopping, resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import REPO, run_cli, tiny_config
from trainer.splits import load_data_dir
from trainer.checkpoint import read_history as history
from trainer.devices import bf16_native
from trainer.train import train

TINY_FLAGS = ["--batch-size", "64", "--min-count", "2", "--max-len", "40", "--emb-dim", "32", "--hidden-dim", "32",
              "--seed", "3", "--patience", "50"]


def test_run_directory_artefacts(tiny_run):
    for name in ("config.json", "vocab.json", "history.jsonl", "best.pt", "ckpt.pt", "model.pt", "curves.png"):
        assert (tiny_run / name).stat().st_size > 0, name
    assert (tiny_run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = history(tiny_run)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert all({"train_loss", "train_seconds", "val"} <= r.keys() for r in rows)
    cfg = json.loads((tiny_run / "config.json").read_text())
    assert cfg["model"]["hidden_dim"] == 16 and cfg["model"]["vocab_size"] > 10
    # the config also travels inside the checkpoint, so export needs no CLI flags
    assert torch.load(tiny_run / "best.pt", weights_only=True)["config"] == cfg


def test_same_seed_same_metrics(tiny_data, tiny_run, tmp_path):
    train(tiny_config(tiny_data), tmp_path / "again", progress=False)
    assert [r["val"] for r in history(tmp_path / "again")] == [r["val"] for r in history(tiny_run)]
    assert [r["train_loss"] for r in history(tmp_path / "again")] == [r["train_loss"] for r in history(tiny_run)]


def test_early_stopping_exports_the_best_epoch(tiny_data, tmp_path):
    run = tmp_path / "es"
    summary = train(tiny_config(tiny_data, epochs=40, patience=2, lr=0.05), run, progress=False)
    rows = history(run)
    maps = [r["val"]["map@20"] for r in rows]
    best = max(range(len(maps)), key=lambda i: (maps[i], -i))
    assert len(rows) < 40, "did not stop early"
    assert len(rows) == best + 1 + 2  # exactly `patience` epochs without improvement
    assert summary["best_epoch"] == best + 1
    assert torch.load(run / "best.pt", weights_only=True)["epoch"] == best + 1


def test_amp_where_bf16_would_be_emulated_is_refused_before_the_run_dir_is_touched(tiny_data, tmp_path, monkeypatch):
    import trainer.devices as devices
    from trainer.errors import ConfigError

    monkeypatch.setattr(devices, "bf16_native", lambda device: False)
    with pytest.raises(ConfigError, match="--amp: cpu has no native bf16"):
        train(tiny_config(tiny_data, device="cpu", amp=True), tmp_path / "amp", progress=False)
    assert not (tmp_path / "amp").exists()


def test_resuming_may_change_device_and_precision_but_not_what_the_run_learns(tiny_run, tmp_path):
    import argparse
    import shutil

    from trainer.__main__ import _train_config
    from trainer.cli_parser import _add_train
    from trainer.errors import ConfigError

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(tiny_run / "config.json", run / "config.json")
    parser = argparse.ArgumentParser()
    _add_train(parser.add_subparsers(dest="command"))
    data = json.loads((tiny_run / "config.json").read_text())["data"]
    resume = ["train", "--data", data, "--out", str(run), "--resume"]
    cfg = _train_config(parser.parse_args([*resume, "--amp", "--device", "cpu", "--epochs", "9"]))
    assert (cfg.amp, cfg.device, cfg.epochs) == (True, "cpu", 9)
    assert cfg.model.hidden_dim == json.loads((tiny_run / "config.json").read_text())["model"]["hidden_dim"]
    with pytest.raises(ConfigError, match="cannot change --hidden-dim"):
        _train_config(parser.parse_args([*resume, "--amp", "--hidden-dim", "8"]))


@pytest.mark.skipif(not bf16_native(torch.device("cpu")), reason="this CPU has no native bf16")
def test_cpu_amp_trains_in_bf16_and_exports_an_fp32_model(tiny_data, tiny_run, tmp_path, capsys):
    from trainer.export import load_best_model, load_scripted
    from trainer.recommend import pad_batch

    run = tmp_path / "amp"
    train(tiny_config(tiny_data, device="cpu", amp=True), run, progress=False)
    assert "training on cpu (bf16 autocast)" in capsys.readouterr().out
    fp32, bf16 = history(tiny_run)[0]["train_loss"], history(run)[0]["train_loss"]
    assert bf16 != fp32 and abs(bf16 - fp32) < 0.02 * fp32  # rounded differently, learning the same
    scripted = load_scripted(run / "model.pt")
    model, _ = load_best_model(run)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    movies, lens = pad_batch([[0, 1, 2, 3], [0, 5]])
    with torch.inference_mode():
        assert torch.allclose(scripted.predict_next(movies, lens), model.predict_next(movies, lens), atol=1e-5)


def test_evaluate_scores_the_exported_model_like_training_did(tiny_data, tiny_run):
    res = run_cli("evaluate", "--data", str(tiny_data), "--run", str(tiny_run), "--split", "validate")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    best = max(history(tiny_run), key=lambda r: r["val"]["map@20"])
    for key, value in best["val"].items():
        assert out[key] == pytest.approx(value, abs=1e-6), key
    test = json.loads(run_cli("evaluate", "--data", str(tiny_data), "--run", str(tiny_run)).stdout)
    expected = {"map@20", "precision@1", "precision@5", "precision@10", "precision@20", "recall@10", "recall@20",
                "hr@10", "hr@20", "ndcg@10", "ndcg@20", "mrr@20", "users", "skipped_users", "split"}
    assert expected <= test.keys() and test["split"] == "test" and test["users"] > 0
    notebook = json.loads(run_cli("evaluate", "--data", str(tiny_data), "--run", str(tiny_run),
                                  "--test-history", "train").stdout)
    assert notebook["users"] == test["users"] and notebook != test


def test_evaluate_writes_the_per_user_values_behind_its_means(tiny_data, tiny_run, tmp_path):
    out = tmp_path / "deep" / "per-user.json"
    res = run_cli("evaluate", "--data", str(tiny_data), "--run", str(tiny_run), "--per-user", str(out))
    assert res.returncode == 0, res.stderr
    means, per_user = json.loads(res.stdout), json.loads(out.read_text())
    users = per_user["users"]
    assert len(users) == means["users"] and len(set(users)) == len(users) and per_user["split"] == "test"
    for name, values in per_user["metrics"].items():
        assert len(values) == len(users) and sum(values) / len(values) == pytest.approx(means[name], abs=1e-9), name
    assert 0 < sum(per_user["metrics"]["hr@20"]) < len(users)  # some users hit, some miss: values are per user
    test = load_data_dir(tiny_data)["test"].as_dict()
    assert per_user["targets"] == [len(set(test[u])) for u in users]


def test_exported_model_loads_without_project_code(tiny_run, tmp_path):
    from trainer.export import load_best_model
    from trainer.recommend import pad_batch

    movies, lens = pad_batch([[0, 3, 4, 5, 9], [0], [0, 2, 2, 7]])
    torch.save({"movies": movies, "lens": lens}, tmp_path / "in.pt")
    script = ("import torch, sys; m = torch.jit.load(sys.argv[1]); d = torch.load(sys.argv[2]);"
              "torch.save(m.predict_next(d['movies'], d['lens']), sys.argv[3]);"
              "assert 'trainer' not in sys.modules")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-I", "-c", script, str(tiny_run / "model.pt"), str(tmp_path / "in.pt"),
                    str(tmp_path / "out.pt")], cwd=tmp_path, env=env, check=True)
    got = torch.load(tmp_path / "out.pt")
    model, _ = load_best_model(tiny_run)
    with torch.inference_mode():
        assert torch.allclose(got, model.predict_next(movies, lens), atol=1e-6)
        # padding after a sequence does not change its scores
        alone = model.predict_next(*pad_batch([[0]]))
        assert torch.allclose(alone[0], got[1], atol=1e-6)


def test_refuses_to_overwrite_a_run(tiny_data, tiny_run):
    before = (tiny_run / "model.pt").read_bytes()
    res = run_cli("train", "--data", str(tiny_data), "--out", str(tiny_run), "--epochs", "1")
    assert res.returncode == 2 and "not empty; use --resume" in res.stderr
    res = run_cli("train", "--data", str(tiny_data), "--out", str(tiny_run), "--resume", "--lr", "0.5")
    assert res.returncode == 2 and "cannot change --lr" in res.stderr
    assert (tiny_run / "model.pt").read_bytes() == before


def test_bad_hyperparameters_and_data_are_cli_errors(tiny_data, tmp_path):
    res = run_cli("train", "--data", str(tiny_data), "--out", str(tmp_path / "r"), "--max-len", "1")
    assert res.returncode == 2 and "--max-len must be >= 2" in res.stderr
    res = run_cli("train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r2"))
    assert res.returncode == 2 and "data directory not found" in res.stderr
    res = run_cli("train", "--data", str(tiny_data), "--out", str(tmp_path / "r3"), "--min-count", "100000")
    assert res.returncode == 2 and "no movie has at least --min-count=100000" in res.stderr


def test_resume_after_sigkill_matches_an_uninterrupted_run(tiny_data, tmp_path):
    # A cosine schedule changes lr every epoch, so a resume that lost the scheduler state would diverge.
    flags = ["--data", str(tiny_data), "--epochs", "8", "--lr-schedule", "cosine", *TINY_FLAGS]
    straight = tmp_path / "straight"
    assert run_cli("train", "--out", str(straight), *flags).returncode == 0

    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "trainer", "train", "--out", str(killed), *flags], cwd=REPO,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (killed / "ckpt.pt").exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        assert proc.poll() is None, "training finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    # Killed after its first checkpoint: history.jsonl may still lack that epoch's row (the checkpoint,
    # which carries the history, is written first); resume must restore it either way.
    assert len((killed / "history.jsonl").read_text().splitlines()) < 8
    res = run_cli("train", "--out", str(killed), "--resume", *flags)
    assert res.returncode == 0, res.stderr
    assert "resuming" in res.stdout
    assert len({r["lr"] for r in history(straight)}) == 8
    assert [(r["lr"], r["val"]) for r in history(killed)] == [(r["lr"], r["val"]) for r in history(straight)]
    assert (killed / "model.pt").exists()


def test_an_early_stopped_run_resumed_with_more_patience_is_the_run_started_with_it(tiny_data, tmp_path):
    # How a run that stopped too early is continued (README, Training): its checkpoint is the last epoch
    # trained, so the extra epochs must be exactly those that the longer patience would have trained.
    short, resumed, straight = tmp_path / "short", tmp_path / "resumed", tmp_path / "straight"
    cfg = dict(epochs=30, patience=2, lr=0.05, lr_schedule="plateau", lr_patience=0, lr_decay=0.5)
    train(tiny_config(tiny_data, **cfg), short, progress=False)
    stopped_after = len(history(short))
    assert stopped_after < 30, "the short run did not stop early"
    train(tiny_config(tiny_data, **{**cfg, "patience": 6}), straight, progress=False)
    shutil.copytree(short, resumed)
    res = run_cli("train", "--data", str(tiny_data), "--out", str(resumed), "--resume", "--patience", "6")
    assert res.returncode == 0, res.stderr
    assert f"after epoch {stopped_after}" in res.stdout
    assert len(history(resumed)) > stopped_after
    assert [(r["lr"], r["val"]) for r in history(resumed)] == [(r["lr"], r["val"]) for r in history(straight)]
    assert json.loads((resumed / "config.json").read_text())["patience"] == 6
    kept, expected = (torch.load(run / "best.pt", weights_only=True) for run in (resumed, straight))
    assert kept["epoch"] == expected["epoch"]
    assert all(torch.equal(kept["model"][k], expected["model"][k]) for k in expected["model"])


def test_resume_refuses_a_baseline_run_and_leaves_it_intact(tiny_data, tmp_path):
    run = tmp_path / "pop"
    assert run_cli("baseline", "--name", "pop", "--data", str(tiny_data), "--out", str(run)).returncode == 0
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    res = run_cli("train", "--data", str(tiny_data), "--out", str(run), "--resume", "--epochs", "1")
    assert res.returncode == 2 and "is a 'pop' baseline run" in res.stderr
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_preset_sets_defaults_and_flags_override(tiny_data, tmp_path):
    run = tmp_path / "preset"
    res = run_cli("train", "--data", str(tiny_data), "--out", str(run), "--preset", "ml-1m", "--epochs", "1",
                  "--hidden-dim", "8", "--emb-dim", "8", "--max-len", "40")
    assert res.returncode == 0, res.stderr
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["batch_size"] == 64 and cfg["windows"] == "all" and cfg["model"]["emb_dropout"] == 0.5  # preset
    assert cfg["lr_schedule"] == "plateau" and cfg["model"]["emb_dim"] == 8
    assert cfg["model"]["hidden_dim"] == 8 and cfg["epochs"] == 1 and cfg["max_len"] == 40  # explicit flags win
    res = run_cli("train", "--data", str(tiny_data), "--out", str(run), "--preset", "ml-1m", "--resume")
    assert res.returncode == 2 and "--preset cannot be combined with --resume" in res.stderr


def test_shuffle_window_reorders_training_but_not_evaluation(tiny_data, tiny_run, tmp_path):
    run = tmp_path / "shuffled"
    train(tiny_config(tiny_data, shuffle_window=40), run, progress=False)
    assert json.loads((run / "config.json").read_text())["shuffle_window"] == 40
    plain, shuffled = history(tiny_run), history(run)
    # Same seed and data: the first epoch's loss differs only because its windows were reordered.
    assert shuffled[0]["train_loss"] != plain[0]["train_loss"]
    res = run_cli("evaluate", "--data", str(tiny_data), "--run", str(run), "--split", "validate")
    assert res.returncode == 0, res.stderr
    best = max(shuffled, key=lambda r: r["val"]["map@20"])
    assert json.loads(res.stdout)["map@20"] == pytest.approx(best["val"]["map@20"])


def test_item_dropout_changes_training_and_replays_from_its_seed(tiny_data, tiny_run, tmp_path):
    run = tmp_path / "dropped"
    train(tiny_config(tiny_data, item_dropout=0.3), run, progress=False)
    assert json.loads((run / "config.json").read_text())["item_dropout"] == 0.3
    plain, dropped = history(tiny_run), history(run)
    # Same seed and data: the first epoch differs only because input movies were left out.
    assert dropped[0]["train_loss"] != plain[0]["train_loss"]
    again = tmp_path / "again"
    train(tiny_config(tiny_data, item_dropout=0.3), again, progress=False)
    assert [r["train_loss"] for r in history(again)] == [r["train_loss"] for r in dropped]  # the seed replays it


def test_plateau_schedule_decays_lr_only_after_flat_epochs(tiny_data, tmp_path):
    # lr 0.05 makes validation bounce, so both branches (improved / flat) occur within 10 epochs.
    cfg = tiny_config(tiny_data, epochs=10, patience=20, lr=0.05, lr_schedule="plateau", lr_patience=0, lr_decay=0.5)
    train(cfg, tmp_path / "plateau", progress=False)
    rows = history(tmp_path / "plateau")
    best, decays = -1.0, 0
    for prev, row in zip(rows, rows[1:]):
        improved = prev["val"]["map@20"] > best
        best = max(best, prev["val"]["map@20"])
        expected = prev["lr"] if improved else prev["lr"] * 0.5
        assert row["lr"] == pytest.approx(expected), (prev["epoch"], prev["lr"], row["lr"])
        decays += not improved
    assert rows[0]["lr"] == 0.05 and decays >= 1


@pytest.mark.parametrize("flag, value, message", [
    ("--lr-schedule", "step", "invalid choice"), ("--lr-decay", "1.5", "--lr-decay must be in (0, 1)"),
    ("--lr-patience", "-1", "--lr-patience must be >= 0"), ("--clip-norm", "-1", "--clip-norm must be >= 0"),
    ("--shuffle-window", "-2", "--shuffle-window must be >= 0"), ("--user-weight", "-0.5", "--user-weight must be in [0, 2]"),
    ("--user-weight", "50", "--user-weight must be in [0, 2]"), ("--item-dropout", "1", "--item-dropout must be in [0, 1)"),
    ("--item-dropout", "-0.1", "--item-dropout must be in [0, 1)"),
    # "x < 0" range checks let nan through, and one nan hyperparameter makes every weight nan
    ("--lr", "inf", "--lr must be a finite number, got inf"),
    ("--weight-decay", "nan", "--weight-decay must be a finite number, got nan"),
    ("--clip-norm", "nan", "--clip-norm must be a finite number"), ("--dropout", "nan", "--dropout must be a finite"),
    ("--seed", "-1", "--seed must be an int in 0..2**63-1, got -1")])
def test_bad_schedule_flags_are_cli_errors(tiny_data, tmp_path, flag, value, message):
    plateau = ["--lr-schedule", "plateau"] if flag in ("--lr-decay", "--lr-patience") else []  # else refused as unread
    res = run_cli("train", "--data", str(tiny_data), "--out", str(tmp_path / "r"), flag, value, *plateau)
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_a_catalog_smaller_than_the_metrics_cut_off_trains_and_evaluates(tmp_path):
    # 5 movies, metrics at 20: each user has seen 3 when tested, so the list holds the other 2 and
    # then empty slots, which must count as misses, not crash the ranking or count as hits.
    from trainer.evaluate import evaluate_run
    from trainer.splits import Split, write_data_dir

    users = list(range(1, 31))
    movies = [[(u + j) % 5 + 1 for j in range(4)] for u in users]
    write_data_dir({"train": Split(users, [m[:2] for m in movies]), "validate": Split(users, [m[2:3] for m in movies]),
                    "test": Split(users, [m[3:] for m in movies])}, tmp_path / "data")
    run = tmp_path / "run"
    train(tiny_config(tmp_path / "data", min_count=1, epochs=2), run, progress=False)
    result = evaluate_run(tmp_path / "data", run, "test")
    assert result["users"] == 30 and result["hr@20"] == 1.0 and result["recall@20"] == 1.0
    assert result["precision@20"] == pytest.approx(1 / 20) and result["precision@5"] == pytest.approx(1 / 5)


def test_a_diverging_run_stops_with_an_error_and_keeps_its_finished_epochs(tiny_data, tmp_path):
    # lr 1e30: the first steps overflow, the loss turns nan within epoch 1. Nothing of that epoch may be
    # saved (a nan best.pt would export a model that ranks nothing), and the message must say what to change.
    run = tmp_path / "r"
    res = run_cli("train", "--data", str(tiny_data), "--out", str(run), "--lr", "1e30", *TINY_FLAGS)
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("error: training diverged in epoch 1: ") and "lower --lr (this run: 1e+30)" in res.stderr
    assert "Train again into the same --out" in res.stderr and "nothing of this run was kept" in res.stderr
    assert not run.exists()


def test_device_takes_one_gpu_of_several_by_name(tiny_data, tmp_path, monkeypatch, capsys):
    from trainer.__main__ import main

    # argparse offered auto|cpu|cuda only, so a machine's second GPU could not be chosen at all;
    # now the name passes the parser and the machine decides, before the run directory is touched
    out = tmp_path / "run"
    base = ["train", "--data", str(tiny_data), "--out", str(out), "--epochs", "1"]
    assert main([*base, "--device", "gpu"]) == 2
    assert "--device must be auto, cpu, cuda or cuda:N, got 'gpu'" in capsys.readouterr().err
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert main([*base, "--device", "cuda:2"]) == 2
    assert "--device cuda:2: this machine has 2 CUDA device(s)" in capsys.readouterr().err
    assert not out.exists()
    monkeypatch.undo()
    if not torch.cuda.is_available():
        assert main([*base, "--device", "cuda:1"]) == 2
        assert "--device cuda:1 requested but no CUDA device is available" in capsys.readouterr().err
        assert not out.exists()


def test_a_failed_export_after_training_says_what_is_kept_and_how_to_export(tiny_data, tmp_path, monkeypatch):
    import trainer.train as train_module
    from trainer.export import export_run

    def broken(run_dir):
        raise RuntimeError("Unknown type name 'SessionGRU'")  # as TorchScript says when the source changed on disk

    monkeypatch.setattr(train_module, "export_run", broken)
    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="Unknown type name") as exc:
        train(tiny_config(tiny_data, epochs=2), run, progress=False)
    assert any(f"python -m trainer export --run {run}" in note and "best.pt" in note for note in exc.value.__notes__)
    assert (run / "best.pt").exists() and not (run / "model.pt").exists()
    export_run(run)  # the way back the note names
    assert (run / "model.pt").exists()
