"""Where a model runs: the device names sessrec takes ("auto", "cpu", "cuda", "cuda:N"), and whether bf16 is native there."""

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


def bf16_native(device: torch.device) -> bool:
    """Whether bf16 autocast runs natively here: CUDA, or a CPU with AVX512-BF16 or AMX (oneDNN says).
    Elsewhere a CPU emulates bf16, slower than fp32."""
    if device.type == "cuda":
        return True
    try:
        return device.type == "cpu" and torch.backends.mkldnn.is_available() and bool(
            torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without the oneDNN query: assume emulation
        return False


def check_amp(device: torch.device, otherwise: str) -> None:
    """Refuse bf16 autocast on `device` unless it is native there: emulated, it is slower than fp32.

    Args:
        device: where the runs will train.
        otherwise: what the user can do instead, ending the message.

    Raises:
        ConfigError: naming the device.
    """
    if not bf16_native(device):
        raise ConfigError(f"--amp: {device} has no native bf16 (a CPU needs AVX512-BF16 or AMX), so bf16 would be "
                          f"emulated, slower than fp32; {otherwise}")
