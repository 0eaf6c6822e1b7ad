"""BENCHMARKS.md is assembled from sections that each benchmark command rewrites in place."""

from __future__ import annotations

import os
import platform
import re
import time
from pathlib import Path

HEADER = "# sessrec benchmarks\n\nEach section is rewritten by the command named in it; numbers are measured, never typed in.\n"


def measured_on() -> str:
    """What a serving section was measured on: architecture, usable cores, today's date."""
    return f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, {time.strftime('%Y-%m-%d')}"


def replace_section(path: Path, title: str, body: str) -> None:
    """Replace (or append) the `## title` section of the markdown file at `path`."""
    path = Path(path)
    text = path.read_text() if path.exists() else HEADER
    section = f"## {title}\n\n{body.rstrip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", flags=re.M | re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text)
