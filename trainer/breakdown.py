"""Metrics by how many target movies a user has: where a model wins, not only by how much.

On a temporal split each test user's targets are every movie of the test period, from one to
hundreds. A next-movie model and a neighbourhood model can tie on the mean while one wins the
users with a few targets and the other the heavy users; the mean alone hides which.
"""

from __future__ import annotations

from typing import Any, Sequence

#: Lower edges of the target-count groups: 1-4, 5-19, 20 or more movies.
EDGES = (1, 5, 20)


def group_label(lo: int, hi: int | None) -> str:
    return f"{lo}+" if hi is None else f"{lo}-{hi - 1}"


def by_target_count(per_user: dict[str, dict[str, Any]], metric: str,
                    edges: Sequence[int] = EDGES) -> list[dict[str, Any]]:
    """Mean `metric` of each model over the users of each target-count group.

    Args:
        per_user: model name -> an `evaluate --per-user` payload; all on the same users.
        metric: a per-user metric name, e.g. "map@20".
        edges: ascending lower edges of the groups (the last group is open-ended).

    Returns:
        One row per non-empty group: `{"group", "users", "means": {model: mean}, "best": model}`
        (the first model listed wins a tie).

    Raises:
        ValueError: the payloads disagree on the users, or lack target counts.
    """
    first = next(iter(per_user.values()))
    if "targets" not in first:
        raise ValueError("per-user payload has no 'targets'; re-run evaluate --per-user")
    for name, payload in per_user.items():
        if payload["users"] != first["users"]:
            raise ValueError(f"{name}: scored on other users than {next(iter(per_user))}")
    rows = []
    bounds = list(edges) + [None]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        idx = [i for i, n in enumerate(first["targets"]) if n >= lo and (hi is None or n < hi)]
        if not idx:
            continue
        means = {name: sum(p["metrics"][metric][i] for i in idx) / len(idx) for name, p in per_user.items()}
        rows.append({"group": group_label(lo, hi), "users": len(idx), "means": means,
                     "best": max(means, key=lambda m: means[m])})
    return rows


def breakdown_lines(per_user: dict[str, dict[str, Any]], metrics: Sequence[str]) -> list[str]:
    """A BENCHMARKS.md table: one row per model, one column per (group, metric), best per column in bold."""
    tables = {m: by_target_count(per_user, m) for m in metrics}
    groups = tables[metrics[0]]
    head = [f"{m}, {g['group']} movies ({g['users']} users)" for g in groups for m in metrics]
    lines = ["| model | " + " | ".join(head) + " |", "|---|" + "---|" * len(head)]
    for name in per_user:
        cells = []
        for gi in range(len(groups)):
            for m in metrics:
                row = tables[m][gi]
                text = f"{row['means'][name]:.4f}"
                cells.append(f"**{text}**" if row["best"] == name else text)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines
