"""Benchmark floor: a TorchServe handler that does no work and returns a constant.

`make bench-serve` serves it beside sessrec with the same config, so the ratio of the two
throughputs shows how much of serving time sessrec's own work takes.
"""

from __future__ import annotations

import json
from typing import Any

# Ready JSON text, as sessrec answers (a dict would make TorchServe encode it, extra work no handler needs).
_RESPONSE = json.dumps({"movies": [], "scores": [], "unknown": []}, separators=(",", ":"))


def handle(data: list[Any] | None, context: Any) -> list[str] | None:
    if data is None:  # the load-time call TorchServe makes without data
        return None
    stateful = bool((getattr(context, "model_yaml_config", None) or {}).get("sequenceBatching"))
    for i in range(len(data)):
        context.set_response_content_type(i, "application/json")
        if stateful:
            # The least a stateful handler does: tell the client its session id, so that the
            # sessions benchmark drives this floor with exactly the protocol sessrec gets.
            context.set_response_header(i, context.header_key_sequence_id, context.get_sequence_id(i))
    return [_RESPONSE] * len(data)
