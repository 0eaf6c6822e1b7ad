"""bench_warm_start: cold and warm retrains of newer data side by side, each scored like `evaluate`."""

from __future__ import annotations

import json
import pickle

import pytest

from trainer.bench_warm_start import main
from trainer.config import TrainConfig
from trainer.evaluate import evaluate_run
from trainer.splits import load_data_dir

FLAGS = ["--epochs", "2", "--batch-size", "64", "--min-count", "2", "--max-len", "40", "--emb-dim", "16",
         "--hidden-dim", "16"]


@pytest.fixture(scope="module")
def earlier(tiny_data, tmp_path_factory):
    """tiny_data as it stood earlier: each training history's first half, the next movies held out."""
    train = load_data_dir(tiny_data)["train"]
    out = tmp_path_factory.mktemp("data") / "earlier"
    out.mkdir()
    for name, part in (("train", lambda m: m[: len(m) // 2]), ("validate", lambda m: m[len(m) // 2:][:3]),
                       ("test", lambda m: m[len(m) // 2:][3:6])):
        with open(out / f"{name}.pkl", "wb") as f:
            pickle.dump((train.users, [part(m) for m in train.movies]), f)
    return out


def test_old_cold_and_warm_runs_are_trained_scored_and_averaged(tiny_data, earlier, tmp_path, capsys):
    out = tmp_path / "bench"
    args = ["--old", str(earlier), "--new", str(tiny_data), "--out", str(out), "--seeds", "4", "--keep", "1", "0.5",
            "--", *FLAGS]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["runs"]) == ["old", "cold", "keep-1", "keep-0.5"]
    for kind, keep in (("keep-1", 1.0), ("keep-0.5", 0.5)):
        cfg = TrainConfig.load(out / f"{kind}-seed-4" / "config.json")
        assert (cfg.init_from, cfg.init_keep, cfg.seed, cfg.model.hidden_dim) == (str(out / "old-seed-4"), keep, 4, 16)
    assert TrainConfig.load(out / "cold-seed-4" / "config.json").init_from == ""
    assert TrainConfig.load(out / "old-seed-4" / "config.json").data == str(earlier)
    for kind in summary["runs"]:
        assert summary["mean"][kind]["test"] == evaluate_run(tiny_data, out / f"{kind}-seed-4", "test")["map@20"]
    assert summary["mean"]["cold"]["test"] != summary["mean"]["keep-1"]["test"]
    printed = capsys.readouterr().out
    assert "| the old run, not retrained |" in printed and "| keep-0.5 |" in printed

    # Called again, finished runs are kept as they are; the table goes into a BENCHMARKS.md section too.
    before = (out / "keep-1-seed-4" / "model.pt").stat().st_mtime_ns
    md = tmp_path / "BENCHMARKS.md"
    md.write_text("# sessrec benchmarks\n\n## Other\n\nkept\n")
    assert main([*args[:-len(FLAGS) - 1], "--md", str(md), "--name", "tiny", "--", *FLAGS]) == 0
    assert (out / "keep-1-seed-4" / "model.pt").stat().st_mtime_ns == before
    text = md.read_text()
    assert "## Other\n\nkept" in text and "## Warm-start retrains (tiny)" in text
    assert f"| keep-0.5 | {summary['mean']['keep-0.5']['val']:.4f} | {summary['mean']['keep-0.5']['test']:.4f} |" in text
    assert "Command: `python -m trainer.bench_warm_start --old" in text and "--hidden-dim 16" in text


@pytest.mark.parametrize("extra, message", [
    (["--keep", "0"], "--keep values must be in"),
    (["--md", "B.md"], "--md and --name go together"),
    (["--", "--init-from", "x"], "--init-from and --init-keep are the benchmark's"),
    (["--", "--init-k=0.3"], "--init-from and --init-keep are the benchmark's"),
    (["--", "--seed", "3"], "give --seed to the benchmark (--old, --new, --out, --seeds), not among the train flags"),
    (["--", "--resume"], "--resume is not a train flag here: the benchmark resumes its interrupted runs by itself"),
])
def test_its_own_settings_are_refused_among_the_train_flags(tiny_data, earlier, tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as exc:
        main(["--old", str(earlier), "--new", str(tiny_data), "--out", str(tmp_path / "b"), *extra])
    assert exc.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
