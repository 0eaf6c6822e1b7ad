"""Full-catalog evaluation of any scorer with the exact masking and top-k the handler serves.

No sampled negatives: every movie of the vocabulary is ranked for every user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable

import torch

from .catalog_metrics import catalog_metrics
from .errors import ConfigError
from .metrics import TARGET_PAD, ranking_metrics
from .recommend import encode_history, model_input, pad_batch, recommend
from .splits import Split
from .vocab import Vocab

#: (movies LongTensor[B,T], lens LongTensor[B]) -> scores FloatTensor[B,V]
Scorer = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class EvalCases:
    """The users of one split that have targets, with model inputs and what to mask.

    Each row (input, mask, targets) is one case; with `owner` None there is one case per user, else
    `owner[i]` is the index in `users` of case i's user, and a user's metrics are their cases' mean.
    """

    users: list[int]
    inputs: list[list[int]]
    seen: Sequence[list[int]]  # what each case masks
    targets: torch.Tensor  # LongTensor[N, M], TARGET_PAD-padded in-vocab target indices
    n_targets: torch.Tensor  # LongTensor[N], whole target-set sizes (OOV included)
    skipped_users: int
    owner: torch.Tensor | None = None  # LongTensor[N]: each case's user, by index in `users`

    def targets_per_user(self) -> list[int]:
        """Each user's target count: their target set's size, or with `owner` their number of events."""
        if self.owner is None:
            return self.n_targets.tolist()
        return torch.bincount(self.owner, minlength=len(self.users)).tolist()


def build_cases(history: dict[int, list[int]], split: Split, vocab: Vocab, max_len: int) -> EvalCases:
    """Inputs, masks and target sets for every user of `split` with a non-empty target set.

    A user's targets are the SET of movies in the split (repeats collapse); out-of-vocabulary
    targets stay in the set as unreachable misses.
    """
    users, inputs, seen, target_rows, n_targets = [], [], [], [], []
    skipped = 0
    for user, movies in zip(split.users, split.movies):
        target_set = list(dict.fromkeys(movies))
        if not target_set:
            skipped += 1
            continue
        inp, hist = encode_history(history.get(user, []), vocab.index_of, max_len)
        users.append(user)
        inputs.append(inp)
        seen.append(hist)
        target_rows.append(vocab.encode(target_set))
        n_targets.append(len(target_set))
    width = max((len(r) for r in target_rows), default=0) or 1
    targets = torch.full((len(users), width), TARGET_PAD, dtype=torch.long)
    for row, idx in enumerate(target_rows):
        targets[row, : len(idx)] = torch.tensor(idx, dtype=torch.long)
    return EvalCases(users, inputs, seen, targets, torch.tensor(n_targets, dtype=torch.long), skipped)


class Prefixes(Sequence[list[int]]):
    """Case i's mask, the first `ends[i]` indices of its user's row, made when asked for (rank_cases asks a
    batch at a time): a split of 100,000 events would otherwise hold 100,000 copies of long histories."""

    def __init__(self, rows: list[list[int]], owner: list[int], ends: list[int]) -> None:
        self.rows, self.owner, self.ends = rows, owner, ends

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, i):  # type: ignore[override]  (an int, or a slice as lists take)
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self.rows[self.owner[i]][: self.ends[i]]


def build_next_cases(history: dict[int, list[int]], split: Split, vocab: Vocab, max_len: int) -> EvalCases:
    """One case per movie of `split`: predicted from everything before it, the history and then the
    split's earlier movies, as a session is answered after each event.

    Each case's input and mask are what `encode_history` makes of everything before its movie; its
    target is that one movie. The whole history so far is masked, as in serving, so a movie the user
    saw before is a certain miss, and so is an out-of-vocabulary one.
    """
    users, inputs, rows, owner, ends, target_rows = [], [], [], [], [], []
    skipped = 0
    known = vocab.index_of
    for user, movies in zip(split.users, split.movies):
        if not movies:
            skipped += 1
            continue
        row = [known[m] for m in history.get(user, []) if m in known]  # the in-vocabulary history so far
        for movie in movies:
            inputs.append(model_input(row, max_len))
            owner.append(len(users))
            ends.append(len(row))
            target_rows.append([known.get(movie, TARGET_PAD)])
            if movie in known:
                row.append(known[movie])
        users.append(user)
        rows.append(row)
    targets = torch.tensor(target_rows, dtype=torch.long).reshape(len(target_rows), 1)
    return EvalCases(users, inputs, Prefixes(rows, owner, ends), targets, torch.ones(len(target_rows), dtype=torch.long),
                     skipped, torch.tensor(owner, dtype=torch.long))


def protocol_cases(protocol: str, history: dict[int, list[int]], split: Split, vocab: Vocab,
                   max_len: int) -> EvalCases:
    """The cases of `split` under `protocol` (config.PROTOCOLS): "set", `build_cases`; "next", `build_next_cases`.
    What `evaluate --protocol` scores and what training validates on with `--select-protocol`."""
    return (build_next_cases if protocol == "next" else build_cases)(history, split, vocab, max_len)


def rank_cases(scorer: Scorer, inputs: list[list[int]], seen: Sequence[Sequence[int]], k: int,
               batch_size: int = 256, allowed: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k indices and scores for each input, in input order: `(LongTensor[N,k], FloatTensor[N,k])`;
    with `allowed`, ranked among those indices only (the served `candidates`, recommend.keep_only).

    Inputs are batched by length so little time is spent on padding.
    """
    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
    ranked = torch.empty((len(inputs), k), dtype=torch.long)
    values = torch.empty((len(inputs), k), dtype=torch.float32)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            movies, lens = pad_batch([inputs[i] for i in rows])
            idx, val = recommend(scorer(movies, lens).cpu(), [seen[i] for i in rows], k,
                                 None if allowed is None else [allowed] * len(rows))
            ranked[rows], values[rows] = idx, val
    return ranked, values


def check_ranking_width(k: int, catalog: int, what: str) -> None:
    """Refuse a map@k cut-off past the catalog (past 20, the widest fixed cut): every case is ranked
    max(k, 20) wide, so k = 10**9 would ask for terabytes to rank movies that do not exist."""
    if k > max(20, catalog):
        raise ConfigError(f"{what} {k} is past the catalog of {catalog:,} movies: map@k cannot rank more movies than "
                          f"there are (use {what} {max(20, catalog)} or less)")


def per_user_metrics(scorer: Scorer, cases: EvalCases, k: int = 20, batch_size: int = 256) -> dict[str, torch.Tensor]:
    """Every metric for every user of `cases`: name -> FloatTensor[N], in `cases.users` order."""
    return _ranked_and_metrics(scorer, cases, k, batch_size)[1]


def _ranked_and_metrics(scorer: Scorer, cases: EvalCases, k: int, batch_size: int,
                        allowed: Sequence[int] | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Every case's top max(k, 20), and `per_user_metrics` from them."""
    ranked, _ = rank_cases(scorer, cases.inputs, cases.seen, max(k, 20), batch_size, allowed)
    values = ranking_metrics(ranked, cases.targets, cases.n_targets, k)
    if cases.owner is None:
        return ranked, values
    # Several cases per user: each user's mean, so users count alike however many events they have.
    counts = torch.bincount(cases.owner, minlength=len(cases.users)).to(torch.float64)
    return ranked, {name: torch.zeros(len(cases.users), dtype=torch.float64).index_add_(0, cases.owner,
                                                                                        v.to(torch.float64))
                    / counts for name, v in values.items()}


def evaluate_scorer(scorer: Scorer, cases: EvalCases, k: int = 20, batch_size: int = 256,
                    per_user: dict[str, torch.Tensor] | None = None,
                    counts: Sequence[int] | None = None, allowed: Sequence[int] | None = None) -> dict[str, float]:
    """Mean metrics over `cases` plus `users` and `skipped_users` counts.

    `per_user`, when given, is filled with the per-user values the means come from. With the
    vocabulary's training `counts`, the lists' catalog figures follow (catalog_metrics.py: coverage,
    Gini index, popularity, over every case's list). With `allowed`, every list is ranked among those
    indices only; targets outside them stay in the target sets, as misses.
    """
    if not cases.users:
        return {"users": 0, "skipped_users": cases.skipped_users}
    ranked, values = _ranked_and_metrics(scorer, cases, k, batch_size, allowed)
    if per_user is not None:
        per_user.update(values)
    result: dict[str, float] = {name: float(v.mean()) for name, v in values.items()}
    if counts is not None:
        result.update(catalog_metrics(ranked, counts))
    result["users"] = len(cases.users)
    result["skipped_users"] = cases.skipped_users
    return result
