"""Named hyperparameter presets: `train --preset NAME` starts from these; explicit flags win.

Each was chosen by measurement (BENCHMARKS.md gives the runs); TrainConfig's own defaults are
the notebook's settings. MovieLens-100k has no preset: no variant measured on its temporal split
beat the defaults (its 69 test users make differences there mostly noise).
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    # MovieLens-1M, leave-one-out, full ranking (the sequential-recommendation benchmark).
    "ml-1m": {"epochs": 200, "batch_size": 64, "lr": 2e-3, "weight_decay": 0.0, "min_count": 1, "max_len": 200,
              "windows": "all", "patience": 8,
              "model": {"emb_dim": 128, "hidden_dim": 256, "emb_dropout": 0.3, "dropout": 0.3}},
}
