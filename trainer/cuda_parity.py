"""CPU vs CUDA agreement of an exported TorchScript model: what serving (CPU) answers vs the GPU."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch


def parity(run: Path, data: Path) -> dict[str, Any]:
    """Exported model on CPU vs CUDA over every test user: score gap and top-20 agreement."""
    from .evaluate import run_cases
    from .evaluation import rank_cases
    from .export import MODEL_FILE, load_scripted

    cpu, cases = run_cases(data, run, "test")
    gpu = load_scripted(run / MODEL_FILE).cuda()
    t0 = time.perf_counter()
    ranked, values = rank_cases(lambda m, l: cpu.predict_next(m, l), cases.inputs, cases.seen, 20)
    out: dict[str, Any] = {"users": len(cases.users), "cpu_rank_seconds": round(time.perf_counter() - t0, 2),
                           "cpu_threads": torch.get_num_threads()}
    # cuDNN may run fp32 RNNs in TF32 by default; strict fp32 is what CPU serving computes.
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    try:
        for mode, tf32 in (("cuda_tf32_default", saved[0]), ("cuda_strict_fp32", False)):
            torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
            t0 = time.perf_counter()
            got, got_values = rank_cases(lambda m, l: gpu.predict_next(m.cuda(), l.cuda()), cases.inputs, cases.seen, 20)
            out[mode] = {"top20_identical_share": float((got == ranked).all(dim=1).float().mean()),
                         "top20_max_abs_score_gap": float((got_values - values).abs().max()),
                         "rank_seconds": round(time.perf_counter() - t0, 2)}
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
    return out
