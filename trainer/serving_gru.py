"""The exported (served) form of SessionGRU: same function, arranged for small CPU batches.

Training runs `nn.GRU` (cuDNN on CUDA). Serving on CPU spends its time in the GRU, so the export
folds what does not depend on the state into lookup tables: for the first layer, the input
gates of every movie, `embedding @ W_ih^T + b_ih` with the recurrent biases added, computed
once ([V, 3H] and [V, H]). A request then costs a row gather plus the recurrent half per step
instead of two matrix products, and rows are processed longest first so finished rows drop out of
the batch (as `pack_padded_sequence` does). Gate equations are PyTorch's GRU's (r, z, n order;
n = tanh(x_n + r * (W_hn h + b_hn)); h' = (1 - z) n + z h).

Inside a sequence the state is carried as g = (h + 1) / 2. Then tanh(u) = 2 sigmoid(2u) - 1 gives
g' = lerp(sigmoid(2u), g, z), and every factor and offset this adds is folded into the weights
(h W = 2 g W - 1W), so a step is five kernels (addmm, sigmoid, addcmul, sigmoid, lerp) and none
of them is tanh, which costs 3x a sigmoid on CPU here (6.6 vs 2.3 us for 16 x 128). The methods
still take and return h: `encode`, `step`, `scores` and `predict_next` keep SessionGRU's serving
interface, and `export.save_scripted` checks each against the eager model before writing.

At the handler's batch of 16 the recurrent matmuls are 53-63% of predict_next (two runs) and run fastest as plain
MKL fp32 (`make bench-gru-kernels`: oneDNN prepacked and bf16 are slower here). Tried for the rest,
the step's small kernels, and not kept (2026-12-01, `runs/demo`, interleaved in one process): the
weight hoisted out of the step loop and `narrow` for the gate slices, 3% faster at 16 rows and
inside the noise (ratios 0.88-1.03); TorchScript's CPU fuser, which would merge the gate kernels,
fails with "LLVM Backend not found" in the CPU wheel; turning the graph executor's optimisation off,
no clear change (median ratios 0.93-1.00, each inside its run-to-run spread); `torch.jit.freeze`,
no change. What fusing could win at most (2026-12-01, a prototype, not kept): the whole step loop as
one C++ op (MKL addmm plus one loop for all the gate arithmetic; same numbers within 1e-6) took
`encode` at 16 histories of 50 movies from 2,188 / 2,904 us to 1,578 / 1,896 (two runs), so the
matmuls are nearly all that remains; 28-35% of the model's 167 us per served request (BENCHMARKS.md,
"Where the workers' time goes") is about 50 us, short of the ~70 that would bring `make bench-serve`
to half the no-op's rate, at the price of a compiled library that every loader of model.pt would need. MKL's packed-weight GEMM: 22.8 us against addmm's 23.1 at 16 rows. int8 dynamic quantisation of
that matmul (x86 / fbgemm engines): 20-32 us against addmm's 28, with errors of ~4% of its outputs
that 50 recurrent steps would compound, so not the same recommendations and no steady gain.
"""

from __future__ import annotations

from typing import List

import torch
import torch.nn.functional as F
from torch import nn

from .model import SessionGRU


def _with_prior(output: nn.Linear, prior: torch.Tensor) -> nn.Linear:
    """`output` with the model's score prior (pop_prior.py) folded into its bias, so that a request pays no
    extra addition for it; `output` itself where the prior is all zeros."""
    if not bool(prior.any()):
        return output
    folded = nn.Linear(output.in_features, output.out_features, device=output.weight.device,
                       dtype=output.weight.dtype)
    with torch.no_grad():
        folded.weight.copy_(output.weight)
        folded.bias.copy_(output.bias + prior)
    return folded.requires_grad_(False)


class ServingGRU(nn.Module):
    def __init__(self, model: SessionGRU) -> None:
        super().__init__()
        gru = model.gru
        self.layers = gru.num_layers
        self.hidden = gru.hidden_size
        H = self.hidden
        w_hh: List[torch.Tensor] = []
        bias: List[torch.Tensor] = []
        w_ih: List[torch.Tensor] = []
        b_ih: List[torch.Tensor] = []
        with torch.no_grad():
            for i in range(self.layers):
                w = getattr(gru, f"weight_hh_l{i}").detach().T  # [H, 3H]: h @ w
                b = getattr(gru, f"bias_hh_l{i}").detach()
                ones_w = w.sum(0)  # 1 @ w, the constant of h = 2 g - 1
                # r, z columns take the 2 of h = 2g - 1; n columns also the 2 of sigmoid(2u).
                w_hh.append(torch.cat([2 * w[:, : 2 * H], 4 * w[:, 2 * H :]], 1))
                bias.append(torch.cat([b[: 2 * H] - ones_w[: 2 * H], 2 * (b[2 * H :] - ones_w[2 * H :])]))
                if i > 0:  # layer i reads layer i-1's output h = 2 g - 1
                    wi = getattr(gru, f"weight_ih_l{i}").detach().T
                    w_ih.append(2 * wi)
                    b_ih.append(getattr(gru, f"bias_ih_l{i}").detach() - wi.sum(0))
        # Per-layer weights stacked into buffers (they follow .to(device); a list would not).
        # Deeper layers read the layer below, so their input projection stays a (batched) matmul.
        self.register_buffer("w_hh", torch.stack(w_hh).contiguous())  # [L, H, 3H]
        self.register_buffer("b_hh", torch.stack(bias))  # [L, 3H]: r, z biases | the recurrent n bias
        self.register_buffer("w_ih", torch.stack(w_ih).contiguous() if w_ih else torch.zeros(1, 1, 1))  # [L-1, H, 3H]
        self.register_buffer("b_ih", torch.stack(b_ih) if b_ih else torch.zeros(1, 1))
        with torch.no_grad():
            x = self._step_inputs(model.embedding.weight.detach() @ gru.weight_ih_l0.detach().T
                                  + gru.bias_ih_l0.detach(), 0)
            # Two tables so that each step's rows are contiguous: the addmm bias, and the n input.
            self.gate_table = nn.Parameter(x[:, : 3 * H].contiguous(), requires_grad=False)  # [V, 3H]
            self.n_table = nn.Parameter(x[:, 3 * H :].contiguous(), requires_grad=False)  # [V, H]
        self.project = model.project
        self.output = _with_prior(model.output, model.prior)
        self.vocab_size = model.vocab_size

    def _step_inputs(self, gi: torch.Tensor, layer: int) -> torch.Tensor:
        """Input gates `x W_ih + b_ih` [..., 3H] -> what `_cell` adds per step [..., 4H]: r and z
        with the recurrent biases folded in, the recurrent n bias, the input n gate (doubled: 2u)."""
        H = self.hidden
        b = self.b_hh[layer]
        return torch.cat([gi[..., : 2 * H] + b[: 2 * H], b[2 * H :].expand(gi[..., 2 * H :].shape), 2 * gi[..., 2 * H :]], -1)

    def _cell(self, a: torch.Tensor, xn: torch.Tensor, g: torch.Tensor, layer: int) -> torch.Tensor:
        """One GRU step from `_step_inputs` rows, split as a [B, 3H] and xn [B, H], and state g [B, H]."""
        H = self.hidden
        pre = torch.addmm(a, g, self.w_hh[layer])  # [r, z pre-activations | 2 (W_hn h + b_hn)]
        rz = torch.sigmoid(pre[:, : 2 * H])
        s = torch.sigmoid(torch.addcmul(xn, rz[:, :H], pre[:, 2 * H :]))  # (tanh(u) + 1) / 2
        return torch.lerp(s, g, rz[:, H:])  # (1 - z) s + z g

    def _run(self, movies: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """Final state h of every layer after each row's first `lens` movies: [L, B, H]."""
        lens = lens.clamp(min=1, max=movies.shape[1])
        order = torch.argsort(lens, descending=True, stable=True)
        lens_sorted = lens[order]
        # active[t]: rows (in sorted order) still inside their sequence at step t
        steps = torch.arange(int(lens_sorted[0]), device=lens.device)
        active: List[int] = (lens_sorted.unsqueeze(0) > steps.unsqueeze(1)).sum(1).tolist()
        idx = movies[order].T[: len(active)].contiguous()  # [T, B]: step t's movies are row t
        a_all = F.embedding(idx, self.gate_table)  # [T, B, 3H]
        n_all = F.embedding(idx, self.n_table)  # [T, B, H]
        B = movies.shape[0]
        H = self.hidden
        finals: List[torch.Tensor] = []
        below = torch.zeros(0)
        for layer in range(self.layers):
            if layer > 0:
                x = self._step_inputs(torch.matmul(below, self.w_ih[layer - 1]) + self.b_ih[layer - 1], layer)
                a_all, n_all = x[..., : 3 * H].contiguous(), x[..., 3 * H :].contiguous()
            a_steps, n_steps = a_all.unbind(0), n_all.unbind(0)  # one op, not two per step
            g = torch.full((B, H), 0.5, dtype=a_all.dtype, device=a_all.device)  # h = 0
            if layer + 1 < self.layers:  # the last layer's outputs are not needed, only its state
                below = torch.zeros(len(active), B, H, dtype=a_all.dtype, device=a_all.device)
            for t, n in enumerate(active):
                if n == B:  # every row still running: no slicing
                    g = self._cell(a_steps[t], n_steps[t], g, layer)
                else:
                    g = torch.cat([self._cell(a_steps[t][:n], n_steps[t][:n], g[:n], layer), g[n:]])
                if layer + 1 < self.layers:
                    below[t] = g
            finals.append(g)
        state = torch.stack(finals) * 2 - 1
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
        H = self.hidden
        g_in = (state + 1) * 0.5
        a, xn = F.embedding(movies, self.gate_table), F.embedding(movies, self.n_table)
        out: List[torch.Tensor] = []
        for layer in range(self.layers):
            if layer > 0:
                x = self._step_inputs(torch.addmm(self.b_ih[layer - 1], out[layer - 1], self.w_ih[layer - 1]), layer)
                a, xn = x[:, : 3 * H].contiguous(), x[:, 3 * H :].contiguous()
            out.append(self._cell(a, xn, g_in[layer], layer))
        return torch.stack(out) * 2 - 1

    @torch.jit.export
    def scores(self, state: torch.Tensor) -> torch.Tensor:
        """Next-movie scores from states (the last layer's): FloatTensor[L,B,H] -> FloatTensor[B,V]."""
        return self.output(self.project(state[-1])).float()

    def forward(self, movies: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        return self.predict_next(movies, lens)
