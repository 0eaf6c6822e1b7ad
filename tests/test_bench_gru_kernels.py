"""The GRU kernel benchmark: what it times computes what the model computes, and its table says so."""

from __future__ import annotations

import re
import shutil

import pytest
import torch

from conftest import cli_error
from trainer.baselines import build_baseline
from trainer.bench_gru_kernels import load_served, main, matmul_variants, measure, render
from trainer.errors import RunDirError
from trainer.export import save_scripted

MKL = "MKL fp32 (torch.addmm, what the model runs)"


def test_variants_compute_the_models_matmul():
    w, b = torch.randn(32, 96), torch.randn(96)
    variants = matmul_variants(w, b, batch=4)
    assert variants[MKL]["rel_diff"] == 0.0
    if "oneDNN fp32, weight prepacked" in variants:  # the same fp32 product, another library
        assert variants["oneDNN fp32, weight prepacked"]["rel_diff"] < 1e-5
    # bf16 keeps 8 bits of mantissa: close to fp32's product, but not the same numbers
    assert 1e-5 < variants["bf16 (torch.addmm)"]["rel_diff"] < 5e-2


def test_measure_and_render_a_trained_run(tiny_run):
    result = measure(tiny_run, batches=(1, 3), batch=2, repeats=1, seconds=0.001)
    assert sorted(result["batches"]) == [1, 2, 3]  # the handler's batch size is always timed
    assert result["steps"] == 40 and result["hidden"] == 16  # tiny_config's max_len and hidden_dim
    assert all(us > 0 for us in result["batches"].values())
    text = render(result)
    rows = {int(m[1]): (float(m[2].replace(",", "")), float(m[3].replace(",", "")))
            for m in re.finditer(r"^\| (\d+) \| ([\d,.]+) \| ([\d,.]+) \|$", text, flags=re.M)}
    assert sorted(rows) == [1, 2, 3]
    for n, (per_call, per_history) in rows.items():
        assert per_history == pytest.approx(per_call / n, abs=1)  # both rounded to whole us
    for name in result["kernels"]:
        assert f"| {name} |" in text
    assert "40 recurrent matmuls" in text


def test_refuses_a_run_without_a_gru(tiny_run, tmp_path):
    run = tmp_path / "pop"
    shutil.copytree(tiny_run, run)
    save_scripted(build_baseline("pop", [[1, 2, 3], [2, 3]], vocab_size=5), run / "model.pt", [[1, 2]])
    with pytest.raises(RunDirError, match="w_hh"):
        load_served(run)
    with pytest.raises(RunDirError, match="missing: no such run directory"):
        load_served(tmp_path / "missing")


def test_cli_names_a_bad_run_and_bad_settings(tmp_path, capsys):
    with cli_error(capsys, "no exported model"):
        main(["--run", str(tmp_path), "--md", str(tmp_path / "B.md")])
    with cli_error(capsys, "--repeats must be at least 1"):
        main(["--run", str(tmp_path), "--repeats", "0", "--md", str(tmp_path / "B.md")])
    assert not (tmp_path / "B.md").exists()  # nothing written for a refused run
