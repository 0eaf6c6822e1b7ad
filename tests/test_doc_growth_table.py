"""docs/presets.md's table of v6's figures as seeds were added, against the runs recorded in
docs/ablations/ml-1m-cpu-steps.json: every computed cell, the seeds each row names, and a row for the last run.
"""

from __future__ import annotations

import re

from conftest import REPO
from test_doc_figures import summary, v6_preset_runs


# A row per group of runs, in the order they are recorded; the columns after the second are computed from them.
_GROWTH_HEADER = "| v6 runs | seeds added |"


def growth_row(runs: list[dict], n: int) -> list[str]:
    """The computed cells of the growth table's row for v6's first `n` runs (the 'v6 runs' count first)."""
    s = summary(runs[:n])
    s_ndcg, s_hr = s["s_ndcg"], s["s_hr"]
    return [str(n), f"{s['hr']:.4f} / {s['ndcg']:.4f}", f"{s_ndcg['sd']:.4f}",
            f"{s_ndcg['low']:.5f}-{s_ndcg['high']:.5f}", f"{s_hr['low']:.4f}-{s_hr['high']:.4f}",
            str(s["hr_at_goal"]), str(s["at_goal"])]


def growth_table(text: str) -> list[list[str]]:
    """The growth table's rows in `text` (a file's raw text), each as its cells."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(_GROWTH_HEADER)), None)
    if start is None:
        raise AssertionError(f"docs/presets.md has no table headed {_GROWTH_HEADER!r}")
    rows = []
    for line in lines[start + 2:]:  # past the header and its rule
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def growth_errors(rows: list[list[str]], runs: list[dict]) -> list[str]:
    """What is wrong with the growth table's `rows` for v6's `runs`: each wrong row with the one to write."""
    errors, before = [], 0
    for cells in rows:
        n = int(cells[0])
        want = growth_row(runs, n)
        got = [cells[0], *cells[2:]]
        if got != want:
            errors.append(f"row {n}: has {got}, the runs give {want}")
        if before:  # the first row is v5's runs continued; later ones name their seeds
            added = {int(s) for s in re.findall(r"\d+", cells[1].split("(")[0])}
            seeds = {r["config"]["seed"] for r in runs[before:n]}
            if added != seeds:
                errors.append(f"row {n}: names seeds {sorted(added)}, its runs are seeds {sorted(seeds)}")
        before = n
    if before != len(runs):
        errors.append(f"the last row counts {before} runs, there are {len(runs)}: add "
                      f"| {len(runs)} | SEEDS (DATE) | " + " | ".join(growth_row(runs, len(runs))[1:]) + " |")
    return errors


def test_the_growth_table_is_v6s_runs_as_recorded() -> None:
    errors = growth_errors(growth_table((REPO / "docs/presets.md").read_text()), v6_preset_runs())
    assert not errors, errors


def test_the_growth_table_check_names_a_missing_seed_and_a_wrong_figure() -> None:
    runs = v6_preset_runs()
    rows = growth_table((REPO / "docs/presets.md").read_text())
    # a recorded run the table does not count yet: the check names the row to add, with its figures
    extra = {**runs[-1], "run": "ml-1m-gru-v6-amp-seed99"}
    errors = growth_errors(rows, runs + [extra])
    assert len(errors) == 1 and f"| {len(runs) + 1} | SEEDS" in errors[0]
    # one figure off in one row
    wrong = [list(r) for r in rows]
    wrong[1][2] = "0.3000 / 0.1700"
    assert [e.split(":")[0] for e in growth_errors(wrong, runs)] == [f"row {wrong[1][0]}"]
    # a row naming the wrong seeds
    wrong = [list(r) for r in rows]
    wrong[-1][1] = "98, 99 (2026-12-05)"
    assert "names seeds [98, 99]" in growth_errors(wrong, runs)[0]
