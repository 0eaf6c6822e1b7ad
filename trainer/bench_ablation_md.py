"""Render the ML-1M ablation table of BENCHMARKS.md from `bench_cuda` results files.

    python -m trainer.bench_ablation_md docs/ablations/ml-1m-cuda-round1.json docs/ablations/ml-1m-cuda-round2.json

The raw results files are committed beside the table, so the table can be re-rendered and checked.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .archive import REPO
from .ablations import ABLATION_BASE, GRID
from .benchmarks_md import replace_section
from .significance import signed

TITLE = "MovieLens-1M ablations (CUDA)"


def _change(name: str) -> str:
    overrides = GRID.get(name)
    if name == "preset-amp":
        return "the preset of that day, bf16 autocast, alone on the GPU"
    if overrides is None:
        return "?"
    flat = {**{k: v for k, v in overrides.items() if k != "model"}, **overrides.get("model", {})}
    return ", ".join(f"{k} {v}" for k, v in flat.items()) or "none (v1)"


def rows(results: dict[str, Any], round_name: str) -> list[str]:
    side_by_side = sum(1 for v in results.values() if isinstance(v, dict) and "ended" in v and v is not results.get("preset-amp"))
    out = []
    for name, r in results.items():
        if not isinstance(r, dict) or "val" not in r:
            continue
        t, v = r["test"], r["val"]
        alone = name == "preset-amp"
        out.append(
            f"| {round_name} | {name} | {_change(name)} | {r['best_epoch']} / {r['epochs_run']} "
            f"({'stopped' if r['ended'].startswith('stopped') else 'early stop'}) | {r['median_train_s']:.1f} "
            f"({'alone' if alone else f'{side_by_side} side by side'}) | {v['hr@10']:.4f} | {v['ndcg@10']:.4f} | "
            f"{t['hr@10']:.4f} | {t['ndcg@10']:.4f} | {t['hr@20']:.4f} | {t['ndcg@20']:.4f} | {t['map@20']:.4f} |")
    return out


def parity_line(results: dict[str, Any]) -> str:
    p = results.get("parity", {})
    if "cuda_strict_fp32" not in p:
        if "top20_identical_share" in p:
            return (f"- {p['run']}: exported model, CPU vs CUDA (cuDNN default, TF32 allowed), {p['users']:,} test users: "
                    f"identical top-20 for {p['top20_identical_share']:.2%}, largest score gap "
                    f"{p['top20_max_abs_score_gap']:.2g}.")
        return ""
    d, s = p["cuda_tf32_default"], p["cuda_strict_fp32"]
    return (f"- {p['run']}: exported model, CPU vs CUDA over {p['users']:,} test users: with cuDNN's default (TF32 "
            f"allowed) identical top-20 for {d['top20_identical_share']:.2%}, largest score gap "
            f"{d['top20_max_abs_score_gap']:.2g}; in strict fp32 identical for {s['top20_identical_share']:.2%}, "
            f"largest gap {s['top20_max_abs_score_gap']:.2g} (the rest are near-ties).")


def seed_noise(loaded: list[dict[str, Any]]) -> str:
    runs = {name: r for results in loaded for name, r in results.items() if isinstance(r, dict) and "test" in r}
    pairs = [(a, b) for a, b in (("preset-fp32", "preset-seed-1"), ("wide-plateau", "wide-plateau-seed-1"))
             if a in runs and b in runs]
    if not pairs:
        return ""
    parts = [f"{a} seed 42 vs 1: test hr@10 {signed(runs[a]['test']['hr@10'] - runs[b]['test']['hr@10'])}, "
             f"ndcg@10 {signed(runs[a]['test']['ndcg@10'] - runs[b]['test']['ndcg@10'])}" for a, b in pairs]
    return "Seed noise (same configuration, another seed): " + "; ".join(parts) + "."


def render(paths: list[Path]) -> str:
    loaded = [json.loads(Path(p).read_text()) for p in paths]
    first = loaded[0]
    base = ABLATION_BASE["model"]
    lines = [
        f"Measured on {first['gpu']} (torch {first['torch']}), fp32 unless noted, ML-1M leave-one-out exactly as the "
        "table above (same data, same evaluation of the exported model on the test users). Each row changes the v1 "
        f"preset (emb {base['emb_dim']}, hidden {base['hidden_dim']}, dropouts {base['emb_dropout']}, batch "
        f"{ABLATION_BASE['batch_size']}, lr {ABLATION_BASE['lr']}, constant lr, max len {ABLATION_BASE['max_len']}, "
        f"windows all, patience {ABLATION_BASE['patience']}, seed 42) as stated. GPU time is lent in short slots: the "
        "runs of a round trained side by side under one deadline, so rows marked *stopped* had not early-stopped "
        "(best epoch so far, exported and tested), and seconds per epoch include the sharing. Selection is by "
        "validation; test is reported, not tuned on. " + seed_noise(loaded),
        "Command: `python -m trainer.bench_cuda --data DIR --out OUT [--grid ...]` on a CUDA machine; this table: "
        "`python -m trainer.bench_ablation_md " + " ".join(str(p) for p in paths) + "`.", "",
        "| round | run | change vs v1 | best / run epochs | s per epoch | val hr@10 | val ndcg@10 | test hr@10 | "
        "test ndcg@10 | test hr@20 | test ndcg@20 | test map@20 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for i, results in enumerate(loaded, 1):
        lines += rows(results, str(i))
    lines += ["", "CPU/GPU parity of the exported TorchScript model (what `evaluate` and TorchServe run on CPU):"]
    lines += [line for line in (parity_line(r) for r in loaded) if line]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m trainer.bench_ablation_md", description=__doc__)
    parser.add_argument("results", nargs="+", type=Path, help="bench_cuda results.json files, one per round")
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    replace_section(args.out, TITLE, render(args.results))
    print(f"wrote section {TITLE!r} of {args.out}")


if __name__ == "__main__":
    main()
