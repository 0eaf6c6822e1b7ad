"""`train --distill`: the loss, the teachers' soft targets, and a student that learns from them."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from torch import nn

from conftest import run_cli, tiny_config
from trainer.batching import IGNORE_INDEX, training_sequences
from trainer.checkpoint import read_history
from trainer.distill import distill_loss, soft_targets
from trainer.ensemble import build_ensemble
from trainer.errors import RunDirError
from trainer.export import load_best_model, load_scripted
from trainer.recommend import pad_batch
from trainer.splits import history_for, load_data_dir
from trainer.train import train
from trainer.vocab import Vocab


@pytest.fixture(scope="module")
def second_run(tiny_data, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "second"
    train(tiny_config(tiny_data, seed=4), run, progress=False)
    return run


def _batch(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, 5, 11, generator=gen, requires_grad=True)
    targets = torch.randint(0, 11, (3, 5), generator=gen)
    targets[1, 3:] = IGNORE_INDEX
    targets[2, 1:] = IGNORE_INDEX
    soft_idx = torch.stack([torch.randperm(11, generator=gen)[:4] for _ in range(15)]).view(3, 5, 4)
    soft_p = torch.softmax(torch.randn(3, 5, 4, generator=gen), -1)
    return logits, targets, soft_idx, soft_p


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_weight_zero_is_the_plain_cross_entropy(smoothing):
    logits, targets, soft_idx, soft_p = _batch()
    want = nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX, label_smoothing=smoothing)(logits.flatten(0, 1), targets.flatten())
    got = distill_loss(logits, targets, soft_idx, soft_p, weight=0.0, label_smoothing=smoothing)
    assert torch.allclose(got, want, atol=1e-6)


def test_teacher_term_is_the_cross_entropy_against_the_soft_targets_at_real_positions():
    logits, targets, soft_idx, soft_p = _batch(1)
    logq = torch.log_softmax(logits, -1)
    real = [(b, t) for b in range(3) for t in range(5) if targets[b, t] != IGNORE_INDEX]
    teacher = sum(-(soft_p[b, t] * logq[b, t, soft_idx[b, t]]).sum() for b, t in real) / len(real)
    data = sum(-logq[b, t, targets[b, t]] for b, t in real) / len(real)
    assert torch.allclose(distill_loss(logits, targets, soft_idx, soft_p, weight=1.0), teacher, atol=1e-6)
    assert torch.allclose(distill_loss(logits, targets, soft_idx, soft_p, weight=0.3), 0.7 * data + 0.3 * teacher, atol=1e-6)
    with pytest.raises(ValueError, match="weight must be in"):
        distill_loss(logits, targets, soft_idx, soft_p, weight=1.5)


def test_soft_targets_are_the_top_movies_the_ensemble_serves(tiny_data, tiny_run, second_run, tmp_path):
    ens = tmp_path / "ens"
    build_ensemble([tiny_run, second_run], ens)
    vocab = Vocab.load(tiny_run / "vocab.json")
    seqs = training_sequences(load_data_dir(tiny_data)["train"].movies, vocab, 40, "all")[:20]
    soft = soft_targets([str(ens)], seqs, vocab, k=5, device=torch.device("cpu"), batch_size=7)
    served = load_scripted(ens / "model.pt")
    for seq, (idx, probs) in zip(seqs, soft):
        assert idx.shape == probs.shape == (len(seq) - 1, 5)
        assert torch.allclose(probs.float().sum(1), torch.ones(len(seq) - 1), atol=1e-2)
        prefixes = [seq[: t + 1].tolist() for t in range(len(seq) - 1)]
        with torch.inference_mode():
            scores = served.predict_next(*pad_batch(prefixes))  # the ensemble's mean log-probabilities
        top = scores.topk(5, dim=1)
        assert torch.equal(idx.long(), top.indices)
        assert torch.allclose(probs.float(), torch.softmax(top.values, 1), atol=2e-3)


def test_copies_of_a_heavy_users_window_are_run_once_and_share_their_targets(tiny_data, tiny_run):
    vocab = Vocab.load(tiny_run / "vocab.json")
    seqs = training_sequences(load_data_dir(tiny_data)["train"].movies, vocab, 5, "last", user_weight=1.0)
    distinct = list({id(s): s for s in seqs}.values())
    assert len(distinct) < len(seqs)  # the data has users with several copies
    soft = soft_targets([str(tiny_run)], seqs, vocab, k=5, device=torch.device("cpu"), batch_size=7)
    alone = dict(zip(map(id, distinct), soft_targets([str(tiny_run)], distinct, vocab, k=5,
                                                     device=torch.device("cpu"), batch_size=7)))
    for seq, (idx, probs) in zip(seqs, soft):
        want_idx, want_probs = alone[id(seq)]
        assert torch.equal(idx, want_idx) and torch.equal(probs, want_probs)
    copies = [i for i in range(1, len(seqs)) if seqs[i] is seqs[i - 1]]
    assert copies and all(soft[i][0] is soft[i - 1][0] for i in copies)


def _top10_agreement(teacher_run, student_run, data):
    """Mean share of the teacher's top 10 next movies that the student also ranks in its top 10,
    over validation histories: what the ranking sees of the teacher."""
    teacher, _ = load_best_model(teacher_run)
    student, cfg = load_best_model(student_run)
    vocab = Vocab.load(student_run / "vocab.json")
    splits = load_data_dir(data)
    histories = [([0] + vocab.encode(h))[-cfg.max_len:] for h in history_for(splits, "validate").values()][:200]
    movies, lens = pad_batch(histories)
    with torch.inference_mode():
        want = teacher.predict_next(movies, lens).topk(10, dim=1).indices
        got = student.predict_next(movies, lens).topk(10, dim=1).indices
    return sum(len(set(w) & set(g)) for w, g in zip(want.tolist(), got.tolist())) / (10 * len(histories))


def test_a_distilled_student_moves_towards_its_teacher_and_resumes_exactly(tiny_data, tiny_run, tmp_path):
    plain, distilled, resumed = tmp_path / "plain", tmp_path / "distilled", tmp_path / "resumed"
    common = dict(seed=5, lr=0.01)
    train(tiny_config(tiny_data, **common), plain, progress=False)
    flags = dict(distill=[str(tiny_run)], distill_weight=0.9, distill_k=20)
    train(tiny_config(tiny_data, **common, **flags), distilled, progress=False)
    saved = json.loads((distilled / "config.json").read_text())
    assert saved["distill"] == [str(tiny_run)] and saved["distill_weight"] == 0.9
    assert _top10_agreement(tiny_run, distilled, tiny_data) > _top10_agreement(tiny_run, plain, tiny_data) + 0.1
    # the soft targets are rebuilt on resume, so a resumed run retraces the straight one
    train(tiny_config(tiny_data, **common, **flags, epochs=1), resumed, progress=False)
    train(tiny_config(tiny_data, **common, **flags), resumed, resume=True, progress=False)
    assert [r["val"] for r in read_history(resumed)] == [r["val"] for r in read_history(distilled)]


def test_bad_teachers_and_flags_are_cli_errors_that_make_no_run_directory(tiny_data, tiny_run, tmp_path):
    out = tmp_path / "r"
    res = run_cli("train", "--data", str(tiny_data), "--out", str(out), "--distill", str(tmp_path / "nowhere"))
    assert res.returncode == 2 and "--distill: " in res.stderr and "nowhere: no such run directory" in res.stderr, res.stderr
    assert not out.exists()
    res = run_cli("train", "--data", str(tiny_data), "--out", str(out), "--distill-weight", "0.5")
    assert res.returncode == 2 and "need --distill" in res.stderr, res.stderr
    res = run_cli("train", "--data", str(tiny_data), "--out", str(out), "--distill", str(tiny_run), "--distill-weight", "0")
    assert res.returncode == 2 and "--distill-weight must be in (0, 1]" in res.stderr, res.stderr
    res = run_cli("train", "--data", str(tiny_data), "--out", str(out), "--distill", str(tiny_run), "--shuffle-window", "9")
    assert res.returncode == 2 and "--shuffle-window 9 cannot be combined with --distill" in res.stderr, res.stderr
    res = run_cli("train", "--data", str(tiny_data), "--out", str(out), "--distill", str(tiny_run), "--item-dropout", "0.2")
    assert res.returncode == 2 and "--item-dropout 0.2 cannot be combined with --distill" in res.stderr, res.stderr
    assert not out.exists()


def test_a_teacher_with_another_vocabulary_is_refused(tiny_data, tiny_run, tmp_path):
    with pytest.raises(RunDirError, match="another vocabulary"):
        train(tiny_config(tiny_data, min_count=30, distill=[str(tiny_run)]), tmp_path / "r", progress=False)


def test_a_teacher_that_learned_from_other_splits_is_refused(tiny_data, tiny_run, tmp_path):
    # Same movies (so the vocabulary check passes), other validation period: a teacher that learned
    # from other splits would carry them into the student's targets.
    import shutil

    from trainer.splits import Split, load_data_dir, write_data_dir

    data = shutil.copytree(tiny_data, tmp_path / "data")
    splits = load_data_dir(data)
    val = splits["validate"]
    splits["validate"] = Split(val.users[1:], val.movies[1:])
    write_data_dir(splits, data)
    out = tmp_path / "student"
    res = run_cli("train", "--data", str(data), "--out", str(out), "--distill", str(tiny_run))
    assert res.returncode == 2, res.stderr
    assert f"error: --distill {tiny_run}: learned from other split files than {data} holds" in res.stderr
    assert not out.exists()


def test_a_teachers_popularity_prior_stays_out_of_its_soft_targets(tiny_data, tiny_run, tmp_path):
    # The student adds its own prior when it ranks; targets that held the teacher's would count it twice.
    with_prior = tmp_path / "with_prior"
    shutil.copytree(tiny_run, with_prior)
    state = torch.load(with_prior / "best.pt", weights_only=True)
    state["config"]["pop_prior"] = 0.5
    torch.save(state, with_prior / "best.pt")
    assert load_best_model(with_prior)[0].prior.abs().sum() > 0  # its answers do carry the prior
    vocab = Vocab.load(tiny_run / "vocab.json")
    seqs = training_sequences(load_data_dir(tiny_data)["train"].movies, vocab, 40, "all")[:20]
    without = soft_targets([str(tiny_run)], seqs, vocab, k=5, device=torch.device("cpu"))
    got = soft_targets([str(with_prior)], seqs, vocab, k=5, device=torch.device("cpu"))
    for (want_idx, want_p), (idx, p) in zip(without, got):
        assert torch.equal(idx, want_idx) and torch.equal(p, want_p)
