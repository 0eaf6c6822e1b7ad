"""The benchmark floor handler: constant answers, and session ids echoed under sequence batching."""

from __future__ import annotations

import json
import uuid

from ts.context import Context, RequestProcessor
from ts.metrics.metrics_store import MetricsStore

from handler import noop_handler


def _context(yaml_config: dict, sids: list[str]) -> Context:
    ctx = Context("noop", "/nonexistent", {}, len(sids), None, "0.12.0",
                  metrics=MetricsStore(uuid.uuid4(), "noop"), model_yaml_config=yaml_config)
    ctx.request_processor = [RequestProcessor({"ts_request_sequence_id": s}) for s in sids]
    return ctx


def test_noop_echoes_session_ids_only_under_sequence_batching():
    ctx = _context({"sequenceBatching": True}, ["a", "b"])
    out = noop_handler.handle([{"body": b"{}"}, {"body": b"{}"}], ctx)
    assert [json.loads(o) for o in out] == [{"movies": [], "scores": [], "unknown": []}] * 2
    assert [ctx.get_response_content_type(i) for i in range(2)] == ["application/json"] * 2
    assert [ctx.get_response_headers(i).get("ts_request_sequence_id") for i in range(2)] == ["a", "b"]
    ctx = _context({}, ["a"])
    noop_handler.handle([{"body": b"{}"}], ctx)
    assert "ts_request_sequence_id" not in ctx.get_response_headers(0)
    assert noop_handler.handle(None, ctx) is None
