"""`python -m trainer request`: flag problems are named before anything is sent (no server needed)."""

from __future__ import annotations

import re

import pytest

from conftest import run_cli


@pytest.mark.parametrize("args, match", [
    # urllib raised ValueError tracebacks for these, or read 'localhost:8080' as a scheme
    (["--url", "notaurl"], r"--url must be an http:// or https:// URL with a host, got 'notaurl'"),
    (["--url", "localhost:8080/predictions/sessrec"], r"--url must be an http:// or https:// URL"),
    (["--url", "ftp://127.0.0.1/x"], r"--url must be an http:// or https:// URL"),
    (["--url", "http://127.0.0.1:99999/x"], r"--url 'http://127.0.0.1:99999/x': Port out of range"),
    (["--url", "http://[::1/x"], r"--url 'http://\[::1/x': Invalid IPv6 URL"),
    (["--session", "--check-url", "nowhere"], r"--check-url must be an http:// or https:// URL"),
    # session-only flags were ignored without --session, and --user without --data
    (["--stream", "2"], r"^error: --stream goes with --session$"),
    (["--stream", "2", "--check-url", "http://127.0.0.1:1/x"], r"^error: --stream and --check-url go with --session$"),
    (["--user", "3"], r"^error: --user goes with --data"),
    (["--data", "DATA"], r"^error: give one of --movies, --data \(with --user\), not --movies and --data$"),
    (["--session", "--stream", "-1"], r"^error: --stream must be >= 0, got -1$"),
    (["--candidates", "3", "--candidates-file", "x.txt"], r"^error: give --candidates or --candidates-file, not both$"),
])
def test_flag_problems_are_named_before_any_request(tiny_data, args, match):
    args = [str(tiny_data) if a == "DATA" else a for a in args]
    res = run_cli("request", "--movies", "1", "2", *args, timeout=60)
    assert res.returncode == 2 and re.search(match, res.stderr.strip(), re.M), res.stderr
    assert "POST" not in res.stdout  # refused before a request was built


def test_a_server_that_is_not_there_is_named(tiny_data):
    from torchserve_proc import free_port

    url = f"http://127.0.0.1:{free_port()}/predictions/sessrec"
    res = run_cli("request", "--movies", "1", "2", "--url", url, timeout=60)
    assert res.returncode == 2 and f"error: cannot reach {url}" in res.stderr and "make serve" in res.stderr



def test_a_server_that_takes_the_request_and_never_answers_is_named_as_such(tiny_data):
    # A TorchServe whose worker died with the request (README, HTTP contract) is up: "cannot reach ...
    # is the server running?" sent the user looking for the wrong problem.
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/predictions/sessrec"
        res = run_cli("request", "--movies", "1", "2", "--url", url, "--timeout", "1", timeout=60)
        assert res.returncode == 2, res.stderr
        assert f"error: {url} took the request but did not answer within 1 s" in res.stderr
        assert "send it again" in res.stderr
        res = run_cli("request", "--movies", "1", "2", "--session", "--url", url, "--timeout", "0.5", timeout=60)
        assert res.returncode == 2, res.stderr
        assert "error: the server took a request but did not answer within 0.5 s" in res.stderr


def test_a_bad_timeout_is_named():
    res = run_cli("request", "--movies", "1", "--timeout", "0", timeout=60)
    assert res.returncode == 2 and "--timeout must be a number of seconds > 0, got 0" in res.stderr


def test_default_urls_follow_the_config_torchserve_runs_with(tmp_path):
    # A user who moved the server to another port in config.properties kept sending to 8080.
    from trainer.errors import SessrecError
    from trainer.request_cli import default_urls

    assert default_urls(None) == ("http://127.0.0.1:8080/predictions/sessrec",  # the repo's config
                                  "http://127.0.0.1:8080/predictions/sessrec_sessions")
    config = tmp_path / "config.properties"
    config.write_text("inference_address = http://0.0.0.0:9080/\n")  # Java properties spacing, any address
    assert default_urls(config) == ("http://127.0.0.1:9080/predictions/sessrec",
                                    "http://127.0.0.1:9080/predictions/sessrec_sessions")
    with pytest.raises(SessrecError, match="--config .*nope.properties: no such file"):
        default_urls(tmp_path / "nope.properties")

    silent = socket_listening()
    port = silent.getsockname()[1]
    config.write_text(f"inference_address=http://127.0.0.1:{port}\n")
    with silent:
        res = run_cli("request", "--movies", "1", "--timeout", "0.5", cwd=tmp_path, timeout=60)
    assert f"POST http://127.0.0.1:{port}/predictions/sessrec" in res.stdout, res.stdout + res.stderr


def socket_listening():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s
