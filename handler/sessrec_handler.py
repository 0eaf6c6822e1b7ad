"""TorchServe handler for sessrec: raw movie ids in, the next movies out.

Request  `{"movies": [raw ids, oldest first], "k": 20, "exclude": [raw ids]}`
Response `{"movies": [k raw ids, best first], "scores": [...], "unknown": [ids not in the vocabulary]}`
A bad request gets HTTP 400 `{"code": 400, "type": ..., "message": ...}` for itself alone.

Encoding, masking and top-k come from the trainer's `recommend.py`, shipped in the archive, so
what is served is exactly what offline evaluation measured.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from ts.torch_handler.base_handler import BaseHandler

logger = logging.getLogger(__name__)
_HERE = Path(__file__).resolve().parent


def _load_sibling(name: str, fallback: str) -> ModuleType:
    """Import `name`.py from beside this file (the archive layout), else `fallback` (a checkout)."""
    path = _HERE / f"{name}.py"
    if not path.exists():
        return importlib.import_module(fallback)
    key = f"sessrec_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


recommend = _load_sibling("recommend", "trainer.recommend")
request_parser = _load_sibling("request_parser", "handler.request_parser")


class SessrecHandler(BaseHandler):
    def initialize(self, context: Any) -> None:
        with warnings.catch_warnings():  # TorchScript's deprecation notice on load, nothing else
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.load` is deprecated", category=DeprecationWarning)
            super().initialize(context)
        self.model.eval()
        model_dir = Path(context.system_properties["model_dir"])
        vocab = json.loads((model_dir / "vocab.json").read_text())
        config = json.loads((model_dir / "config.json").read_text())
        self.raw_ids: list[int] = list(vocab["movies"])
        self.index_of: dict[int, int] = {m: i + 1 for i, m in enumerate(self.raw_ids)}
        self.max_len: int = int(config["max_len"])
        knobs = dict((getattr(self, "model_yaml_config", None) or {}).get("handler") or {})
        threads = int(knobs.pop("threads", 0) or 0)
        if threads > 0:
            # Workers x threads should not exceed the cores, or the threads fight each other.
            torch.set_num_threads(threads)
        self.limits = request_parser.Limits.from_config(knobs)
        logger.info("sessrec handler: %d movies, max_len %d, %s, torch threads %d", len(self.raw_ids),
                    self.max_len, self.limits, torch.get_num_threads())

    def preprocess(self, data: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Validate and encode each request; a bad one becomes an error entry, the rest go on."""
        rows = []
        for row in data:
            raw = row.get("body") if row.get("body") is not None else row.get("data")
            try:
                req = request_parser.parse_request(raw, self.limits)
            except request_parser.RequestError as exc:
                rows.append({"error": (exc.kind, str(exc))})
                continue
            inputs, seen = recommend.encode_history(req.movies, self.index_of, self.max_len)
            unknown = list(dict.fromkeys(m for m in req.movies if m not in self.index_of))
            seen = seen + [self.index_of[m] for m in req.exclude if m in self.index_of]
            rows.append({"inputs": inputs, "seen": seen, "k": req.k, "unknown": unknown})
        return rows

    def inference(self, rows: list[dict[str, Any]], *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        good = [r for r in rows if "error" not in r]
        if not good:
            return rows
        movies, lens = recommend.pad_batch([r["inputs"] for r in good])
        with torch.inference_mode():
            scores = self.model.predict_next(movies.to(self.device), lens.to(self.device)).cpu()
        indices, values = recommend.recommend(scores, [r["seen"] for r in good], max(r["k"] for r in good))
        for r, idx, val in zip(good, indices.tolist(), values.tolist()):
            r["ranked"] = [(i, v) for i, v in zip(idx[: r["k"]], val[: r["k"]]) if i != recommend.NO_ITEM]
        return rows

    def postprocess(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for i, r in enumerate(rows):
            if "error" in r:
                kind, message = r["error"]
                self.context.set_response_status(400, kind, idx=i)
                out.append({"code": 400, "type": kind, "message": message})
            else:
                out.append({"movies": [self.raw_ids[idx - 1] for idx, _ in r["ranked"]],
                            "scores": [float(v) for _, v in r["ranked"]], "unknown": r["unknown"]})
        return out
