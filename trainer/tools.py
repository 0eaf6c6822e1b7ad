"""Locating the command-line tools sessrec drives (TorchServe's, installed beside our Python)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from .errors import SessrecError


def find_tool(name: str) -> str:
    """`name` from this interpreter's bin directory (the venv), else from PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise SessrecError(f"{name} not found; run `make setup`")
    return found
