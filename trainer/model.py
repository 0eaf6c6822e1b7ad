"""The session GRU: Embedding(V, E) -> GRU(E, H) x layers -> Linear(H, V) (+ a fixed prior when ranking).

Written to be TorchScript-scriptable: `predict_next` is the exported serving entry point.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig


class SessionGRU(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.vocab_size = cfg.vocab_size
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.emb_dim)
        self.emb_dropout = nn.Dropout(cfg.emb_dropout)
        self.gru = nn.GRU(cfg.emb_dim, cfg.hidden_dim, num_layers=cfg.layers, batch_first=True,
                          dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.out_dropout = nn.Dropout(cfg.dropout)
        self.tied = cfg.tied
        # Tying needs the output in embedding space; a projection bridges differing sizes.
        self.project = nn.Linear(cfg.hidden_dim, cfg.emb_dim) if cfg.tied and cfg.hidden_dim != cfg.emb_dim else nn.Identity()
        self.output = nn.Linear(cfg.emb_dim if cfg.tied else cfg.hidden_dim, cfg.vocab_size)
        if cfg.tied:
            self.output.weight = self.embedding.weight
        # Added to the scores wherever the model ranks, never in training (pop_prior.py). Not persistent: a
        # constant of the run's config and vocabulary, set by set_prior, so checkpoints stay as they were.
        self.register_buffer("prior", torch.zeros(cfg.vocab_size), persistent=False)

    def set_prior(self, prior: torch.Tensor) -> None:
        """Use `prior` (FloatTensor[V], pop_prior.popularity_prior) as the scores' prior from now on."""
        if prior.shape != self.prior.shape:
            raise ValueError(f"a prior of shape {tuple(prior.shape)} for {self.vocab_size} outputs")
        with torch.no_grad():
            self.prior.copy_(prior)

    def forward(self, movies: torch.Tensor) -> torch.Tensor:
        """Next-movie logits at every position: LongTensor[B,T] -> FloatTensor[B,T,V]."""
        return self.output(self.features(movies))

    def features(self, movies: torch.Tensor) -> torch.Tensor:
        """What the output layer reads at every position: LongTensor[B,T] -> FloatTensor[B,T,D]. A sampled
        loss (sampled_softmax.py) takes these and scores only some movies."""
        hidden, _ = self.gru(self.emb_dropout(self.embedding(movies)))
        return self.project(self.out_dropout(hidden))

    @torch.jit.export
    def predict_next(self, movies: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """Scores of the movie after each sequence.

        Args:
            movies: LongTensor[B, T], right-padded index sequences starting with the start token.
            lens: LongTensor[B], each sequence's true length (>= 1).

        Returns:
            FloatTensor[B, V].
        """
        hidden, _ = self.gru(self.emb_dropout(self.embedding(movies)))
        last = (lens - 1).clamp(min=0).to(hidden.device)
        # Padding follows each sequence, so the state at lens-1 never saw it.
        picked = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        return (self.output(self.project(self.out_dropout(picked))) + self.prior).float()

    # ---- stateful serving: one GRU step per new event ----

    @torch.jit.export
    def encode(self, movies: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """GRU state of every layer after each sequence: LongTensor[B,T], LongTensor[B] -> FloatTensor[L,B,H]."""
        packed = nn.utils.rnn.pack_padded_sequence(self.embedding(movies), lens.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        _, state = self.gru(packed)
        return state

    @torch.jit.export
    def step(self, state: torch.Tensor, movies: torch.Tensor) -> torch.Tensor:
        """Advance each state by one movie: FloatTensor[L,B,H], LongTensor[B] -> FloatTensor[L,B,H]."""
        _, state = self.gru(self.embedding(movies).unsqueeze(1), state)
        return state

    @torch.jit.export
    def scores(self, state: torch.Tensor) -> torch.Tensor:
        """Next-movie scores from states (the last layer's): FloatTensor[L,B,H] -> FloatTensor[B,V]."""
        return (self.output(self.project(state[-1])) + self.prior).float()
