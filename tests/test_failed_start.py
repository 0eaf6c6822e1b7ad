"""A new run that fails before its first checkpoint leaves its directory as it found it (absent or
empty), so the same --out works once the problem is fixed; a run with finished epochs keeps them."""

from __future__ import annotations

import pickle

import pytest

from conftest import run_cli
from trainer.errors import SessrecError
from trainer.run_lock import claim_run_dir


def no_validation_targets(src, dst):
    """`src`'s splits with every validation list emptied: training refuses it after reading it."""
    dst.mkdir()
    for name in ("train", "test", "validate"):
        users, movies = pickle.loads((src / f"{name}.pkl").read_bytes())
        if name == "validate":
            movies = [[] for _ in movies]
        (dst / f"{name}.pkl").write_bytes(pickle.dumps((users, movies)))
    return dst


def test_a_training_refused_by_its_data_leaves_no_directory_and_the_same_out_trains(tiny_data, tmp_path):
    # Before: config.json, data.json and vocab.json stayed, and the next try into the same --out was
    # refused as "not empty; use --resume", though there was nothing to resume.
    bad = no_validation_targets(tiny_data, tmp_path / "bad")
    run = tmp_path / "run"
    res = run_cli("train", "--data", str(bad), "--out", str(run), "--epochs", "1")
    assert res.returncode == 2 and "no user has a validation target" in res.stderr
    assert not run.exists()
    res = run_cli("train", "--data", str(tiny_data), "--out", str(run), "--epochs", "1", "--hidden-dim", "16",
                  "--emb-dim", "16", "--max-len", "20")
    assert res.returncode == 0, res.stderr


def test_an_empty_directory_given_as_out_stays_and_stays_empty(tmp_path):
    out = tmp_path / "given"
    out.mkdir()
    with pytest.raises(SessrecError, match="boom"):
        with claim_run_dir(out, resume=False):
            (out / "config.json").write_text("{}")
            (out / "sub").mkdir()
            (out / "sub" / "x").write_text("x")
            raise SessrecError("boom")
    assert out.is_dir() and list(out.iterdir()) == []


def test_a_run_with_a_finished_epoch_keeps_its_files_when_it_fails(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        with claim_run_dir(out, resume=False):
            (out / "config.json").write_text("{}")
            (out / "ckpt.pt").write_bytes(b"epoch 1")  # what --resume continues from
            raise KeyboardInterrupt
    assert sorted(p.name for p in out.iterdir()) == ["ckpt.pt", "config.json"]


def test_a_resumed_run_that_fails_is_left_alone(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text('{"kind": "gru"}')
    with pytest.raises(SessrecError):
        with claim_run_dir(out, resume=True):
            raise SessrecError("boom")
    assert (out / "config.json").exists()


def test_a_baseline_that_fails_midway_leaves_nothing(tiny_data, tmp_path, monkeypatch):
    import trainer.baseline_run as baseline_run

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "pop" / "model.pt"))

    monkeypatch.setattr(baseline_run, "write_text_atomic", full_disk)
    with pytest.raises(OSError):
        baseline_run.run_baseline("pop", tiny_data, tmp_path / "pop")
    assert not (tmp_path / "pop").exists()


def test_a_model_too_big_for_memory_is_one_error_line_and_leaves_nothing(tiny_data, tmp_path):
    # Before: a RuntimeError traceback from torch's allocator (here: 12 TB of weights asked for).
    run = tmp_path / "run"
    res = run_cli("train", "--data", str(tiny_data), "--out", str(run), "--epochs", "1", "--hidden-dim", "1000000")
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert res.stderr.startswith("error: out of memory (") and "a smaller --batch-size, --hidden-dim" in res.stderr
    assert not run.exists()
