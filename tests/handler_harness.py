"""Drive the handler as TorchServe does, without a server: the archive's own files, a real
`ts.context.Context` with per-request processors, and `handler.handle(batch, context)`."""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

import yaml
from ts.context import Context, RequestProcessor
from ts.metrics.metrics_store import MetricsStore

from trainer.archive import HANDLER_DIR, SESSIONS_CONFIG, build_archive


def extract_archive(run_dir: Path, tmp: Path, sessions: bool = False) -> Path:
    """Build the .mar from a run and unpack it as TorchServe does; returns the model dir."""
    mar = build_archive(run_dir, tmp / "store", model_config=SESSIONS_CONFIG if sessions else HANDLER_DIR / "model-config.yaml")
    model_dir = tmp / "model_dir"
    with zipfile.ZipFile(mar) as zf:
        zf.extractall(model_dir)
    return model_dir


class Harness:
    """A handler initialized from an unpacked archive, called one batch at a time."""

    def __init__(self, model_dir: Path, yaml_overrides: dict[str, Any] | str | None = None,
                 top_overrides: dict[str, Any] | None = None) -> None:
        """`yaml_overrides` replace keys of model-config.yaml's `handler:` section (a string replaces the
        section itself), `top_overrides` top-level keys."""
        name = f"sessrec_handler_{uuid.uuid4().hex}"
        spec = importlib.util.spec_from_file_location(name, model_dir / "sessrec_handler.py")
        self.module = importlib.util.module_from_spec(spec)
        sys.modules[name] = self.module
        spec.loader.exec_module(self.module)
        self.model_dir = model_dir
        self.manifest = json.loads((model_dir / "MAR-INF" / "MANIFEST.json").read_text())
        self.cfg = yaml.safe_load((model_dir / self.manifest["model"]["configFile"]).read_text())
        if isinstance(yaml_overrides, str):
            self.cfg["handler"] = yaml_overrides
        else:
            self.cfg["handler"].update(yaml_overrides or {})
        self.cfg.update(top_overrides or {})
        self.handler = self.module.SessrecHandler()
        self.handler.initialize(self.context(1))

    def context(self, n: int, headers: list[dict[str, str]] | None = None) -> Context:
        ctx = Context("sessrec", str(self.model_dir), self.manifest, n, None, "0.12.0",
                      metrics=MetricsStore(uuid.uuid4(), "sessrec"), model_yaml_config=self.cfg)
        ctx.request_processor = [RequestProcessor(dict((headers or [{}] * n)[i])) for i in range(n)]
        return ctx

    def call(self, bodies: list[Any], headers: list[dict[str, str]] | None = None) -> list[tuple[int, Any]]:
        """One batch through `handle`; returns (HTTP status, response) per request."""
        self.last = ctx = self.context(len(bodies), headers)
        out = self.handler.handle([{"body": b} for b in bodies], ctx)
        # What the client receives: the handler's JSON text, declared as JSON.
        assert all(isinstance(o, str) and ctx.get_response_content_type(i) == "application/json" for i, o in enumerate(out))
        return [(ctx.get_response_status(i)[0], json.loads(out[i])) for i in range(len(bodies))]
