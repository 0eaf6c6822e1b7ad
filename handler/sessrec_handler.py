"""TorchServe handler for sessrec: raw movie ids in, the next movies out.

Request  `{"movies": [raw ids, oldest first], "k": 20, "exclude": [raw ids], "candidates": [raw ids]}`
(`candidates`, optional: rank only these movies)
Response `{"movies": [k raw ids, best first], "scores": [...], "unknown": [ids not in the vocabulary]}`
(ids are strings for a run whose log named movies by text, `prepare --text-movie-ids`: movie_names.py)
A bad request gets `{"code": 4xx, "type": ..., "message": ...}` for itself alone.

Stateless (the default archive): every request carries the whole history. Stateful (an archive
whose model-config.yaml sets `sequenceBatching`): TorchServe gives each session an id (header
`ts_request_sequence_id`); its first request carries the history, later ones only the new movies,
and the handler advances the stored GRU state one step per new movie (session_flow.py). Session
answers also carry `"step"` (requests applied so far); a request may name the step it follows
(`"after": N`), which makes resending it after a timeout safe: it is applied once.

Encoding, masking and top-k come from the trainer's `recommend.py`, shipped in the archive, so
what is served is exactly what offline evaluation measured.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import logging
import sys
import warnings
import zipfile
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
session_cache = _load_sibling("session_cache", "handler.session_cache")
session_store = _load_sibling("session_store", "handler.session_store")
session_flow = _load_sibling("session_flow", "handler.session_flow")
serving_config = _load_sibling("serving_config", "handler.serving_config")
movie_names = _load_sibling("movie_names", "trainer.movie_names")
answer_text = _load_sibling("answer_text", "handler.answer_text").answer_text


def _export_record(model_file: Path) -> dict[str, Any]:
    """The record export.py saves inside model.pt (a zip; TorchScript's extra files sit in `*/extra/`),
    read without loading the model a second time; {} for a file without one (a baseline's)."""
    try:
        with zipfile.ZipFile(model_file) as archive:
            name = next((n for n in archive.namelist() if n.endswith("/extra/sessrec_export.json")), None)
            return json.loads(archive.read(name)) if name else {}
    except (OSError, zipfile.BadZipFile, ValueError):
        return {}


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
        # A log with text movie ids: requests and answers use them; inside, the split files' numbers
        self.names = movie_names.MovieNames(vocab["names"], self.raw_ids) if vocab.get("names") else None
        self.answer_ids: list[int] | list[str] = self.names.names if self.names else self.raw_ids
        self.text_ids = movie_names.MAX_TEXT_ID if self.names else 0
        self.max_len: int = int(config["max_len"])
        # for describe_handle: the run's kind and shape, how it was trained, and which weights (export.py's record)
        self.kind = config.get("kind", "gru")
        self.model_args = config.get("model", {})
        self.trained = {key: config[key] for key in ("data", "seed", "lr", "batch_size", "min_count", "select_metric")
                        if key in config}
        self.weights = _export_record(model_dir / self.manifest["model"]["serializedFile"]).get("best_sha256")
        yaml_config = getattr(self, "model_yaml_config", None) or {}
        try:  # TorchServe has already applied (or dropped) its own settings: say so, serve anyway
            serving_config.check_torchserve(yaml_config)
        except ValueError as exc:
            logger.warning("%s", exc)
        self.limits, threads, sessions = serving_config.handler_settings(yaml_config, request_parser.Limits.from_config)
        if threads > 0:
            # Workers x threads should not exceed the cores, or the threads fight each other.
            torch.set_num_threads(threads)
        self.flow = None  # session work (and its store) when the archive runs sequence batching
        if sessions is not None:
            if not hasattr(self.model, "step"):
                raise ValueError(f"{config.get('kind', 'this')} model has no step(): sessions need a GRU run")
            store = self._session_store(sessions, context.model_name)
            self.flow = session_flow.SessionFlow(self.model, store, self.max_len, self.device,
                                                 recommend.START_INDEX, recommend.pad_batch, session_cache.Session)
        logger.info("sessrec handler: %d movies, max_len %d, %s, sessions %s, torch threads %d", len(self.raw_ids),
                    self.max_len, self.limits, sessions or "off", torch.get_num_threads())

    def _session_store(self, cfg: dict[str, Any], model_name: str) -> Any:
        """`store: memory` (this worker only: the archive runs one worker) or `shared` (an SQLite file
        all workers of this TorchServe instance open, so sessions may move between workers);
        `cfg`: serving_config.session_settings."""
        capacity, idle = cfg["capacity"], cfg["idle_seconds"]
        if cfg["store"] == "memory":
            return session_cache.SessionCache(capacity, idle)
        with torch.inference_mode():
            shape = tuple(self.model.encode(torch.ones(1, 1, dtype=torch.long), torch.ones(1, dtype=torch.long)).shape)
        path = Path(cfg["path"]) if cfg["path"] else session_store.default_path(model_name)
        session_store.remove_stale(path.parent)
        return session_store.SessionStore(
            path, capacity, idle, shape, session_type=session_cache.Session,
            to_tensor=lambda b, shape: torch.frombuffer(bytearray(b), dtype=torch.float32).reshape(shape))

    def describe_handle(self) -> str:
        """What this archive serves, for `GET /models/NAME?customized=true` on the management API (its
        `customizedMetadata`): a deployment told apart from another without opening its files."""
        return json.dumps({"kind": self.kind, "movies": len(self.raw_ids), "movie_ids": "text" if self.names else "int",
                           "max_len": self.max_len,
                           "sessions": self.flow is not None, "weights_sha256": self.weights,
                           "limits": dataclasses.asdict(self.limits),
                           "model": self.model_args, "trained": self.trained})

    def preprocess(self, data: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Validate and encode each request; a bad one becomes an error entry, the rest go on."""
        rows: list[dict[str, Any]] = []
        for i, row in enumerate(data):
            raw = row.get("body") if row.get("body") is not None else row.get("data")
            try:
                req = request_parser.parse_request(raw, self.limits, self.text_ids)
            except request_parser.RequestError as exc:
                rows.append({"error": (400, exc.kind, str(exc))})
                continue
            asked = req.movies  # as the client wrote them, for `unknown`
            if self.names is not None:
                numbers = self.names.numbers
                req = dataclasses.replace(req, movies=numbers(req.movies), exclude=numbers(req.exclude),
                                          candidates=None if req.candidates is None else numbers(req.candidates))
            out = {"k": req.k, "exclude": [self.index_of[m] for m in req.exclude if m in self.index_of],
                   # a candidate the model does not know has no score: it cannot be ranked, so it is left out
                   "allowed": None if req.candidates is None else
                   [self.index_of[m] for m in req.candidates if m in self.index_of]}
            if self.flow is None:
                if req.after is not None:
                    rows.append({"error": (400, "InvalidField", "'after' continues a session; this archive answers "
                                           "stateless requests only (send it to the sessions archive)")})
                    continue
                out["inputs"], out["seen"] = recommend.encode_history(req.movies, self.index_of, self.max_len)
                known = len(out["seen"])
            else:
                out["sid"], out["start"], out["end"] = session_flow.session_headers(self.context, i)
                out["new"] = [self.index_of[m] for m in req.movies if m in self.index_of]
                out["raw"], out["after"] = req.movies, req.after
                known = len(out["new"])
            # Usually every id is known: then no second pass over the history.
            out["unknown"] = [] if known == len(req.movies) else recommend.unknown_ids(
                asked, self.names.number_of if self.names else self.index_of)
            rows.append(out)
        if self.flow is not None:
            self.flow.attach(rows)
        return rows

    def inference(self, rows: list[dict[str, Any]], *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        good = [r for r in rows if "error" not in r]
        if not good:
            return rows
        with torch.inference_mode():
            if self.flow is None:
                movies, lens = recommend.pad_batch([r["inputs"] for r in good])
                scores = self.model.predict_next(movies.to(self.device), lens.to(self.device)).cpu()
            else:
                scores = self.flow.advance(good)
        indices, values = recommend.recommend(scores, [r["seen"] + r["exclude"] for r in good],
                                              max(r["k"] for r in good), [r["allowed"] for r in good])
        for r, idx, val in zip(good, indices.tolist(), values.tolist()):
            r["movies"], r["scores"] = recommend.to_raw(idx, val, r["k"], self.answer_ids)
        return rows

    def postprocess(self, rows: list[dict[str, Any]]) -> list[str]:
        # Each answer leaves as compact JSON text: TorchServe would encode a dict with indent=2,
        # which bypasses json's C encoder (measured 35 vs 13 us per answer, a batch of 16 pays 16);
        # `answer_text` writes it directly, faster still.
        if self.flow is not None:
            self.flow.commit(rows)
            # Counters in TorchServe's model metrics (logs/model_metrics.log), only when nonzero
            for name, n in session_flow.outcome_counts(rows).items():
                self.context.metrics.add_counter(name, n)
        out = []
        for i, r in enumerate(rows):
            self.context.set_response_content_type(i, "application/json")
            if "sid" in r:
                self.context.set_response_header(i, self.context.header_key_sequence_id, r["sid"])
            if "error" in r:
                code, kind, message = r["error"]
                self.context.set_response_status(code, kind, idx=i)
                out.append(json.dumps({"code": code, "type": kind, "message": message}, separators=(",", ":")))
            else:
                out.append(answer_text(r["movies"], r["scores"], r["unknown"], r.get("sid"), r.get("step", 0),
                                       self.text_ids > 0))
        return out
