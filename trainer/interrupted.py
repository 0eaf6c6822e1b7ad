"""What a command interrupted with Ctrl-C (or SIGTERM) says: what it kept and how to go on, instead of a
traceback."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import threading
from pathlib import Path
from typing import Iterator


def interrupted_message(args: argparse.Namespace) -> str:
    """The line printed when `args`' command is interrupted (KeyboardInterrupt)."""
    from .checkpoint import CKPT_FILE, read_history  # torch: not for every command's start-up

    if args.command == "train":
        out = Path(args.out)
        if not (out / CKPT_FILE).exists():
            return f"interrupted before the first epoch finished; nothing of the run was kept in {out}"
        epochs = len(read_history(out))
        again = ["python", "-m", "trainer", "train", "--data", str(args.data), "--out", str(out), "--resume"]
        return (f"interrupted; {out} keeps {epochs} finished epoch(s), and `{shlex.join(again)}` continues "
                "from the last one (the same run as if never stopped)")
    if args.command == "serve":
        return "interrupted; a TorchServe this serve had started (if it got that far) was stopped again, and no other"
    if args.command == "recipe":
        return f"interrupted; {args.out} keeps its finished runs: the same command again continues the recipe"
    return f"interrupted; {args.command} left its outputs as they were (each is written whole or not at all)"


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, `timeout`, a batch scheduler's preemption, side_by_side stopping its runs),
    raised where the process is, so that it ends as Ctrl-C does: a new run that has no checkpoint
    yet removes what it wrote, `serve` stops the TorchServe it started, and the same line says what
    was kept. Python's default for SIGTERM ends the process on the spot, with none of that."""

    exit_status = 143  # the shell's status for a process ended by SIGTERM (128 + 15)


class _Received:
    """The interrupt (KeyboardInterrupt for Ctrl-C, Terminated for SIGTERM) that arrived inside the current
    sigterm_as_interrupt block, if any."""

    exception: type[KeyboardInterrupt] | None = None


def _raise(signum: int, frame: object) -> None:
    _Received.exception = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
    raise _Received.exception


def raise_if_interrupted() -> None:
    """Raise the interrupt (Ctrl-C or SIGTERM) that arrived in this block if its exception never reached the command.

    Code that swallows the exception hides it: numpy's lazy `numpy.random` import (its Cython modules'
    init, the first `np.random` use in training) loses an exception raised inside it, so a kill 2-4 ms
    after a new run wrote config.json let it train on to the end and exit 0 (2 of 40 tries, 2026-12-03).
    A Ctrl-C can be lost the same way, in such code or in code whose errors Python can only print (a
    finalizer the garbage collector runs). The training loop calls this at every batch, and the block's
    end once more.
    """
    if _Received.exception is not None:
        raise _Received.exception


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises Terminated inside the block, and Ctrl-C KeyboardInterrupt as always, each
    remembered for raise_if_interrupted (main thread only: elsewhere Python sets no handlers); the
    previous handlers are back afterwards, for a caller running commands in process. A Ctrl-C that
    the process inherited as ignored (a job started with `&` in a script) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # SIGINT only where it would raise KeyboardInterrupt anyway (Python's own handler), not where it is ignored.
    ours = [signal.SIGTERM] + ([signal.SIGINT] if signal.getsignal(signal.SIGINT) is signal.default_int_handler else [])
    previous = {signum: signal.signal(signum, _raise) for signum in ours}
    try:
        yield
        raise_if_interrupted()  # an interrupt that something swallowed still ends the command as one
    finally:
        _Received.exception = None  # or a later train() in this process, outside any block, would raise it
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def exit_status(exc: KeyboardInterrupt) -> int:
    """130 for Ctrl-C (128 + SIGINT), 143 for SIGTERM."""
    return exc.exit_status if isinstance(exc, Terminated) else 130


def stopped(exc: KeyboardInterrupt) -> str:
    """How a command was stopped, the first word of its line: "interrupted" or "terminated (SIGTERM)"."""
    return "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"


def stopped_message(args: argparse.Namespace, exc: KeyboardInterrupt) -> str:
    """interrupted_message, saying which signal it was."""
    return interrupted_message(args).replace("interrupted", stopped(exc), 1)
