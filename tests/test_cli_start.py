"""The command line's own start-up: what every command pays before it does anything."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_the_command_line_starts_without_torch():
    # `python -m trainer stop` or `request` must start in milliseconds, not after a second of importing
    # torch: building the parser (train's --select-metric, recipe's names) may not import torch or numpy.
    code = ("import contextlib, io, sys, trainer.__main__ as m\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    m.main(['train', '--help'])  # builds every subcommand's parser, then exits\n"
            "print(sorted(x for x in ('torch', 'numpy') if x in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == "[]", (res.stdout, res.stderr)
