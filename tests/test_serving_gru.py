"""The exported serving form of the GRU computes what the trained nn.GRU model computes."""

from __future__ import annotations

import pytest
import torch

from trainer.config import ModelConfig
from trainer.export import CHECK_LEN, check_inputs, save_scripted, torchscript_quiet
from trainer.model import SessionGRU
from trainer.recommend import pad_batch
from trainer.serving_gru import ServingGRU

SEQS = [[0, 3, 4, 5], [0], [0, 9, 9, 1, 2, 3, 4, 8, 7], [7, 8], [0, 1]]  # unsorted, mixed lengths


@pytest.mark.parametrize("cfg", [ModelConfig(vocab_size=60, emb_dim=8, hidden_dim=12),
                                 ModelConfig(vocab_size=60, emb_dim=8, hidden_dim=12, layers=3, dropout=0.3),
                                 ModelConfig(vocab_size=60, emb_dim=16, hidden_dim=12, tied=True, emb_dropout=0.5)],
                         ids=["1-layer", "3-layers", "tied"])
def test_scripted_serving_gru_matches_the_trained_model(cfg):
    torch.manual_seed(0)
    model = SessionGRU(cfg).eval()
    with torchscript_quiet():
        served = torch.jit.script(ServingGRU(model))
    movies, lens = pad_batch(SEQS)
    with torch.inference_mode():
        assert torch.allclose(served.predict_next(movies, lens), model.predict_next(movies, lens), atol=1e-6)
        state = model.encode(movies, lens)
        assert torch.allclose(served.encode(movies, lens), state, atol=1e-6)
        nxt = torch.tensor([1, 2, 3, 4, 5])
        stepped = served.step(state, nxt)
        assert torch.allclose(stepped, model.step(state, nxt), atol=1e-6)
        assert torch.allclose(served.scores(stepped), model.scores(stepped), atol=1e-6)
        # stepping movie by movie ends where one pass over the whole sequence ends
        longer, longer_lens = pad_batch([s + [6, 7] for s in SEQS])
        stepped = served.step(served.step(served.encode(movies, lens), torch.full((5,), 6)), torch.full((5,), 7))
        assert torch.allclose(stepped, served.encode(longer, longer_lens), atol=1e-6)
        # every weight moves with the module (as .cuda() must move them in TorchServe on a GPU)
        as_double = served.double().predict_next(movies, lens)
        assert torch.allclose(as_double, model.double().predict_next(movies, lens), atol=1e-5)


def test_export_tolerance_follows_the_scale_of_the_scores(tmp_path):
    # Weights grown by a large lr give scores in the thousands, where fp32 rounding alone differs by
    # ~1e-4 between the two (equal) formulations: that must export, and a real error still must not.
    torch.manual_seed(0)
    model = SessionGRU(ModelConfig(vocab_size=300, emb_dim=8, hidden_dim=8)).eval()
    with torch.no_grad():
        model.output.weight.mul_(3000.0)
    inputs = check_inputs(300, 50)
    movies, lens = pad_batch(inputs)
    with torch.no_grad():
        assert float(model.predict_next(movies, lens).abs().max()) > 1000
    save_scripted(ServingGRU(model), tmp_path / "model.pt", inputs, reference=model)
    assert (tmp_path / "model.pt").exists()
    wrong = ServingGRU(model)
    with torch.no_grad():
        wrong.gate_table[2] += 0.1  # movie 2 ends the history [0, 1, 2]
    with pytest.raises(RuntimeError, match="differs from the trained model"):
        save_scripted(wrong, tmp_path / "wrong.pt", inputs, reference=model)


def test_export_refuses_a_serving_model_that_differs(tmp_path):
    torch.manual_seed(0)
    model = SessionGRU(ModelConfig(vocab_size=30, emb_dim=8, hidden_dim=8)).eval()
    wrong = ServingGRU(model)
    with torch.no_grad():
        wrong.gate_table[5] += 1.0  # movie 5's input gates off: only histories with movie 5 differ
    with pytest.raises(RuntimeError, match="differs from the trained model"):
        save_scripted(wrong, tmp_path / "model.pt", [[0, 5, 6], [0, 1]], reference=model)
    assert not (tmp_path / "model.pt").exists()


def test_a_max_len_past_any_history_trains_and_exports(tiny_data, tmp_path):
    # "--max-len 1000000000" (read whole histories): training ran, then the export's check built a
    # list of 10**9 ids and died with MemoryError.
    from conftest import run_cli

    run = tmp_path / "run"
    res = run_cli("train", "--data", str(tiny_data), "--out", str(run), "--epochs", "1", "--max-len", "1000000000",
                  "--hidden-dim", "16", "--emb-dim", "16", timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (run / "model.pt").exists()
    assert len(check_inputs(300, 10**9)[-1]) == CHECK_LEN and len(check_inputs(300, 50)[-1]) == 50
