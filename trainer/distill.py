"""Distillation: one GRU trained towards other runs' next-movie distributions as well as the data.

Averaging the predictions of three ML-1M seeds beats each of them (test ndcg@10 0.1799 against
0.1685-0.1750, BENCHMARKS.md), but serving that ensemble costs one GRU pass per member. With
`train --distill RUN [RUN ...]` a single GRU learns from the teachers instead (Hinton, Vinyals &
Dean 2015, "Distilling the Knowledge in a Neural Network"): at each training position the loss is
(1 - w) x the usual cross-entropy on the next movie + w x the cross-entropy against the teachers'
distribution there. That distribution is the teachers' mean log-probability, as `ensemble` serves
it but without the teachers' popularity priors (pop_prior.py: the student adds its own when it
ranks), kept for its top K movies and renormalised. It is computed once, before the first epoch: K
int32 indices and float16 probabilities per training position (ML-1M, K = 50: about 300 MB).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch.nn.utils.rnn import pad_sequence

from .batching import IGNORE_INDEX
from .data_identity import DATA_FILE, learned_from
from .errors import ConfigError, RunDirError
from .export import ensemble_members, load_best_model
from .run_kind import ENSEMBLE_FILE, not_a_trained_gru_run
from .recommend import START_INDEX
from .vocab import VOCAB_FILE, Vocab

#: Per training sequence: the teachers' top-K movie indices [T, K] and their probabilities [T, K].
SoftTargets = list[tuple[torch.Tensor, torch.Tensor]]


def teacher_runs(paths: list[str]) -> list[Path]:
    """The GRU runs behind `paths`: an ensemble run stands for its members."""
    runs = []
    for path in map(Path, paths):
        if (path / ENSEMBLE_FILE).exists():
            runs += ensemble_members(path)
        else:
            runs.append(path)
    return runs


def soft_targets(paths: list[str], seqs: list[torch.Tensor], vocab: Vocab, k: int, device: torch.device,
                 batch_size: int = 128) -> SoftTargets:
    """The teachers' top-`k` next-movie distribution at every position of every training sequence.

    Args:
        paths: teacher run directories (each needs `best.pt`; an ensemble run gives its members).
        seqs: the training sequences, as `batching.training_sequences` makes them.
        vocab: the student's vocabulary; every teacher must have been trained on the same one.
        k: movies kept per position.
        device: where the teachers run.
        batch_size: sequences per teacher forward pass.

    Returns:
        For each sequence, `(indices IntTensor[T, k], probabilities HalfTensor[T, k])`, T its
        number of targets; each row's probabilities sum to 1. Copies of one sequence (the same
        tensor, listed again by `--user-weight`) share one pair.

    Raises:
        RunDirError: a teacher run has no best checkpoint or another vocabulary.
    """
    members = []
    for run in teacher_runs(paths):
        theirs = Vocab.load(run / VOCAB_FILE).movies
        if theirs != vocab.movies:
            raise RunDirError(f"--distill {run}: trained on another vocabulary than this run's data "
                              f"({len(theirs)} vs {len(vocab.movies)} movies)")
        members.append(load_best_model(run)[0].to(device))
    k = min(k, vocab.size)
    started = time.perf_counter()
    out: SoftTargets = [(torch.empty(0), torch.empty(0))] * len(seqs)
    # `--user-weight` lists a heavy user's window several times as one tensor: the teachers see it
    # once and its copies share the result (time and memory both scale with the distinct windows).
    one = {id(s): i for i, s in enumerate(seqs)}  # an index per distinct tensor
    order = sorted(one.values(), key=lambda i: len(seqs[i]))  # similar lengths, little padding
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            ids = order[b : b + batch_size]
            inputs = pad_sequence([seqs[i][:-1] for i in ids], batch_first=True, padding_value=START_INDEX).to(device)
            # forward(), not predict_next(): the trained scores, without the teacher's prior (module docstring)
            logp = sum(torch.log_softmax(m(inputs).float(), -1) for m in members) / len(members)
            top = logp.topk(k, dim=-1)
            probs = torch.softmax(top.values, -1)
            for j, i in enumerate(ids):
                n = len(seqs[i]) - 1
                out[i] = (top.indices[j, :n].to(torch.int32).cpu(), probs[j, :n].half().cpu())
    for i, s in enumerate(seqs):
        out[i] = out[one[id(s)]]
    positions = sum(len(seqs[i]) - 1 for i in one.values())
    print(f"soft targets from {len(members)} teachers: {positions:,} positions x top {k} "
          f"({positions * k * 6 / 2**20:,.0f} MB) in {time.perf_counter() - started:.0f} s")
    return out


def batch_targets(soft: SoftTargets, ids: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch's soft targets, padded like its targets: `(LongTensor[B, T, k], FloatTensor[B, T, k])`."""
    rows = [soft[i] for i in ids.tolist()]
    indices = pad_sequence([r[0] for r in rows], batch_first=True).long()
    probs = pad_sequence([r[1] for r in rows], batch_first=True).float()  # padded positions weigh 0
    return indices.to(device), probs.to(device)


def distill_loss(logits: torch.Tensor, targets: torch.Tensor, soft_indices: torch.Tensor, soft_probs: torch.Tensor,
                 weight: float, label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean over real positions of (1 - weight) x cross-entropy + weight x teacher cross-entropy.

    Args:
        logits: FloatTensor[B, T, V], the student's.
        targets: LongTensor[B, T], IGNORE_INDEX at padding.
        soft_indices: LongTensor[B, T, k], the teachers' top movies.
        soft_probs: FloatTensor[B, T, k], their probabilities (rows sum to 1).
        weight: the teachers' share, in [0, 1].
        label_smoothing: as `nn.CrossEntropyLoss`'s, for the data term.

    Returns:
        A scalar; at weight 0 it equals `nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX,
        label_smoothing=label_smoothing)` on the flattened batch.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"distillation weight must be in [0, 1], got {weight}")
    logp = torch.log_softmax(logits.float(), -1)
    real = targets != IGNORE_INDEX
    nll = -logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    # the smoothing term reduces the whole [B, T, V] tensor (and back-propagates through it): only when used
    data = nll if label_smoothing == 0 else (1 - label_smoothing) * nll - label_smoothing * logp.mean(-1)
    teacher = -(soft_probs * logp.gather(-1, soft_indices)).sum(-1)
    per_position = (1 - weight) * data + weight * teacher
    return per_position[real].sum() / real.sum().clamp(min=1)


def check_teachers(paths: list[str], data_dir: Path | None = None) -> None:
    """Fail before the run directory is made when a teacher is not a trained GRU run, or (given the
    student's `data_dir`) learned from other split files than the student will."""
    for run in teacher_runs(paths):
        try:
            problem = not_a_trained_gru_run(run)
        except RunDirError as exc:
            problem = str(exc)
        if problem is not None:
            raise ConfigError(f"--distill: {problem}; a teacher must be a trained GRU run (or an ensemble of them)")
        if data_dir is None:
            continue
        try:
            same = learned_from(run, data_dir)
        except OSError:  # no split files: loading the data says so, by name
            return
        if same is False:
            # A teacher trained on other splits (say, one whose training period held this run's
            # validation movies) would carry them into this run's targets.
            raise ConfigError(f"--distill {run}: learned from other split files than {data_dir} holds "
                              f"(its {DATA_FILE}); a teacher must learn from the student's own train.pkl and validate.pkl")
