"""The lost-request benchmark's phases stop on an unexpected answer rather than count past it."""

from __future__ import annotations

import pytest

from conftest import cli_error
from trainer.bench_session_resend import main, run_phase


def test_a_phase_fails_loudly_when_a_client_gets_an_unexpected_answer():
    def refusing(payload, headers, timeout):
        return 503, {"message": "busy"}

    with pytest.raises(RuntimeError, match="opening a session answered 503"):
        run_phase(refusing, list(range(1, 21)), (0.0, 0.0), seconds=5, clients=2, timeout=1.0, tries=1)


def test_cli_refuses_bad_settings_and_a_missing_run_before_the_server_starts(tmp_path, capsys):
    out = tmp_path / "B.md"
    with cli_error(capsys, "--clients at least 1, got 60, 2, 0"):
        main(["--run", str(tmp_path), "--clients", "0", "--out", str(out)])
    with cli_error(capsys, r"absent: no such run directory"):
        main(["--run", str(tmp_path / "absent"), "--out", str(out)])
    assert not out.exists()
