"""Specific exceptions: `python -m trainer` turns each into one error line naming the problem and exit
code 2; the benchmark scripts do the same through `as_cli_error` (exit status 1)."""

from __future__ import annotations

import contextlib
from typing import Iterator


class SessrecError(Exception):
    """Base class for every error the CLI reports to the user without a traceback."""


class DataError(SessrecError):
    """Input data is missing, malformed or empty; the message names the file and the problem."""


class RunDirError(SessrecError):
    """A run directory is missing, incomplete, or would be overwritten."""


class ConfigError(SessrecError):
    """A hyperparameter or option has an invalid value."""


@contextlib.contextmanager
def as_cli_error() -> Iterator[None]:
    """For a benchmark script's main(): a SessrecError inside ends the process with its one
    `error: ...` line (exit status 1), not a traceback."""
    try:
        yield
    except SessrecError as exc:
        raise SystemExit(f"error: {exc}") from None
