"""A TorchServe with token authorization on (the line our config.properties comments out deleted), from a
config that leaves model_store out."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from torchserve_proc import free_port
from trainer.archive import SESSIONS_CONFIG, build_archive
from trainer.server import copy_log_config

pytestmark = pytest.mark.slow


def test_serve_and_request_use_the_key_file_torchserve_writes(tiny_run, tmp_path, monkeypatch):
    # Before: serve polled the management API without a key, got 400 InvalidKeyException on every try
    # and gave up after its whole 180 s wait; request printed a bare "HTTP 400".
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # TorchServe's pid file: this test's own (see test_server.py)
    build_archive(tiny_run, tmp_path / "model_store", "sessrec")
    build_archive(tiny_run, tmp_path / "model_store", "sessrec_sessions", model_config=SESSIONS_CONFIG)
    inference = f"http://127.0.0.1:{free_port()}"
    # Also without a model_store line: TorchServe then refused to start ("Missing mandatory parameter
    # --model-store") after serve had checked the archives in ./model_store; serve now passes that store.
    (tmp_path / "config.properties").write_text(
        f"inference_address={inference}\nmanagement_address=http://127.0.0.1:{free_port()}\n"
        f"metrics_address=http://127.0.0.1:{free_port()}\ngrpc_inference_port={free_port()}\n"
        f"grpc_management_port={free_port()}\nenable_model_api=false\n")
    copy_log_config(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    url = f"{inference}/predictions/sessrec"
    try:
        res = run_cli("serve", "--config", "config.properties", "--models", "sessrec.mar", "sessrec_sessions.mar",
                      cwd=tmp_path, timeout=120)
        assert res.returncode == 0, res.stdout + res.stderr
        key_file = tmp_path / "key_file.json"
        assert f"token authorization is on: every call needs 'Authorization: Bearer <key>' with a key from {key_file}" \
            in res.stdout

        # from the start directory the key file is found; elsewhere it is named
        res = run_cli("request", "--url", url, "--movies", "3", "4", "5", "--k", "4", cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        assert len(json.loads(res.stdout.splitlines()[-1])["movies"]) == 4
        res = run_cli("request", "--url", url, "--movies", "3", cwd=elsewhere)
        assert res.returncode == 2 and "error: TorchServe has token authorization on and no key was sent" in res.stderr
        res = run_cli("request", "--url", url, "--movies", "3", "--key-file", str(key_file), cwd=elsewhere)
        assert res.returncode == 0, res.stderr

        # a key the server does not hold (another server's, or expired) is named as such
        keys = json.loads(key_file.read_text())
        keys["inference"]["key"] += "x"
        (elsewhere / "old.json").write_text(json.dumps(keys))
        res = run_cli("request", "--url", url, "--movies", "3", "--key-file", "old.json", cwd=elsewhere)
        assert res.returncode == 2 and "error: TorchServe refused the key in old.json" in res.stderr

        # the session client sends it with every request, the session header beside it
        session_url = f"{inference}/predictions/sessrec_sessions"
        res = run_cli("request", "--url", session_url, "--check-url", url, "--movies", "3", "4", "5", "6",
                      "--session", "--stream", "2", cwd=tmp_path)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "the session's last answer equals the stateless answer" in res.stdout
        res = run_cli("request", "--url", session_url, "--check-url", url, "--movies", "3", "4", "--session",
                      cwd=elsewhere)
        assert res.returncode == 2 and "no key was sent" in res.stderr
    finally:
        run_cli("stop", cwd=tmp_path)
