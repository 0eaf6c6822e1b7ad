"""Non-neural baselines, exported as TorchScript with the GRU's `predict_next` interface so that
`evaluate` (and the TorchServe handler) score them exactly like the GRU: same inputs, same masking.

Every baseline adds a tiny popularity prior: it breaks score ties towards popular movies and gives
cold-start users (start token only) the most-popular list.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

PRIOR_SCALE = 1e-6  # far below any real vote, so it only orders otherwise-equal movies


def popularity(seqs: list[list[int]], vocab_size: int) -> torch.Tensor:
    """Training counts per index, scaled to [0, 1]; the start token gets 0."""
    counts = np.zeros(vocab_size)
    for seq in seqs:
        np.add.at(counts, np.asarray(seq, dtype=np.int64), 1.0)
    counts[0] = 0.0
    return torch.tensor(counts / max(counts.max(), 1.0), dtype=torch.float32)


class PopularityModel(nn.Module):
    """`pop`: the same most-popular scores for everyone (seen movies are masked downstream)."""

    def __init__(self, pop: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("pop", pop)

    def forward(self, movies: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        return self.predict_next(movies, lens)

    @torch.jit.export
    def predict_next(self, movies: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        return self.pop.unsqueeze(0).expand(movies.shape[0], -1).clone()


def sequential_rules(seqs: list[list[int]], vocab_size: int, window: int) -> torch.Tensor:
    """Rule weights R[a, b] = sum over "a, then b within `window` steps" of 1/gap (Ludewig & Jannach)."""
    rules = np.zeros((vocab_size, vocab_size), dtype=np.float32)
    for seq in seqs:
        arr = np.asarray(seq, dtype=np.int64)
        for gap in range(1, min(window, len(arr) - 1) + 1):
            np.add.at(rules, (arr[:-gap], arr[gap:]), 1.0 / gap)
    rules[0] = 0.0
    return torch.from_numpy(rules)


class SequentialRulesModel(nn.Module):
    """`sr`: rule rows of the last `n_last` movies, the most recent weighted most (1, 1/2, ...)."""

    def __init__(self, rules: torch.Tensor, pop: torch.Tensor, n_last: int) -> None:
        super().__init__()
        self.register_buffer("rules", rules)
        self.register_buffer("prior", pop * PRIOR_SCALE)
        self.n_last = n_last

    def forward(self, movies: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        return self.predict_next(movies, lens)

    @torch.jit.export
    def predict_next(self, movies: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        rows = torch.arange(movies.shape[0])
        scores = self.prior.unsqueeze(0).repeat(movies.shape[0], 1)
        for back in range(self.n_last):
            pos = lens - 1 - back
            item = movies[rows, pos.clamp(min=0)]
            weight = ((pos >= 0) & (item != 0)).float() / (back + 1)
            scores += weight.unsqueeze(1) * self.rules[item]
        return scores


class SessionKNNModel(nn.Module):
    """`sknn`: the `k` training histories most similar (cosine) to the input, each voting for its
    movies with its similarity. Input movies are weighted linearly by recency (V-SkNN style)."""

    def __init__(self, user_items: torch.Tensor, pop: torch.Tensor, k: int) -> None:
        super().__init__()
        self.register_buffer("user_items", user_items)  # FloatTensor[U, V], 0/1
        self.register_buffer("user_norm", user_items.sum(1).clamp(min=1.0).sqrt())
        self.register_buffer("prior", pop * PRIOR_SCALE)
        self.k = k

    def forward(self, movies: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        return self.predict_next(movies, lens)

    @torch.jit.export
    def predict_next(self, movies: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        batch, width = movies.shape
        positions = torch.arange(width).unsqueeze(0)
        valid = (positions < lens.unsqueeze(1)) & (movies != 0)
        recency = (positions + 1).float() / lens.unsqueeze(1).float() * valid.float()
        query = torch.zeros(batch, self.user_items.shape[1])
        query.scatter_add_(1, movies, recency)
        sim = (query @ self.user_items.t()) / self.user_norm / query.pow(2).sum(1, keepdim=True).sqrt().clamp(min=1e-9)
        top_sim, top_users = sim.topk(min(self.k, sim.shape[1]), dim=1)
        weights = torch.zeros_like(sim).scatter_(1, top_users, top_sim)
        return weights @ self.user_items + self.prior.unsqueeze(0)


def build_baseline(name: str, seqs: list[list[int]], vocab_size: int, window: int = 5, n_last: int = 3,
                   k: int = 100) -> nn.Module:
    """Fit baseline `name` on training index sequences (start token excluded)."""
    pop = popularity(seqs, vocab_size)
    if name == "pop":
        return PopularityModel(pop)
    if name == "sr":
        return SequentialRulesModel(sequential_rules(seqs, vocab_size, window), pop, n_last)
    if name == "sknn":
        user_items = torch.zeros(len(seqs), vocab_size)
        for row, seq in enumerate(seqs):
            user_items[row, torch.tensor(seq, dtype=torch.long)] = 1.0
        return SessionKNNModel(user_items, pop, k)
    raise ValueError(f"unknown baseline {name!r}: expected pop, sr or sknn")
