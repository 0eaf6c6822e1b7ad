"""bench_cuda's prepared round for preset v6: its candidate is the preset, and the round runs on CPU."""

from __future__ import annotations

import json
import re

from conftest import CPU_STEPS, REPO, cpu_v6_rows
from trainer.ablations import CANDIDATE_BASE, CANDIDATES
from trainer.bench_candidates_md import CPU_AMP_LABEL, add_cpu_runs, collect
from trainer.bench_cuda import main, preset_config
from trainer.presets import PRESETS


def test_the_v6_candidate_trains_exactly_the_ml_1m_preset_in_fp32(tmp_path):
    # The GPU seeds only count as the preset's seeds if nothing but the precision differs.
    overrides = {k: v for k, v in CANDIDATES["v6-fp32"].items() if k != "amp"}
    candidate = preset_config(tmp_path, overrides, "cuda", amp=False, base=CANDIDATE_BASE).to_dict()
    preset = preset_config(tmp_path, {}, "cuda", amp=False, base=PRESETS["ml-1m"]).to_dict()
    assert candidate == preset
    assert CANDIDATES["v6-fp32"]["amp"] is False


def _bench_cuda_recipe() -> str:
    return re.search(r"^bench-cuda:.*?(?=^\S)", (REPO / "Makefile").read_text(), re.S | re.M).group(0)


def _flag_values(recipe: str, flag: str) -> list[str]:
    """The words after `flag` in `recipe`, up to the next flag."""
    after = recipe.split()[recipe.split().index(flag) + 1:]
    return after[:next(i for i, t in enumerate(after + ["--"]) if t.startswith("--"))]


def test_make_bench_cuda_names_only_candidates_that_exist():
    recipe = _bench_cuda_recipe()
    names = _flag_values(recipe, "--candidates")
    assert names and all(n in CANDIDATES for n in names), names
    assert "--skip-preset" not in recipe  # the round times the current preset


def test_make_bench_cuda_trains_seeds_no_recorded_cpu_run_of_the_preset_used():
    # The round asks how often ONE run reaches the goal: seeds the CPU runs already answered add no new draw.
    seeds = {int(t) for t in _flag_values(_bench_cuda_recipe(), "--seeds")}
    cpu = {r["config"]["seed"] for r in cpu_v6_rows()}
    assert len(seeds) == 8 and not seeds & cpu, sorted(seeds & cpu)


def test_the_round_rehearsed_on_cpu_records_each_v6_seed_with_its_config(tiny_data, tmp_path):
    out = tmp_path / "cuda"
    main(["--data", str(tiny_data), "--out", str(out), "--device", "cpu", "--skip-preset", "--epochs", "1",
          "--candidates", "v6-fp32", "--seeds", "15", "16", "--budget", "600", "--reserve", "0"])
    results = json.loads((out / "results.json").read_text())
    for seed in (15, 16):
        run = results[f"v6-fp32-seed-{seed}"]
        assert run["ended"] == "finished" and "ndcg@10" in run["test"], run
        cfg = run["config"]
        assert (cfg["seed"], cfg["amp"], cfg["patience"], cfg["pop_prior"], cfg["label_smoothing"]) == \
            (seed, False, 10, 0.15, 0.1)
        assert run["side_by_side"] == 2
    # the renderer groups the fp32 twin under `v6`, where the CPU runs of the same preset go too
    groups = collect([{**results, "gpu": "none", "torch": "x"}])
    assert sorted(r["seed"] for r in groups[("v6", "fp32")]) == [15, 16]


def test_the_cpu_steps_runs_of_preset_v6_pool_under_the_v6_candidate():
    # v6 = v5 with patience 10: the v5 runs continued with --patience 10 are v6 runs as much as those
    # started as v6; the tail-average and distilled runs are other configurations.
    groups: dict = {}
    add_cpu_runs(groups, json.loads(CPU_STEPS.read_text()))
    expected = sorted(r["config"]["seed"] for r in cpu_v6_rows())
    assert sorted(r["seed"] for r in groups[("v6", CPU_AMP_LABEL)]) == expected and len(expected) >= 14
