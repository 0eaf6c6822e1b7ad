"""Render "MovieLens-1M preset candidates (CUDA)" of BENCHMARKS.md: preset candidates (v4 onward) judged over seeds.

    python -m trainer.bench_candidates_md docs/ablations/ml-1m-cuda-round3.json ... \\
        [--cpu-steps docs/ablations/ml-1m-cpu-steps.json]

Each `bench_cuda --candidates` run is named CANDIDATE-seed-N; its round's `preset-amp` run (bf16
autocast, the preset of its day) joins the group of the candidate whose configuration it recorded
(rounds 3-5 recorded none; they ran v3 at seed 42). A candidate is judged by its mean over seeds
because one seed moves test ndcg@10 by up to ~0.008 on ML-1M. `--cpu-steps` pools the CPU runs whose
configuration is a candidate's into that candidate's fp32 group, or, trained with `--amp`, into a group
of their own: bf16 on a CPU (oneDNN) is another computation than on CUDA, and scored differently.
"""

from __future__ import annotations

import argparse
import json
import re
from statistics import mean
from pathlib import Path
from typing import Any

from .ablations import CANDIDATE_BASE, CANDIDATES
from .archive import REPO
from .bench_ablation_md import parity_line
from .benchmarks_md import replace_section
from .config import TrainConfig
from .significance import signed

TITLE = "MovieLens-1M preset candidates (CUDA)"
_NOT_COMPARED = {"seed", "data", "device", "amp", "model"}
_SEEDED = re.compile(r"^(?P<name>.+)-seed-(?P<seed>\d+)$")


def candidate_of(run_name: str, result: dict[str, Any]) -> tuple[str, int] | None:
    """(candidate group, seed) of a results entry; None for entries that are not candidate runs."""
    if run_name == "preset-amp":
        # Rounds 3-5 did not record its config; they ran v3, the preset of their day, with seed 42.
        config = result.get("config")
        if config is None:
            return "v3", 42
        name = candidate_named_by(config)
        return (name, int(config["seed"])) if name is not None else None
    m = _SEEDED.match(run_name)
    if m is None or m["name"] not in CANDIDATES or result.get("base") != "preset":
        return None
    return m["name"], int(m["seed"])


#: The precision label of an autocast run, by its round's `amp_output`. Rounds 6-7 trained the output
#: layer in fp32 under autocast (their results files say "fp32"); it gained nothing over bf16 logits
#: (BENCHMARKS.md), so training went back to one autocast region and later rounds record no key.
AMP_LABELS = {None: "bf16 autocast", "fp32": "bf16 autocast + fp32 logits"}
CPU_AMP_LABEL = "bf16 autocast on CPU"


def _precision(amp: bool, amp_output: str | None) -> str:
    return AMP_LABELS[amp_output] if amp else "fp32"


def collect(loaded: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(candidate, precision) -> its finished runs, each with seed, val, test, timings, how it ended."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for results in loaded:
        for name, r in results.items():
            if not isinstance(r, dict) or "test" not in r or (found := candidate_of(name, r)) is None:
                continue
            candidate, seed = found
            base = candidate.removesuffix("-fp32")
            amp = r.get("amp", True)
            groups.setdefault((base, _precision(amp, results.get("amp_output"))), []).append(
                {"seed": seed, "where": "GPU", "val": r["val"], "test": r["test"], "best_epoch": r["best_epoch"],
                 "stopped": r["ended"].startswith("stopped"), "s_per_epoch": r["median_train_s"],
                 "side_by_side": r.get("side_by_side", 1)})
    return groups


def candidate_named_by(config: dict[str, Any]) -> str | None:
    """The first candidate (v3 itself first) whose configuration a run's saved config is; None if none."""
    for name, overrides in CANDIDATES.items():
        merged = {**CANDIDATE_BASE, **{k: v for k, v in overrides.items() if k != "model"},
                  "model": {**CANDIDATE_BASE["model"], **overrides.get("model", {})}}
        if is_preset(config, merged):
            return name
    return None


def is_preset(config: dict[str, Any], preset: dict[str, Any] = CANDIDATE_BASE) -> bool:
    """Whether a run's saved config is `preset` unchanged (seed, data, device and precision aside).

    Settings the preset leaves out must hold TrainConfig's defaults (a run with `ema` set is not v3);
    a key missing from an older config predates its setting, so it had the default.
    """
    def compared(c: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        full = TrainConfig.completed(c)
        return ({k: v for k, v in full.items() if k not in _NOT_COMPARED},
                {k: v for k, v in full["model"].items() if k != "vocab_size"})

    return compared(config) == compared(preset)


def add_cpu_runs(groups: dict[tuple[str, str], list[dict[str, Any]]], cpu_steps: dict[str, Any]) -> None:
    """Pool the CPU-steps runs whose config is a candidate's into that candidate's fp32 group (or its
    CPU bf16 group: an `--amp` run)."""
    for row in cpu_steps["rows"]:
        name = candidate_named_by(row["config"])
        if name is not None and "ensemble" not in row:  # an ensemble carries its first member's config
            precision = CPU_AMP_LABEL if row["config"].get("amp") else "fp32"
            groups.setdefault((name, precision), []).append(
                {"seed": row["config"]["seed"], "where": "CPU", "val": row.get("val"), "test": row["test"],
                 "best_epoch": row["best_epoch"], "stopped": False, "s_per_epoch": None, "side_by_side": None})


def _change(candidate: str) -> str:
    o = {k: v for k, v in CANDIDATES[candidate].items() if k != "amp"}
    flat = {**{k: v for k, v in o.items() if k != "model"}, **o.get("model", {})}
    return ", ".join(f"{k} {' '.join(v) if isinstance(v, list) else v}" for k, v in flat.items()) or "none (v3)"


def group_row(candidate: str, precision: str, runs: list[dict[str, Any]]) -> str:
    runs = sorted(runs, key=lambda r: (r["where"], r["seed"]))
    vals = [r["val"]["ndcg@10"] for r in runs if r["val"] is not None]
    hr = [r["test"]["hr@10"] for r in runs]
    nd = [r["test"]["ndcg@10"] for r in runs]
    seeds = ", ".join(f"{r['seed']}{' (CPU)' if r['where'] == 'CPU' else ''}" for r in runs)
    stopped = sum(r["stopped"] for r in runs)
    each = ", ".join(f"{v:.4f}" for v in nd)
    return (f"| {candidate} | {_change(candidate)} | {precision} | {seeds} | "
            f"{mean(vals):.4f} | {mean(hr):.4f} ({min(hr):.4f}-{max(hr):.4f}) | "
            f"{mean(nd):.4f} ({min(nd):.4f}-{max(nd):.4f}) | {each} | "
            f"{', '.join(str(r['best_epoch']) for r in runs)}{f' ({stopped} stopped)' if stopped else ''} |")


def precision_lines(groups: dict[tuple[str, str], list[dict[str, Any]]]) -> list[str]:
    """Autocast minus fp32 for each candidate run both ways, over the seeds both share."""
    out = []
    for (candidate, precision), amp_runs in groups.items():
        fp32_runs = groups.get((candidate, "fp32"))
        if precision == "fp32" or not fp32_runs:
            continue
        amp_by_seed = {r["seed"]: r for r in amp_runs}
        # A seed run in fp32 on both machines pairs with the one on the autocast run's machine.
        fp32_by_seed = {r["seed"]: r for r in sorted(fp32_runs, key=lambda r: r["where"] == amp_by_seed.get(
            r["seed"], {}).get("where"))}
        seeds = sorted(amp_by_seed.keys() & fp32_by_seed.keys())
        if not seeds:
            continue
        diff = lambda split, k: mean([amp_by_seed[s][split][k] - fp32_by_seed[s][split][k] for s in seeds])  # noqa: E731
        where = ", ".join(f"{s}{' (fp32 on CPU)' if fp32_by_seed[s]['where'] == 'CPU' else ''}" for s in seeds)
        out.append(f"- {candidate}, {precision} minus fp32 over the same seeds ({where}): validation ndcg@10 "
                   f"{signed(diff('val', 'ndcg@10'))}, test ndcg@10 {signed(diff('test', 'ndcg@10'))}, "
                   f"test hr@10 {signed(diff('test', 'hr@10'))}.")
    return out


def timing_line(loaded: list[dict[str, Any]]) -> str:
    """The latest preset-amp run that trained as train.py does now (bf16 logits): what a user gets."""
    for results in reversed(loaded):
        r = results.get("preset-amp") if results.get("amp_output") is None else None
        found = candidate_of("preset-amp", r) if isinstance(r, dict) and "test" in r else None
        if found is not None:
            how = "stopped at the deadline" if r["ended"].startswith("stopped") else "early stop"
            return (f"The preset on CUDA with bf16 autocast, alone on the GPU (seed {found[1]}): best epoch {r['best_epoch']} "
                    f"of {r['epochs_run']} ({how}), {r['median_train_s']:.1f} s per training epoch (median), "
                    f"{r['seconds_to_best']:.0f} s to the best epoch including validation; test hr@10 "
                    f"{r['test']['hr@10']:.4f}, ndcg@10 {r['test']['ndcg@10']:.4f}. The CPU steps table above gives "
                    "this CPU's figures for the same preset.")
    return ""


def render(paths: list[Path], cpu_steps: Path | None) -> str:
    loaded = [json.loads(Path(p).read_text()) for p in paths]
    groups = collect(loaded)
    if cpu_steps is not None:
        add_cpu_runs(groups, json.loads(cpu_steps.read_text()))
    first = loaded[0]
    cmd = " ".join(str(p) for p in paths) + (f" --cpu-steps {cpu_steps}" if cpu_steps else "")
    lines = [
        f"Measured on {first['gpu']} (torch {first['torch']}), ML-1M leave-one-out exactly as the tables above. "
        "Each candidate changes the ml-1m preset (v3) as stated and ran once per seed; the runs of a round trained "
        "side by side on one GPU under NVIDIA MPS. Selection is by the validation mean; test is reported, not "
        "tuned on. Seeds marked CPU are CPU runs of the same configuration from the CPU steps table (fp32, or "
        f"bf16 autocast where the precision says '{CPU_AMP_LABEL}').",
        "Command: `python -m trainer.bench_cuda --data DIR --out OUT --candidates NAME... --seeds N...` on a CUDA "
        f"machine; this section: `python -m trainer.bench_candidates_md {cmd}`.", "",
        timing_line(loaded), "",
        "| candidate | change vs v3 | precision | seeds | val ndcg@10 (mean) | test hr@10 mean (range) | "
        "test ndcg@10 mean (range) | test ndcg@10 by seed | best epochs |",
        "|---|---|---|---|---|---|---|---|---|"]
    order = list(CANDIDATES)
    for (candidate, precision), runs in sorted(groups.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])):
        lines.append(group_row(candidate, precision, runs))
    lines += ["", "Precision (same candidate and seeds, trained with autocast and in fp32):"]
    lines += precision_lines(groups)
    lines += ["", "CPU/GPU parity of the exported TorchScript model (what `evaluate` and TorchServe run on CPU):"]
    lines += [line for line in (parity_line(r) for r in loaded) if line]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m trainer.bench_candidates_md", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", type=Path, help="bench_cuda results.json files, one per round")
    parser.add_argument("--cpu-steps", type=Path, default=None, help="bench_cpu_steps JSON to pool CPU v3 runs from")
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    replace_section(args.out, TITLE, render(args.results, args.cpu_steps))
    print(f"wrote section {TITLE!r} of {args.out}")


if __name__ == "__main__":
    main()
