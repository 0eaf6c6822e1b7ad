"""Where a model runs: the device names sessrec takes ("auto", "cpu", "cuda", "cuda:N")."""

from __future__ import annotations

import torch

from .errors import ConfigError


def resolve_device(name: str, flag: str = "--device") -> torch.device:
    """`name` as a torch device ("auto": CUDA when there is one, else the CPU).

    Raises:
        ConfigError: naming `flag` and the value, when it is not a CPU or CUDA device, or a CUDA
            device this machine does not have (torch's own errors were an AssertionError about how it
            was compiled, or a list of twenty device types).
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ConfigError(f"{flag} {name!r}: expected 'auto', 'cpu', 'cuda' or 'cuda:N'")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{flag} {name} requested but no CUDA device is available")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"{flag} {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device
