"""Where a served request's CPU goes: TorchServe's Java frontend vs its Python model workers.

The sessrec/no-op ratio of the serving benchmark says how much slower sessrec serves than a handler
that does nothing; these figures say why. Both archives run on one server, so the frontend's CPU
per request is about the same for both, and the workers' CPU per request shows what sessrec's own
work adds to the no-op's (TorchServe's Python protocol, which both pay). Linux only: read from /proc.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

ROLES = ("frontend", "workers")


def session_processes(session_id: int, proc_root: Path = Path("/proc")) -> Iterator[tuple[int, str, float]]:
    """The live processes of one session: (pid, role, CPU seconds used so far, user + system).

    Args:
        session_id: the session (`setsid`) the server was started in: its launcher's pid when started
            with `start_new_session=True`, as `server.start_detached` does; its children inherit it.
        proc_root: the proc filesystem (a directory of fake entries in tests).

    Yields:
        role: "frontend" (java), "workers" (TorchServe model workers) or "other".
    """
    tick = os.sysconf("SC_CLK_TCK")
    for entry in proc_root.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # exited meanwhile
            continue
        # The command name sits in parentheses and may hold spaces: fields follow the last ')'.
        comm, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 1 :].split()
        if int(fields[3]) != session_id:  # field 6 of stat, the session id
            continue
        role = "frontend" if comm == "java" else "workers" if b"model_service_worker" in cmdline else "other"
        yield int(entry.name), role, (int(fields[11]) + int(fields[12])) / tick  # fields 14 and 15: utime, stime


def session_cpu(session_id: int, proc_root: Path = Path("/proc")) -> dict[str, float]:
    """CPU seconds used so far by the live processes of one session (`session_processes`), by role:
    `{"frontend": java's seconds, "workers": TorchServe model workers', "other": the rest}`."""
    out = {"frontend": 0.0, "workers": 0.0, "other": 0.0}
    for _, role, seconds in session_processes(session_id, proc_root):
        out[role] += seconds
    return out


def cpu_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    """Microseconds of CPU per request of each role between two `session_cpu` readings."""
    return {role: round(1e6 * (after[role] - before[role]) / max(requests, 1), 1) for role in ROLES}


def with_cpu(session_id: int, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`run()`, a load run's result with its `requests`, plus `cpu_us_per_req`: the server's CPU per
    request by role over that run."""
    before = session_cpu(session_id)
    result = run()
    result["cpu_us_per_req"] = cpu_per_request(before, session_cpu(session_id), result["requests"])
    return result
