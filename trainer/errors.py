"""Specific exceptions: `python -m trainer` turns each into one error line naming the problem and exit
status 2; the benchmark scripts do the same through `as_cli_error` and `exit_with_error`. So every
command exits 2 for a problem it names and 1 only for a crash (Python's status for a traceback)."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator, NoReturn


class SessrecError(Exception):
    """Base class for every error the CLI reports to the user without a traceback."""


class DataError(SessrecError):
    """Input data is missing, malformed or empty; the message names the file and the problem."""


class RunDirError(SessrecError):
    """A run directory is missing, incomplete, or would be overwritten."""


class ConfigError(SessrecError):
    """A hyperparameter or option has an invalid value."""


class TrainingDiverged(SessrecError):
    """The loss or a weight stopped being finite; nothing of that epoch was saved."""


def exit_with_error(message: str) -> NoReturn:
    """End a benchmark script with its one `error: ...` line and exit status 2."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


@contextlib.contextmanager
def as_cli_error() -> Iterator[None]:
    """For a benchmark script's main(): a SessrecError inside ends the process with its one
    `error: ...` line (exit status 2), not a traceback."""
    try:
        yield
    except SessrecError as exc:
        exit_with_error(str(exc))
