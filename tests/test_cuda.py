"""The CUDA training path; skipped where no CUDA device exists (CI has none)."""

from __future__ import annotations

import pytest
import torch

from conftest import tiny_config
from trainer.evaluate import evaluate_run
from trainer.export import load_best_model, load_scripted
from trainer.recommend import pad_batch
from trainer.train import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_cuda_amp_training_exports_a_cpu_model_matching_eager(tiny_data, tmp_path):
    run = tmp_path / "cuda"
    train(tiny_config(tiny_data, device="cuda", amp=True), run, progress=False)
    scripted = load_scripted(run / "model.pt")
    model, _ = load_best_model(run)
    movies, lens = pad_batch([[0, 1, 2, 3], [0, 5]])
    with torch.inference_mode():
        assert torch.allclose(scripted.predict_next(movies, lens), model.predict_next(movies, lens), atol=1e-5)
        gpu = model.cuda().predict_next(movies.cuda(), lens.cuda()).cpu()
        assert torch.allclose(gpu, model.cpu().predict_next(movies, lens), atol=1e-3)
    assert evaluate_run(tiny_data, run, "validate")["users"] > 0


def test_training_on_a_named_gpu_resumes_there(tiny_data, tmp_path):
    # the last GPU by name: on a one-GPU machine cuda:0, elsewhere one the default device is not
    name = f"cuda:{torch.cuda.device_count() - 1}"
    run = tmp_path / "named"
    train(tiny_config(tiny_data, device=name, epochs=2), run, progress=False)
    assert torch.load(run / "ckpt.pt", weights_only=False)["cuda_rng"] is not None
    train(tiny_config(tiny_data, device=name, epochs=3), run, resume=True, progress=False)
    assert evaluate_run(tiny_data, run, "validate")["users"] > 0


def test_a_sampled_softmax_trains_on_cuda_with_amp(tiny_data, tmp_path):
    # the draws, the hit mask and the counts all live on the GPU, beside bf16 features cast up for the loss
    run = tmp_path / "sampled"
    train(tiny_config(tiny_data, device="cuda", amp=True, negatives=16, label_smoothing=0.1), run, progress=False)
    assert evaluate_run(tiny_data, run, "validate")["map@20"] > 0
