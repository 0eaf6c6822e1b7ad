"""What a command interrupted with Ctrl-C says: what it kept and how to go on, instead of a traceback."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from .checkpoint import CKPT_FILE, read_history


def interrupted_message(args: argparse.Namespace) -> str:
    """The line printed when `args`' command is interrupted (KeyboardInterrupt)."""
    if args.command == "train":
        out = Path(args.out)
        if not (out / CKPT_FILE).exists():
            return f"interrupted before the first epoch finished; nothing of the run was kept in {out}"
        epochs = len(read_history(out))
        again = ["python", "-m", "trainer", "train", "--data", str(args.data), "--out", str(out), "--resume"]
        return (f"interrupted; {out} keeps {epochs} finished epoch(s), and `{shlex.join(again)}` continues "
                "from the last one (the same run as if never stopped)")
    if args.command == "serve":
        return "interrupted while TorchServe started; it was stopped again"
    if args.command == "recipe":
        return f"interrupted; {args.out} keeps its finished runs: the same command again continues the recipe"
    return f"interrupted; {args.command} left its outputs as they were (each is written whole or not at all)"
