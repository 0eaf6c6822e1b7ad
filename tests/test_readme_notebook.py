"""README's notebook snippet, run as written (paths pointed at small data), so the README stays true."""

from __future__ import annotations

import contextlib
import io
import re
import shutil

from conftest import REPO
from trainer.baseline_run import run_baseline


def test_the_from_a_notebook_snippet_runs(tiny_data, tmp_path, monkeypatch):
    text = (REPO / "README.md").read_text()
    snippet = re.search(r"From a notebook, the same run.*?```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(tmp_path)  # its relative paths land here
    shutil.copytree(tiny_data, tmp_path / "data" / "mine")
    with contextlib.redirect_stdout(io.StringIO()):
        run_baseline("pop", tmp_path / "data" / "mine", tmp_path / "runs" / "pop")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(snippet.replace("epochs=10", "epochs=2"), "README.md", "exec"), {})  # noqa: S102 (our own README)
    assert (tmp_path / "runs" / "mine" / "model.pt").is_file()
    assert "| metric | runs/pop | runs/mine | runs/mine - runs/pop |" in out.getvalue()
