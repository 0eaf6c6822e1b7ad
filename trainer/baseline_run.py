"""`baseline`: fit a baseline and write a run directory that `evaluate` and `make archive` accept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .atomic import write_text_atomic
from .baselines import build_baseline
from .config import TrainConfig
from .data_identity import data_record, record_data
from .errors import ConfigError
from .evaluation import build_cases, evaluate_scorer
from .export import MODEL_FILE, save_scripted
from .movie_ids import read_movies
from .run_kind import CONFIG_FILE
from .run_lock import claim_run_dir
from .splits import history_for, load_data_dir
from .vocab import VOCAB_FILE, Vocab

BASELINES = ("pop", "sr", "sknn")


def run_baseline(name: str, data_dir: Path, out_dir: Path, min_count: int = 5, max_len: int = 150) -> dict[str, Any]:
    """Fit `name` on the training split, export it, and return its validation metrics."""
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}: expected one of {', '.join(BASELINES)}")
    cfg = TrainConfig(kind=name, data=str(data_dir), min_count=min_count, max_len=max_len, epochs=1)
    cfg.validate()
    out_dir = Path(out_dir)
    splits = load_data_dir(Path(data_dir))
    with claim_run_dir(out_dir, resume=False, resumable=False):
        vocab = Vocab.build(splits["train"].movies, min_count, read_movies(Path(data_dir)))
        cfg.model.vocab_size = vocab.size
        seqs = [vocab.encode(seq) for seq in splits["train"].movies]
        model = build_baseline(name, [s for s in seqs if s], vocab.size).eval()
        val_cases = build_cases(history_for(splits, "validate"), splits["validate"], vocab, max_len)
        val = evaluate_scorer(model.predict_next, val_cases, cfg.eval_k, counts=vocab.counts)
        save_scripted(model, out_dir / MODEL_FILE, [[0], [0] + list(range(1, min(vocab.size, max_len)))])
        vocab.save(out_dir / VOCAB_FILE)
        write_text_atomic(out_dir / CONFIG_FILE, json.dumps(cfg.to_dict(), indent=2) + "\n")
        record_data(out_dir, data_dir, data_record(data_dir, splits))
    summary = {"baseline": name, "val": val, "model": str(out_dir / MODEL_FILE)}
    print(json.dumps(summary))
    return summary
