"""The command line's own start-up: what every command pays before it does anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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


def test_version_names_sessrec_and_what_it_runs_on_and_the_script_names_itself():
    import shutil
    from importlib.metadata import version

    res = subprocess.run([sys.executable, "-m", "trainer", "--version"], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0
    assert res.stdout.strip() == f"sessrec {version('sessrec')} (torch {version('torch')}, torchserve {version('torchserve')})"
    script = shutil.which("sessrec", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("no sessrec console script beside this interpreter (sessrec not installed with pip)")
    res = subprocess.run([script, "train"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and res.stderr.startswith("usage: sessrec train ")
