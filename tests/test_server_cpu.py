"""Reading a server's CPU per request from /proc, by role (frontend / workers)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from trainer.bench_serve import table
from trainer.server_cpu import cpu_per_request, session_cpu, session_processes, with_cpu

TICK = os.sysconf("SC_CLK_TCK")


def _fake_process(root, pid, comm, session, utime, stime, cmdline):
    d = root / str(pid)
    d.mkdir()
    # stat fields 3.. after the command: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    (d / "stat").write_text(f"{pid} ({comm}) S 1 {session} {session} 0 -1 0 0 0 0 0 {utime} {stime} 0 0 20 0\n")
    (d / "cmdline").write_bytes(cmdline.replace(" ", "\0").encode() + b"\0")


def test_session_cpu_sums_the_session_by_role(tmp_path):
    _fake_process(tmp_path, 100, "java", 42, 3 * TICK, TICK, "java -cp ts.jar org.pytorch.serve.ModelServer")
    _fake_process(tmp_path, 101, "python", 42, TICK, TICK, "python ts/model_service_worker.py --sock-type unix")
    _fake_process(tmp_path, 102, "python", 42, TICK, 0, "python ts/model_service_worker.py --sock-type unix")
    _fake_process(tmp_path, 103, "odd) name (x", 42, TICK // 2, 0, "torchserve --start")  # ')' in the name
    _fake_process(tmp_path, 104, "java", 7, 50 * TICK, 0, "java another-server")  # another session
    (tmp_path / "self").mkdir()  # non-pid entries are skipped
    assert session_cpu(42, tmp_path) == {"frontend": 4.0, "workers": 3.0, "other": 0.5}
    # the same walk gives `make profile-serve` the workers to sample
    assert sorted(pid for pid, role, _ in session_processes(42, tmp_path) if role == "workers") == [101, 102]
    before = {"frontend": 1.0, "workers": 2.0, "other": 0.0}
    assert cpu_per_request(before, session_cpu(42, tmp_path), 1000) == {"frontend": 3000.0, "workers": 1000.0}


def test_session_cpu_reads_a_live_session():
    busy = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\ntime.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", busy], start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while session_cpu(proc.pid)["other"] < 0.25 and time.monotonic() < deadline:
            time.sleep(0.05)
        used = session_cpu(proc.pid)
        assert used["other"] >= 0.25 and used["frontend"] == used["workers"] == 0.0
        result = with_cpu(proc.pid, lambda: {"requests": 100})
        assert result["requests"] == 100 and set(result["cpu_us_per_req"]) == {"frontend", "workers"}
    finally:
        proc.kill()
        proc.wait()


def test_table_shows_the_cpu_split_where_measured():
    row = {"workload": "w", "connections": 32, "model": "sessrec", "req_per_s": 4000.0, "p50_ms": 8.0, "p95_ms": 13.0,
           "p99_ms": 17.0, "non2xx": 0, "ratio": 0.5, "runs": [4000.0], "overrides": {},
           "cpu_us_per_req": {"frontend": 120.4, "workers": 280.6}}
    rows = table([row, {k: v for k, v in row.items() if k != "cpu_us_per_req"}])
    assert "| 0.50 | 120 / 281 | 4,000 |" in rows[2]
    assert "| 0.50 |  | 4,000 |" in rows[3]
    assert rows[0].count("|") == rows[2].count("|") == rows[3].count("|")
