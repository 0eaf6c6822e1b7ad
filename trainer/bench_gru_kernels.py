"""`make bench-gru-kernels`: the served GRU on one core, and its one large kernel three ways.

"Where the workers' time goes" puts most of sessrec's own worker time in the TorchScript model.
This times that model as a worker runs it (one torch thread): `predict_next` on batches of full
histories, and the kernel that dominates each GRU step, the recurrent matmul [B, H] @ [H, 3H] with
the model's own weights, three ways: MKL fp32 (what the model runs), oneDNN fp32 with the weight
prepacked for the batch size, and bf16 (native on CPUs with AVX512-BF16 or AMX). Each variant's
product is compared with the fp32 one before it is timed, so the table says which would serve the
same numbers. Timings are medians of rounds that alternate the variants, since this VM's speed
drifts between seconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import torch
import yaml

from .archive import HANDLER_DIR, REPO
from .benchmarks_md import measured_on, replace_section
from .errors import RunDirError, as_cli_error, exit_with_error
from .evaluate import load_exported
from .export import MODEL_FILE
from .devices import bf16_native

TITLE = "The served GRU on one core"
BATCHES = (1, 4, 8, 16, 32)


def per_call_us(fn: Callable[[], Any], seconds: float) -> float:
    """Microseconds per call of `fn`, over about `seconds` of calls after a short warm-up."""
    for _ in range(3):
        fn()
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / n * 1e6


def rounds(fns: dict[str, Callable[[], Any]], repeats: int, seconds: float) -> dict[str, float]:
    """Median us per call of each function, over `repeats` rounds that each time every function once."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(per_call_us(fn, seconds))
    return {name: statistics.median(t) for name, t in times.items()}


def cpu_name() -> str:
    """The CPU's model name, from /proc/cpuinfo."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown CPU"
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")


def load_served(run: Path) -> tuple[torch.jit.ScriptModule, int]:
    """The run's exported model as evaluation and the handler load it, and its max len; only a
    single GRU's export has the recurrent weights `w_hh` this times."""
    model, _, cfg = load_exported(run)
    if not hasattr(model, "w_hh"):
        raise RunDirError(f"{Path(run) / MODEL_FILE} is not a single GRU's export (no recurrent weights w_hh); "
                          "a baseline or an ensemble has no one GRU step to time")
    return model, cfg.max_len


def max_rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest |a - b| relative to the largest |b|: how far a variant's product is from fp32's."""
    return float((a.float() - b).abs().max() / b.abs().max().clamp(min=1e-30))


def matmul_variants(w: torch.Tensor, bias: torch.Tensor, batch: int, seed: int = 0) -> dict[str, dict[str, Any]]:
    """The recurrent matmul `bias + g @ w` at `batch` rows, each variant with its callable and its
    largest relative difference from MKL fp32's product; g is a state in (0, 1), as the model carries."""
    g = torch.rand(batch, w.shape[0], generator=torch.Generator().manual_seed(seed))
    ref = torch.addmm(bias, g, w)
    out: dict[str, dict[str, Any]] = {
        "MKL fp32 (torch.addmm, what the model runs)": {"fn": lambda: torch.addmm(bias, g, w)}}
    if torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_reorder_linear_weight"):
        packed = torch.ops.mkldnn._reorder_linear_weight(w.T.contiguous(), batch)
        out["oneDNN fp32, weight prepacked"] = {
            "fn": lambda: torch.ops.mkldnn._linear_pointwise(g, packed, bias, "none", [], "")}
    gb, wb, bb = g.bfloat16(), w.bfloat16(), bias.bfloat16()
    out["bf16 (torch.addmm)"] = {"fn": lambda: torch.addmm(bb, gb, wb)}
    for v in out.values():
        v["rel_diff"] = max_rel_diff(v["fn"](), ref)
    return out


def measure(run: Path, batches: tuple[int, ...] = BATCHES, batch: int = 16, repeats: int = 7,
            seconds: float = 0.3) -> dict[str, Any]:
    """Time the run's served model on one thread; see the module docstring."""
    model, steps = load_served(run)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        w_hh, b_hh = model.w_hh[0], model.b_hh[0]
        layers, hidden, vocab = int(model.w_hh.shape[0]), int(w_hh.shape[0]), int(model.vocab_size)
        batches = tuple(sorted(set(batches) | {batch}))
        gen = torch.Generator().manual_seed(1)
        with torch.inference_mode():
            inputs = {b: (torch.randint(1, vocab, (b, steps), generator=gen), torch.full((b,), steps)) for b in batches}
            batch_us = rounds({str(b): (lambda m=inputs[b]: model.predict_next(*m)) for b in batches}, repeats, seconds)
            variants = matmul_variants(w_hh, b_hh, batch)
            kernel_us = rounds({name: v["fn"] for name, v in variants.items()}, repeats, seconds)
            state = torch.rand(layers, batch, hidden) * 2 - 1
            scores_us = rounds({"scores": lambda: model.scores(state)}, repeats, seconds)["scores"]
    finally:
        torch.set_num_threads(threads)
    return {"run": str(run), "hidden": hidden, "layers": layers, "vocab": vocab, "steps": steps,
            "batch": batch, "repeats": repeats, "cpu": cpu_name(),
            "native_bf16": bf16_native(torch.device("cpu")),
            "batches": {int(b): us for b, us in batch_us.items()}, "predict_us": batch_us[str(batch)],
            "scores_us": scores_us,
            "kernels": {n: {"us": kernel_us[n], "rel_diff": v["rel_diff"]} for n, v in variants.items()}}


def render(r: dict[str, Any]) -> str:
    """The BENCHMARKS.md section body for `measure`'s result."""
    b, h, t = r["batch"], r["hidden"], r["steps"]
    flop = 2 * b * h * 3 * h
    fp32 = next(iter(r["kernels"].values()))["us"]
    lines = [
        f"Measured on {measured_on()} ({r['cpu']}; native bf16: {'yes' if r['native_bf16'] else 'no'}), torch "
        f"{torch.__version__}, one torch thread (as each model worker runs, handler threads 1): `{r['run']}`'s "
        f"exported model.pt ({r['layers']} layer{'s' if r['layers'] > 1 else ''}, hidden {h}, {r['vocab'] - 1} movies), "
        f"histories of {t} random movies (its max len: the GRU steps a 150-id request costs). Medians of "
        f"{r['repeats']} rounds that alternate the variants. Command: `make bench-gru-kernels RUN=...`.",
        "",
        "| histories per call | predict_next us per call | us per history |",
        "|---|---|---|",
    ]
    lines += [f"| {n} | {us:,.0f} | {us / n:,.0f} |" for n, us in sorted(r["batches"].items())]
    lines += [
        "",
        f"The recurrent matmul of one step at {b} rows ([{b}, {h}] @ [{h}, {3 * h}], {flop / 1e6:.2f} MFLOP, the model's "
        f"weights; {b} is handler/model-config.yaml's batchSize), each variant's product against MKL fp32's:",
        "",
        "| matmul | us | GFLOP/s | largest difference from fp32, relative |",
        "|---|---|---|---|",
    ]
    lines += [f"| {n} | {k['us']:.1f} | {flop / k['us'] / 1e3:.0f} | {k['rel_diff']:.1e} |"
              for n, k in r["kernels"].items()]
    mm = r["layers"] * t  # one recurrent matmul per step per layer
    lines += [
        "",
        f"- At {b} histories, predict_next takes {r['predict_us']:,.0f} us: its {mm} recurrent matmuls {mm * fp32:,.0f} us "
        f"({mm * fp32 / r['predict_us']:.0%}), the output layer (`scores`) {r['scores_us']:,.0f} us, the rest (each step's "
        f"gate arithmetic, the input gather, the rows' order) {r['predict_us'] - mm * fp32 - r['scores_us']:,.0f} us.",
    ]
    faster = [n for n, k in list(r["kernels"].items())[1:] if k["us"] < fp32]
    same = [n for n, k in list(r["kernels"].items())[1:] if k["rel_diff"] <= 1e-5]
    lines.append(f"- Faster than MKL fp32 here: {', '.join(faster) or 'none'}; computing the same product (within 1e-5): "
                 f"{', '.join(same) or 'none'}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a GRU run directory with model.pt")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.3, help="timing per variant per round")
    parser.add_argument("--md", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.repeats < 1 or not args.seconds > 0:
        exit_with_error(f"--repeats must be at least 1 and --seconds above 0, got {args.repeats}, {args.seconds}")
    batch = int(yaml.safe_load((HANDLER_DIR / "model-config.yaml").read_text())["batchSize"])
    with as_cli_error():
        result = measure(args.run, batch=batch, repeats=args.repeats, seconds=args.seconds)
    body = render(result)
    replace_section(args.md, TITLE, body)
    print(body)


if __name__ == "__main__":
    main()
