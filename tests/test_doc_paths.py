"""Every project file and README section that the docs and the code's comments point a reader to exists.

The measurement logs moved from README and trainer/presets.py into docs/ once; a pointer left to the
old place would send a reader to a file or section that is not there.
"""

from __future__ import annotations

import re
from pathlib import Path

from conftest import REPO

# A README section as the texts name it: (README, Distillation), README: Server configuration.
SECTION = re.compile(r"README[,:] ([A-Z][\w-]*)")
# A repo-relative path as the texts write it: `trainer/pop_prior.py`, docs/presets.md, handler/model-config.yaml.
PATH = re.compile(r"(?<![\w/.-])((?:trainer|handler|docs|tests)/[\w./-]*\w\.(?:py|md|yaml|yml|json|png|xml))")


def _pointing_texts() -> list[Path]:
    texts = [REPO / "README.md", REPO / "BENCHMARKS.md", REPO / "Makefile", REPO / "config.properties"]
    texts += sorted((REPO / "docs").glob("*.md"))
    texts += sorted((REPO / "trainer").glob("*.py")) + sorted((REPO / "handler").glob("*.py"))
    return texts


def paths_named(text: str) -> set[str]:
    """The repo-relative file paths a text names, leaving out templates (`docs/accuracy_curves-NAME.png`)."""
    return {p for p in PATH.findall(text) if not re.search(r"[A-Z]{3,}", p.rsplit("/", 1)[-1])}


def test_paths_named_finds_paths_and_skips_templates() -> None:
    text = ("see trainer/presets.py, (docs/presets.md) and `handler/model-config.yaml`; "
            "not docs/accuracy_curves-NAME.png, build/bench/x.json nor mytrainer/x.py")
    assert paths_named(text) == {"trainer/presets.py", "docs/presets.md", "handler/model-config.yaml"}


def test_every_file_the_docs_and_comments_name_exists() -> None:
    missing = {}
    for text in _pointing_texts():
        for path in paths_named(text.read_text(encoding="utf-8")):
            if not (REPO / path).exists():
                missing.setdefault(path, []).append(text.relative_to(REPO).as_posix())
    assert not missing, f"named but not in the repo: {missing}"
    # the check reads what it should: the docs' own pointers are among what it found
    assert "docs/presets.md" in paths_named((REPO / "trainer" / "presets.py").read_text())


def test_every_readme_section_named_is_a_heading() -> None:
    headings = [line.lstrip("#").strip() for line in (REPO / "README.md").read_text().splitlines()
                if line.startswith("## ") or line.startswith("### ")]
    named = {}
    for text in _pointing_texts() + sorted((REPO / "tests").glob("*.py")) + sorted((REPO / "handler").glob("*.yaml")):
        for section in SECTION.findall(text.read_text(encoding="utf-8")):
            named.setdefault(section, []).append(text.relative_to(REPO).as_posix())
    assert {"Distillation", "Sessions", "Training"} <= set(named)
    missing = {s: where for s, where in named.items() if not any(h.startswith(s) for h in headings)}
    assert not missing, f"README has no section starting so: {missing}"
