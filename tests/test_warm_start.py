"""`train --init-from RUN`: a run that starts from a finished run's weights, movie rows matched by id."""

from __future__ import annotations

import json
import pickle
import re
import shutil

import pandas as pd
import pytest
import torch

from conftest import run_cli, tiny_config
from trainer.config import ModelConfig, TrainConfig
from trainer.errors import ConfigError
from trainer.checkpoint import read_history
from trainer.export import BEST_FILE
from trainer.model import SessionGRU
from trainer.recommender import Recommender
from trainer.splits import load_data_dir
from trainer.train import train
from trainer.vocab import Vocab
from trainer.warm_start import warm_start

SHIFT = 100_000  # ids of the movies that are "new" in the renumbered data


def _write_splits(out, splits: dict) -> None:
    out.mkdir(parents=True)
    for name, split in splits.items():
        with open(out / f"{name}.pkl", "wb") as f:
            pickle.dump(split, f)


@pytest.fixture(scope="module")
def new_catalog(tiny_data, tmp_path_factory):
    """tiny_data with every fifth movie id replaced by an id the source run never saw, and one more
    new movie: the catalog of a later week (new titles, some old ones gone)."""
    splits = load_data_dir(tiny_data)
    changed = {m: m + SHIFT for m in sorted({m for s in splits.values() for ms in s.movies for m in ms})[::5]}
    out = tmp_path_factory.mktemp("data") / "renumbered"
    _write_splits(out, {name: (s.users, [[changed.get(m, m) for m in ms] for ms in s.movies])
                        for name, s in splits.items()})
    return out


def test_movie_rows_follow_their_ids_and_new_movies_start_as_in_a_cold_run(tiny_run, new_catalog):
    source = torch.load(tiny_run / BEST_FILE, weights_only=True)["model"]
    old = Vocab.load(tiny_run / "vocab.json")
    cfg = tiny_config(new_catalog)
    vocab = Vocab.build(load_data_dir(new_catalog)["train"].movies, cfg.min_count)
    cfg.model.vocab_size = vocab.size
    torch.manual_seed(7)
    cold = SessionGRU(cfg.model)
    torch.manual_seed(7)
    model = SessionGRU(cfg.model)
    line = warm_start(model, vocab, tiny_run)

    shared = [m for m in vocab.movies if m in old.index_of]
    new = [m for m in vocab.movies if m not in old.index_of]
    gone = [m for m in old.movies if m not in vocab.index_of]
    assert shared and new and gone and all(m > SHIFT for m in new)
    assert line.startswith(f"initialised from {tiny_run} (init_keep 1): {len(shared)} of this vocabulary's {len(vocab.movies)} "
                           f"movies carried over ({len(new)} new, {len(gone)} of its {len(old.movies)}")
    now = model.state_dict()
    for name in ("embedding.weight", "output.weight", "output.bias"):
        assert torch.equal(now[name][0], source[name][0])  # the start token
        for m in shared:
            assert torch.equal(now[name][vocab.index_of[m]], source[name][old.index_of[m]]), (name, m)
        for m in new:
            assert torch.equal(now[name][vocab.index_of[m]], cold.state_dict()[name][vocab.index_of[m]]), (name, m)
    for name in now:
        if name.startswith("gru."):
            assert torch.equal(now[name], source[name]), name


@pytest.mark.parametrize("tied", [False, True])
def test_keeping_a_share_mixes_each_weight_once_with_its_fresh_value(tiny_data, tmp_path, tied):
    source_run = tmp_path / "source"
    train(tiny_config(tiny_data, epochs=1, model=ModelConfig(emb_dim=16, hidden_dim=16, tied=tied)), source_run,
          progress=False)
    source = torch.load(source_run / BEST_FILE, weights_only=True)["model"]
    cfg = TrainConfig.load(source_run / "config.json")
    vocab = Vocab.load(source_run / "vocab.json")
    torch.manual_seed(5)
    fresh = SessionGRU(cfg.model).state_dict()
    torch.manual_seed(5)
    model = SessionGRU(cfg.model)
    warm_start(model, vocab, source_run, keep=0.25)
    for name, value in model.state_dict().items():
        assert torch.allclose(value, 0.25 * source[name] + 0.75 * fresh[name], atol=1e-6), name
    if tied:
        assert model.output.weight is model.embedding.weight


def test_a_run_started_from_another_answers_as_it_did_until_it_learns(tiny_data, tiny_run, tmp_path, capsys):
    # At a learning rate of 1e-12 the new run's weights stay the source's: its answers must be the source's.
    run = tmp_path / "warm"
    train(tiny_config(tiny_data, epochs=1, lr=1e-12, init_from=str(tiny_run), init_keep=1.0, seed=9), run,
          progress=False)
    assert f"initialised from {tiny_run} (init_keep 1)" in capsys.readouterr().out
    assert TrainConfig.load(run / "config.json").init_from == str(tiny_run)
    histories = [s[-12:] for s in load_data_dir(tiny_data)["train"].movies[:40]]
    warm, source = Recommender.from_run(run), Recommender.from_run(tiny_run)
    for history in histories:
        got, want = warm.recommend(history, k=10), source.recommend(history, k=10)
        assert got.movies == want.movies
        assert got.scores == pytest.approx(want.scores, abs=1e-4)
    # and a cold run at that rate does not (so the comparison above can fail)
    cold = tmp_path / "cold"
    train(tiny_config(tiny_data, epochs=1, lr=1e-12, seed=9), cold, progress=False)
    assert any(Recommender.from_run(cold).recommend(h, k=10).movies != source.recommend(h, k=10).movies
               for h in histories)


def test_a_source_that_learnt_this_runs_later_periods_is_refused_before_anything_is_written(tiny_data, tiny_run,
                                                                                            tmp_path):
    # An "earlier" data set whose training histories stop halfway: tiny_run trained on their continuations,
    # which this data holds out for validation and test.
    splits = load_data_dir(tiny_data)
    half = [ms[: len(ms) // 2] for ms in splits["train"].movies]
    _write_splits(tmp_path / "early", {
        "train": (splits["train"].users, half),
        "validate": (splits["train"].users, [ms[len(ms) // 2:][:3] for ms in splits["train"].movies]),
        "test": (splits["train"].users, [ms[len(ms) // 2:][3:6] for ms in splits["train"].movies])})
    res = run_cli("train", "--data", str(tmp_path / "early"), "--out", str(tmp_path / "r"), "--init-from", str(tiny_run),
                  "--emb-dim", "16", "--hidden-dim", "16", "--epochs", "1")
    assert res.returncode == 2, res.stderr
    assert f"--init-from {tiny_run} learnt from" in res.stderr and "come after their training history here" in res.stderr
    assert not (tmp_path / "r").exists()


def test_a_source_trained_from_a_relative_data_path_is_checked_from_another_directory(tiny_data, tmp_path):
    # The source learnt from "late" (a relative path, as users type it); the retrain runs elsewhere.
    shutil.copytree(tiny_data, tmp_path / "late")
    source = run_cli("train", "--data", "late", "--out", "source", "--emb-dim", "16", "--hidden-dim", "16",
                     "--epochs", "1", "--min-count", "2", cwd=tmp_path)
    assert source.returncode == 0, source.stderr
    splits = load_data_dir(tiny_data)
    half = [ms[: len(ms) // 2] for ms in splits["train"].movies]
    _write_splits(tmp_path / "elsewhere" / "early", {
        "train": (splits["train"].users, half),
        "validate": (splits["train"].users, [ms[len(ms) // 2:][:3] for ms in splits["train"].movies]),
        "test": (splits["train"].users, [ms[len(ms) // 2:][3:6] for ms in splits["train"].movies])})
    res = run_cli("train", "--data", "early", "--out", "r", "--init-from", str(tmp_path / "source"),
                  "--emb-dim", "16", "--hidden-dim", "16", "--epochs", "1", cwd=tmp_path / "elsewhere")
    assert res.returncode == 2, res.stderr
    assert "warning" not in res.stderr and "come after their training history here" in res.stderr
    assert not (tmp_path / "elsewhere" / "r").exists()


def test_a_source_whose_data_is_gone_is_used_with_a_warning(tiny_data, tiny_run, tmp_path, capsys):
    moved = tmp_path / "moved"
    shutil.copytree(tiny_run, moved)
    record = json.loads((moved / "data.json").read_text())
    (moved / "data.json").write_text(json.dumps({**record, "data": str(tmp_path / "deleted"),
                                                 "data_resolved": str(tmp_path / "deleted")}))
    train(tiny_config(tiny_data, epochs=1, init_from=str(moved)), tmp_path / "r", progress=False)
    captured = capsys.readouterr()
    assert f"warning: --init-from {moved}: the training data it recorded ({tmp_path / 'deleted'}) is not there" in captured.err
    assert f"initialised from {moved}" in captured.out


@pytest.mark.parametrize("flags, message", [
    (["--hidden-dim", "32"], r"its network has hidden_dim 16 \(this run: 32\); train with the settings it was "
                             r"trained with, --config .*config.json"),
    (["--layers", "2"], r"its network has layers 1 \(this run: 2\)"),
])
def test_another_network_shape_is_refused_by_name(tiny_data, tiny_run, tmp_path, flags, message):
    res = run_cli("train", "--data", str(tiny_data), "--out", str(tmp_path / "r"), "--init-from", str(tiny_run),
                  "--emb-dim", "16", "--hidden-dim", "16", *flags)
    assert res.returncode == 2 and res.stderr.startswith("error: --init-from") and re.search(message, res.stderr), res.stderr
    assert not (tmp_path / "r").exists()
    # the source's own config.json, as the message says, makes the shapes agree
    cfg = TrainConfig.load(tiny_run / "config.json")
    assert (cfg.model.emb_dim, cfg.model.hidden_dim, cfg.model.layers) == (16, 16, 1)


def test_sources_that_are_not_finished_gru_runs_are_refused(tiny_data, tiny_run, tmp_path):
    base = ["train", "--data", str(tiny_data), "--emb-dim", "16", "--hidden-dim", "16"]
    res = run_cli(*base, "--out", str(tmp_path / "r"), "--init-from", str(tmp_path / "nowhere"))
    assert res.returncode == 2 and "--init-from" in res.stderr and "no such run directory" in res.stderr
    res = run_cli(*base, "--out", str(tmp_path / "r"), "--init-from", str(tmp_path / "r"))
    assert res.returncode == 2 and "names the run being trained (--out)" in res.stderr
    assert run_cli("baseline", "--name", "pop", "--data", str(tiny_data), "--out", str(tmp_path / "pop")).returncode == 0
    res = run_cli(*base, "--out", str(tmp_path / "r"), "--init-from", str(tmp_path / "pop"))
    assert res.returncode == 2 and "is a 'pop' baseline run: it has no trained weights" in res.stderr
    unfinished = tmp_path / "unfinished"
    shutil.copytree(tiny_run, unfinished)
    (unfinished / BEST_FILE).unlink()
    res = run_cli(*base, "--out", str(tmp_path / "r"), "--init-from", str(unfinished))
    assert res.returncode == 2 and f"{unfinished} has no best.pt: it has not finished an epoch" in res.stderr
    assert not (tmp_path / "r").exists()


def test_init_keep_is_checked_and_needs_init_from(tiny_data, tiny_run, tmp_path):
    base = ["train", "--data", str(tiny_data), "--out", str(tmp_path / "r"), "--emb-dim", "16", "--hidden-dim", "16"]
    res = run_cli(*base, "--init-keep", "0.5")
    assert res.returncode == 2 and "--init-keep shapes the start from --init-from RUN" in res.stderr
    for bad in ("0", "1.5", "nan"):
        res = run_cli(*base, "--init-from", str(tiny_run), "--init-keep", bad)
        assert res.returncode == 2 and "--init-keep must be" in res.stderr, (bad, res.stderr)
    assert not (tmp_path / "r").exists()


def test_resume_keeps_the_start_it_had_and_needs_no_source_any_more(tiny_data, tiny_run, tmp_path):
    source, run = tmp_path / "source", tmp_path / "warm"
    shutil.copytree(tiny_run, source)
    train(tiny_config(tiny_data, epochs=1, init_from=str(source)), run, progress=False)
    res = run_cli("train", "--data", str(tiny_data), "--out", str(run), "--resume", "--init-from", str(tmp_path / "other"))
    assert res.returncode == 2 and "cannot change --init-from" in res.stderr
    shutil.rmtree(source)  # the checkpoint holds the weights the run goes on from
    res = run_cli("train", "--data", str(tiny_data), "--out", str(run), "--resume", "--epochs", "2")
    assert res.returncode == 0 and "initialised from" not in res.stdout and "warning" not in res.stderr, res.stderr
    assert len(read_history(run)) == 2
    with pytest.raises(ConfigError, match="no such run directory"):
        train(tiny_config(tiny_data, init_from=str(tmp_path / "gone")), tmp_path / "r2", progress=False)


def test_a_retrained_runs_config_file_does_not_carry_its_starting_weights(tiny_data, tiny_run, tmp_path):
    # --config repeats settings; which weights to start from is --init-from's alone, like the data is --data's
    warm = tmp_path / "warm"
    train(tiny_config(tiny_data, epochs=1, init_from=str(tiny_run)), warm, progress=False)
    res = run_cli("train", "--data", str(tiny_data), "--out", str(tmp_path / "again"), "--config", str(warm / "config.json"))
    assert res.returncode == 0, res.stderr
    assert "initialised from" not in res.stdout
    assert TrainConfig.load(tmp_path / "again" / "config.json").init_from == ""


def test_text_user_ids_are_matched_by_text_though_their_numbers_shift(tmp_path):
    # prepare --text-user-ids numbers users in sorted order, so users who join later shift the numbers:
    # the old run's user 1 is not this data's user 1, and only the text ids show that it learnt the later periods.
    from trainer.synthetic import synthetic_log

    log = synthetic_log(n_users=120, n_movies=80, n_clusters=3, n_series=5, seed=2)
    log["user"] = [f"u{u:04d}" for u in log["user"]]
    log[["user", "item", "time"]].to_csv(tmp_path / "then.tsv", sep="\t", index=False)
    joined = log.head(40).assign(user=[f"a{i % 7}" for i in range(40)])  # sort before every "u..." id
    pd.concat([log, joined])[["user", "item", "time"]].to_csv(tmp_path / "now.tsv", sep="\t", index=False)
    flags = ["--user-col", "user", "--item-col", "item", "--time-col", "time", "--text-user-ids"]
    # the old run learnt from 90% of the log; this run trains on 80% and holds out the rest
    assert run_cli("prepare", "--input", str(tmp_path / "then.tsv"), "--out", str(tmp_path / "old"), *flags,
                   "--val-frac", "0.05", "--test-frac", "0.05").returncode == 0
    assert run_cli("prepare", "--input", str(tmp_path / "now.tsv"), "--out", str(tmp_path / "new"), *flags).returncode == 0
    train(tiny_config(tmp_path / "old", epochs=1), tmp_path / "old-run", progress=False)
    with pytest.raises(ConfigError, match=r"learnt from [\d,]+ movies of [\d,]+ users that come after"):
        train(tiny_config(tmp_path / "new", epochs=1, init_from=str(tmp_path / "old-run")), tmp_path / "r",
              progress=False)
    assert not (tmp_path / "r").exists()


def test_users_named_one_way_there_and_another_here_are_a_warning_not_a_guess(tiny_data, tiny_run, tmp_path, capsys):
    named = tmp_path / "named"
    shutil.copytree(tiny_data, named)
    users = load_data_dir(tiny_data)["train"].users
    (named / "users.tsv").write_text("user\tname\n" + "".join(f"{u}\tx{u}\n" for u in users))
    train(tiny_config(named, epochs=1, init_from=str(tiny_run)), tmp_path / "r", progress=False)
    err = capsys.readouterr().err
    assert f"warning: --init-from {tiny_run}: one data set names its users with text ids (users.tsv)" in err


def test_histories_that_do_not_line_up_are_a_warning(tiny_run, new_catalog, tmp_path, capsys):
    # every fifth movie renumbered: most users' histories here no longer begin like the source's
    train(tiny_config(new_catalog, epochs=1, init_from=str(tiny_run)), tmp_path / "r", progress=False)
    err = capsys.readouterr().err
    assert re.search(rf"warning: --init-from {re.escape(str(tiny_run))}: only [\d,]+ of the [\d,]+ users both data "
                     r"sets hold have histories where one begins the other", err), err


def test_an_earlier_cut_of_the_same_log_is_checked_without_a_warning(tiny_data, tiny_run, tmp_path, capsys):
    train(tiny_config(tiny_data, epochs=1, init_from=str(tiny_run)), tmp_path / "r", progress=False)
    assert "warning" not in capsys.readouterr().err
