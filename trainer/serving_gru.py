"""The exported (served) form of SessionGRU: same function, arranged for small CPU batches.

Training runs `nn.GRU` (cuDNN on CUDA). Serving on CPU spends its time in the GRU, so the export
folds what does not depend on the state into a lookup table: for the first layer, the input
gates of every movie, `embedding @ W_ih^T + b_ih`, computed once ([V, 3H]). A request then costs
a row gather plus the recurrent half per step instead of two matrix products, and rows are
processed longest first so finished rows drop out of the batch (as `pack_padded_sequence`
does). Gate equations are PyTorch's GRU's (r, z, n order; n = tanh(x_n + r * (W_hn h + b_hn))).

The exported module keeps SessionGRU's serving interface: `predict_next`, `encode`, `step`,
`scores`. `export.save_scripted` checks each against the eager model before writing.
"""

from __future__ import annotations

from typing import List

import torch
from torch import nn

from .model import SessionGRU


class ServingGRU(nn.Module):
    def __init__(self, model: SessionGRU) -> None:
        super().__init__()
        gru = model.gru
        with torch.no_grad():
            w_ih0 = gru.weight_ih_l0.detach()
            self.gate_table = nn.Parameter((model.embedding.weight.detach() @ w_ih0.T + gru.bias_ih_l0.detach())
                                           .contiguous(), requires_grad=False)
        self.layers = gru.num_layers
        self.hidden = gru.hidden_size
        # Per-layer weights stacked into buffers (they follow .to(device); a list would not).
        # Deeper layers read the layer below, so their input projection stays a (batched) matmul.
        def stacked(name: str, first: int) -> torch.Tensor:
            mats = [getattr(gru, f"{name}_l{i}").detach() for i in range(first, self.layers)]
            mats = [m.T.contiguous() if m.dim() == 2 else m for m in mats]
            return torch.stack(mats) if mats else torch.zeros(1, 1, 1)
        self.register_buffer("w_hh", stacked("weight_hh", 0))  # [L, H, 3H]
        self.register_buffer("b_hh", stacked("bias_hh", 0))  # [L, 3H]
        self.register_buffer("w_ih", stacked("weight_ih", 1))  # [L-1, H, 3H], layers 1..L-1
        self.register_buffer("b_ih", stacked("bias_ih", 1))
        self.project = model.project
        self.output = model.output
        self.vocab_size = model.vocab_size

    def _cell(self, gi: torch.Tensor, h: torch.Tensor, layer: int) -> torch.Tensor:
        """One GRU step from precomputed input gates `gi` [B, 3H] and state `h` [B, H]."""
        H = self.hidden
        gh = torch.addmm(self.b_hh[layer], h, self.w_hh[layer])
        rz = torch.sigmoid(gi[:, : 2 * H] + gh[:, : 2 * H])
        n = torch.tanh(gi[:, 2 * H :] + rz[:, :H] * gh[:, 2 * H :])
        return n + rz[:, H:] * (h - n)

    def _run(self, movies: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """Final state of every layer after each row's first `lens` movies: [L, B, H]."""
        lens = lens.clamp(min=1, max=movies.shape[1])
        order = torch.argsort(lens, descending=True, stable=True)
        lens_sorted = lens[order]
        # active[t]: rows (in sorted order) still inside their sequence at step t
        active: List[int] = (lens_sorted.unsqueeze(0) > torch.arange(int(lens_sorted[0]), device=lens.device).unsqueeze(1)).sum(1).tolist()
        gi_all = self.gate_table[movies[order]]  # [B, T, 3H]
        B = movies.shape[0]
        finals: List[torch.Tensor] = []
        below = torch.zeros(0)
        for layer in range(self.layers):
            if layer > 0:
                gi_all = torch.matmul(below, self.w_ih[layer - 1]) + self.b_ih[layer - 1]
            h = torch.zeros(B, self.hidden, dtype=gi_all.dtype, device=gi_all.device)
            below = torch.zeros(B, len(active), self.hidden, dtype=gi_all.dtype, device=gi_all.device)
            for t, n in enumerate(active):
                new = self._cell(gi_all[:n, t], h[:n], layer)
                h = new if n == B else torch.cat([new, h[n:]])
                if layer + 1 < self.layers:
                    below[:n, t] = new
            finals.append(h)
        state = torch.stack(finals)
        return state[:, torch.argsort(order)]

    @torch.jit.export
    def predict_next(self, movies: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """Scores of the movie after each sequence: LongTensor[B,T], LongTensor[B] -> FloatTensor[B,V]."""
        return self.scores(self._run(movies, lens))

    @torch.jit.export
    def encode(self, movies: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """GRU state of every layer after each sequence: FloatTensor[L,B,H]."""
        return self._run(movies, lens)

    @torch.jit.export
    def step(self, state: torch.Tensor, movies: torch.Tensor) -> torch.Tensor:
        """Advance each state by one movie: FloatTensor[L,B,H], LongTensor[B] -> FloatTensor[L,B,H]."""
        x = self.gate_table[movies]
        out: List[torch.Tensor] = []
        for layer in range(self.layers):
            if layer > 0:
                x = torch.addmm(self.b_ih[layer - 1], out[layer - 1], self.w_ih[layer - 1])
            out.append(self._cell(x, state[layer], layer))
        return torch.stack(out)

    @torch.jit.export
    def scores(self, state: torch.Tensor) -> torch.Tensor:
        """Next-movie scores from states (the last layer's): FloatTensor[L,B,H] -> FloatTensor[B,V]."""
        return self.output(self.project(state[-1])).float()

    def forward(self, movies: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        return self.predict_next(movies, lens)
