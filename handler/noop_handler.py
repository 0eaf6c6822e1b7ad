"""Benchmark floor: a TorchServe handler that does no work and returns a constant.

`make bench-serve` serves it beside sessrec with the same config, so the ratio of the two
throughputs shows how much of serving time sessrec's own work takes.
"""

from __future__ import annotations

from typing import Any

_RESPONSE = {"movies": [], "scores": [], "unknown": []}


def handle(data: list[Any] | None, context: Any) -> list[dict[str, list]] | None:
    if data is None:  # the load-time call TorchServe makes without data
        return None
    return [_RESPONSE] * len(data)
