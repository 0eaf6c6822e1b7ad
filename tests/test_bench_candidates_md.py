"""The v4-candidate section: runs grouped by candidate and precision, means over seeds, bf16 vs fp32."""

from __future__ import annotations

import copy
import json

from trainer.ablations import CANDIDATE_BASE, candidate_runs
from trainer.bench_candidates_md import add_cpu_runs, collect, group_row, precision_lines, render
from trainer.bench_cuda import preset_config


def _run(ndcg: float, hr: float, val_ndcg: float, **extra) -> dict:
    return {"ended": "finished", "epochs_run": 10, "best_epoch": 5, "median_train_s": 2.0, "seconds_to_best": 12.0,
            "val": {"ndcg@10": val_ndcg}, "test": {"ndcg@10": ndcg, "hr@10": hr}, **extra}


def _results() -> dict:
    return {
        "torch": "2.x", "gpu": "Test GPU",
        "preset-amp": _run(0.16, 0.30, 0.17),
        "v3-fp32-seed-42": _run(0.18, 0.32, 0.18, base="preset", amp=False),
        "batch-128-seed-1": _run(0.10, 0.20, 0.15, base="preset", amp=True),
        "batch-128-seed-2": _run(0.20, 0.40, 0.16, base="preset", amp=True, ended="stopped at the deadline"),
        "preset-seed-1": _run(0.5, 0.5, 0.5, base="v1", amp=False),  # a v1 ablation, not a candidate
        "batch-128-seed-9": _run(0.5, 0.5, 0.5, base="v1", amp=True),  # trained on another base
        "batch-256-seed-3": {"ended": "failed (exit 1)", "epochs_run": 0},  # no test: left out
    }


def test_runs_group_by_candidate_and_precision_and_v1_ablations_stay_out():
    groups = collect([_results()])
    assert {k: sorted(r["seed"] for r in v) for k, v in groups.items()} == {
        ("v3", "bf16 autocast"): [42], ("v3", "fp32"): [42], ("batch-128", "bf16 autocast"): [1, 2]}


def test_group_row_gives_mean_range_and_marks_stopped_runs():
    row = group_row("batch-128", "bf16 autocast", collect([_results()])[("batch-128", "bf16 autocast")])
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:4] == ["batch-128", "batch_size 128, lr 0.003", "bf16 autocast", "1, 2"]
    assert cells[4] == "0.1550"
    assert cells[5] == "0.3000 (0.2000-0.4000)"
    assert cells[6] == "0.1500 (0.1000-0.2000)"
    assert cells[8] == "5, 5 (1 stopped)"


def test_precision_lines_compare_only_shared_seeds():
    lines = precision_lines(collect([_results()]))
    assert lines == ["- v3, bf16 autocast minus fp32 over the same seeds (42): validation ndcg@10 -0.0100, "
                     "test ndcg@10 -0.0200, test hr@10 -0.0200."]


def test_cpu_runs_of_the_unchanged_preset_join_the_fp32_group():
    preset_cfg = preset_config("d", {"seed": 7}, "cpu", False, CANDIDATE_BASE).to_dict()
    other = copy.deepcopy(preset_cfg)
    other["max_len"] = 200
    steps = {"rows": [{"config": preset_cfg, "test": {"ndcg@10": 0.2, "hr@10": 0.3}, "val": {"ndcg@10": 0.2},
                       "best_epoch": 9},
                      {"config": other, "test": {"ndcg@10": 0.9, "hr@10": 0.9}, "val": {"ndcg@10": 0.9},
                       "best_epoch": 9},
                      {"config": preset_cfg, "ensemble": ["a", "b"], "test": {"ndcg@10": 0.9, "hr@10": 0.9},
                       "val": {"ndcg@10": 0.9}}]}
    groups = collect([_results()])
    add_cpu_runs(groups, steps)
    fp32 = groups[("v3", "fp32")]
    assert sorted((r["seed"], r["where"]) for r in fp32) == [(7, "CPU"), (42, "GPU")]


def test_render_names_the_timing_and_every_group(tmp_path):
    path = tmp_path / "round.json"
    path.write_text(json.dumps(_results()))
    text = render([path], None)
    assert "best epoch 5 of 10 (early stop), 2.0 s per training epoch" in text
    assert text.count("| v3 |") == 2 and "| batch-128 |" in text


def test_candidate_runs_override_the_current_preset_per_seed():
    runs = candidate_runs(["batch-128-fp32"], [3, 4])
    assert list(runs) == ["batch-128-fp32-seed-3", "batch-128-fp32-seed-4"]
    cfg = preset_config("d", runs["batch-128-fp32-seed-4"], "cuda", False, CANDIDATE_BASE)
    assert (cfg.seed, cfg.batch_size, cfg.lr, cfg.amp) == (4, 128, 3e-3, False)
    assert cfg.model.hidden_dim == CANDIDATE_BASE["model"]["hidden_dim"]


def test_a_preset_amp_run_counts_as_v3_only_when_its_recorded_config_is_the_preset():
    from trainer.bench_candidates_md import timing_line

    preset_cfg = preset_config("data", {}, "cuda", True, CANDIDATE_BASE).to_dict()
    preset_cfg["seed"] = 7
    changed = copy.deepcopy(preset_cfg)
    changed["batch_size"] = 512  # a later preset, not v3
    same = {"preset-amp": _run(0.16, 0.30, 0.17, config=preset_cfg)}
    other = {"preset-amp": _run(0.16, 0.30, 0.17, config=changed)}
    assert [r["seed"] for r in collect([same])[("v3", "bf16 autocast")]] == [7]
    assert collect([other]) == {} and timing_line([other]) == ""
    assert timing_line([same]).startswith("The preset on CUDA with bf16 autocast, alone on the GPU (seed 7)")
    # rounds that recorded no config ran v3 at seed 42
    assert [r["seed"] for r in collect([{"preset-amp": _run(0.16, 0.30, 0.17)}])[("v3", "bf16 autocast")]] == [42]


def test_bench_cuda_summary_records_what_trained(tiny_data, tiny_run, tmp_path):
    import shutil

    from trainer.bench_cuda import summarize

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)  # summarize exports into the run: keep the shared fixture intact
    out = summarize(run, tiny_data, "cpu")
    assert out["config"] == json.loads((tiny_run / "config.json").read_text())
    assert out["epochs_run"] >= out["best_epoch"] >= 1 and "hr@10" in out["test"]


def test_rounds_with_an_fp32_output_layer_get_their_own_autocast_group_and_no_timing():
    from trainer.bench_candidates_md import timing_line

    old, new = _results(), _results()
    new["amp_output"] = "fp32"
    new["preset-amp"] = _run(0.17, 0.31, 0.18, best_epoch=9)
    groups = collect([old, new])
    assert sorted(r["seed"] for r in groups[("batch-128", "bf16 autocast")]) == [1, 2]
    assert sorted(r["seed"] for r in groups[("batch-128", "bf16 autocast + fp32 logits")]) == [1, 2]
    assert sorted(r["seed"] for r in groups[("v3", "fp32")]) == [42, 42]
    assert "- v3, bf16 autocast + fp32 logits minus fp32 over the same seeds (42)" in "\n".join(precision_lines(groups))
    # the timing is the latest round that trained as train.py does now (bf16 logits), whatever the order
    later = _results()
    later["preset-amp"] = _run(0.17, 0.31, 0.18, best_epoch=7)
    assert "(seed 42): best epoch 5 of 10" in timing_line([old, new])
    assert "(seed 42): best epoch 7 of 10" in timing_line([old, new, later])
    assert timing_line([new]) == ""


def test_a_setting_the_preset_leaves_at_its_default_counts():
    from trainer.bench_candidates_md import is_preset

    cfg = preset_config("d", {"seed": 5}, "cuda", True, CANDIDATE_BASE).to_dict()
    assert is_preset(cfg)
    for key, value in [("ema", 0.999), ("label_smoothing", 0.1)]:
        assert not is_preset({**cfg, key: value}), key
    assert not is_preset({**cfg, "model": {**cfg["model"], "layers": 2}})
    older = {k: v for k, v in cfg.items() if k not in ("ema", "label_smoothing")}  # saved before they existed
    assert is_preset(older)


def test_runs_of_other_candidates_join_their_group_from_cpu_steps_and_preset_amp():
    v3 = preset_config("d", {"seed": 42}, "cpu", False, CANDIDATE_BASE).to_dict()
    smoothed = {**v3, "label_smoothing": 0.1}
    steps = {"rows": [{"config": smoothed, "test": {"ndcg@10": 0.2, "hr@10": 0.3}, "val": {"ndcg@10": 0.2},
                       "best_epoch": 9},
                      {"config": {**v3, "label_smoothing": 0.05}, "test": {"ndcg@10": 0.9, "hr@10": 0.9},
                       "val": {"ndcg@10": 0.9}, "best_epoch": 9}]}  # no such candidate: left out
    groups = collect([{"preset-amp": _run(0.16, 0.30, 0.17, config={**smoothed, "seed": 8, "amp": True})}])
    add_cpu_runs(groups, steps)
    assert {k: sorted((r["seed"], r["where"]) for r in v) for k, v in groups.items()} == {
        ("label-smoothing-0.1", "bf16 autocast"): [(8, "GPU")], ("label-smoothing-0.1", "fp32"): [(42, "CPU")]}


def test_cpu_amp_runs_form_their_own_group_and_pair_with_fp32_on_the_same_machine():
    from trainer.bench_candidates_md import CPU_AMP_LABEL

    cpu_fp32 = preset_config("d", {"seed": 42}, "cpu", False, CANDIDATE_BASE).to_dict()
    cpu_amp = {**cpu_fp32, "amp": True}
    steps = {"rows": [{"config": cpu_fp32, "test": {"ndcg@10": 0.17, "hr@10": 0.30}, "val": {"ndcg@10": 0.17},
                       "best_epoch": 9},
                      {"config": cpu_amp, "test": {"ndcg@10": 0.175, "hr@10": 0.31}, "val": {"ndcg@10": 0.18},
                       "best_epoch": 9}]}
    groups = collect([_results()])  # v3 fp32 at seed 42 on the GPU: test ndcg@10 0.18
    add_cpu_runs(groups, steps)
    assert sorted((r["seed"], r["where"]) for r in groups[("v3", "fp32")]) == [(42, "CPU"), (42, "GPU")]
    assert [(r["seed"], r["where"]) for r in groups[("v3", CPU_AMP_LABEL)]] == [(42, "CPU")]
    assert groups[("v3", "bf16 autocast")] == collect([_results()])[("v3", "bf16 autocast")]  # CUDA's stay apart
    lines = precision_lines(groups)
    # CPU autocast minus CPU fp32 (0.175 - 0.17), not minus the GPU's fp32 run of the same seed (0.18)
    assert f"- v3, {CPU_AMP_LABEL} minus fp32 over the same seeds (42 (fp32 on CPU)): validation ndcg@10 +0.0100, " \
           "test ndcg@10 +0.0050, test hr@10 +0.0100." in lines
    # and CUDA autocast still pairs with the GPU's fp32 run
    assert lines[0].startswith("- v3, bf16 autocast minus fp32 over the same seeds (42): validation ndcg@10 -0.0100")
