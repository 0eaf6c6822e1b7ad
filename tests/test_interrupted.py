"""Ctrl-C: a command says what it kept and how to go on, with the shell's status 130, not a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

import pytest

from conftest import REPO, tiny_config
from trainer.interrupted import Terminated, interrupted_message, sigterm_as_interrupt
from trainer.train import train


def _ctrl_c_as_in_a_terminal() -> None:
    # A test run started as a script's background job (`cmd &` without job control) has SIGINT ignored, and a
    # child inherits that: Ctrl-C would then do nothing, as it should. The child here is a command in a terminal.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(*args):
    return subprocess.Popen([sys.executable, "-m", "trainer", *args], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_ctrl_c_as_in_a_terminal)


def test_ctrl_c_in_training_says_how_to_resume(tiny_data, tmp_path):
    run = tmp_path / "run"
    proc = start("train", "--data", str(tiny_data), "--out", str(run), "--epochs", "100000", "--patience", "100000",
                 "--hidden-dim", "16", "--emb-dim", "16", "--max-len", "20")
    deadline = time.time() + 120
    while not (run / "history.jsonl").exists() or len((run / "history.jsonl").read_text().splitlines()) < 2:
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    epochs = len((run / "history.jsonl").read_text().splitlines())
    last = err.strip().splitlines()[-1]
    assert last == (f"interrupted; {run} keeps {epochs} finished epoch(s), and `python -m trainer train --data "
                    f"{tiny_data} --out {run} --resume` continues from the last one (the same run as if never stopped)")


def test_sigterm_ends_a_command_as_ctrl_c_does(tiny_data, tmp_path):
    # kill, timeout, a scheduler's preemption, side_by_side stopping its runs: SIGTERM ended the
    # process on the spot, so a new run's first files stayed (and blocked the next try into --out)
    # and nothing said what was kept. Now it is Ctrl-C's path, with the shell's status 143.
    slow = ["--epochs", "100000", "--patience", "100000", "--hidden-dim", "16", "--emb-dim", "16", "--max-len", "20"]
    run = tmp_path / "run"
    proc = start("train", "--data", str(tiny_data), "--out", str(run), *slow)
    deadline = time.time() + 120
    while not (run / "history.jsonl").exists() or len((run / "history.jsonl").read_text().splitlines()) < 2:
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith(f"terminated (SIGTERM); {run} keeps ")

    fresh = tmp_path / "fresh"  # before its first checkpoint: left as it was found (absent)
    proc = start("train", "--data", str(tiny_data), "--out", str(fresh), "--hidden-dim", "512", "--emb-dim", "256")
    while not (fresh / "config.json").exists():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.01)
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == f"terminated (SIGTERM) before the first epoch finished; nothing of the " \
                                           f"run was kept in {fresh}"
    assert not fresh.exists()


def test_the_sigterm_handler_is_set_only_while_a_command_runs():
    import signal as sig

    from trainer.__main__ import main

    before = sig.getsignal(sig.SIGTERM)
    assert main(["prepare", "--synthetic", "--users", "0", "--out", "/nonexistent/x"]) == 2
    assert sig.getsignal(sig.SIGTERM) is before  # pytest's (or the default) again


def test_each_command_says_what_it_kept(tmp_path):
    assert "nothing of the run was kept" in interrupted_message(Namespace(command="train", out=tmp_path / "new", data="d"))
    assert "stopped again" in interrupted_message(Namespace(command="serve"))
    assert interrupted_message(Namespace(command="prepare")).startswith("interrupted; prepare left its outputs")


@pytest.mark.parametrize("ending", [KeyboardInterrupt, RuntimeError])
def test_serve_stops_the_torchserve_it_started_whatever_ends_its_wait(monkeypatch, tmp_path, ending):
    # Ctrl-C during the wait left TorchServe starting, detached, holding the ports; and `make demo`
    # answered a failed serve with `make stop`, which stops the user's last TorchServe wherever it
    # runs, even one serve refused to start over. serve now stops what it started, and only that.
    import trainer.server as server

    stopped = []
    monkeypatch.setattr(server, "check_archives", lambda *args: None)
    monkeypatch.setattr(server, "ensure_free", lambda addr: None)
    monkeypatch.setattr(server, "start_detached", lambda *args, **kwargs: None)
    monkeypatch.setattr(server, "stop", lambda workdir, env=None: stopped.append(workdir))

    def wait_ready(*args, **kwargs):
        raise ending("while waiting")

    monkeypatch.setattr(server, "wait_ready", wait_ready)
    config = tmp_path / "config.properties"
    config.write_text("inference_address=http://127.0.0.1:1\nmanagement_address=http://127.0.0.1:2\n")
    with pytest.raises(ending):
        server.serve(config, ["m.mar"], tmp_path)
    assert stopped == [tmp_path]


def test_serve_refuses_to_start_beside_a_running_torchserve_and_stops_nothing(monkeypatch, tmp_path):
    # TorchServe runs one per user and TMPDIR (its pid file): `torchserve --start` refused, and serve's
    # clean-up after that failed start (`torchserve --stop`) stopped the OTHER server (measured: a
    # TorchServe on 8080 gone after serving another config on 9080).
    import tempfile

    import trainer.server as server
    from trainer.errors import SessrecError

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "org.pytorch.serve.ModelServer"])
    try:
        deadline = time.time() + 30  # until the child has exec'd: before, /proc shows pytest's command line
        while b"org.pytorch.serve.ModelServer" not in Path(f"/proc/{other.pid}/cmdline").read_bytes():
            assert time.time() < deadline
            time.sleep(0.01)
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        (tmp_path / ".model_server.pid").write_text(str(other.pid))
        monkeypatch.setattr(server, "check_archives", lambda *args: None)
        monkeypatch.setattr(server, "ensure_free", lambda addr: None)
        monkeypatch.setattr(server, "start_detached", lambda *args, **kwargs: pytest.fail("started"))
        monkeypatch.setattr(server, "stop", lambda *args, **kwargs: pytest.fail("stopped"))
        config = tmp_path / "config.properties"
        config.write_text("inference_address=http://127.0.0.1:1\nmanagement_address=http://127.0.0.1:2\n")
        with pytest.raises(SessrecError, match=rf"a TorchServe is already running \(pid {other.pid}, "):
            server.serve(config, ["m.mar"], tmp_path)
        assert other.poll() is None
        (tmp_path / ".model_server.pid").write_text("999999999")  # a pid file left by a server that is gone
        assert server.running_torchserve() is None
    finally:
        other.kill()
        other.wait()


def _swallowed(signum: int) -> None:
    """A signal whose exception is lost: numpy's lazy `numpy.random` import loses a Terminated raised inside
    it, and a finalizer the garbage collector runs can lose a KeyboardInterrupt."""
    try:
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the handler raises here, at once
    except KeyboardInterrupt:
        pass


def test_a_sigterm_that_code_swallowed_still_ends_the_command():
    # Seen before the fix: a kill 2-4 ms after a new run wrote config.json went into numpy's import,
    # and the run trained on to its end with status 0 (2 of 40 tries).
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        with sigterm_as_interrupt():
            _swallowed(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before
    with sigterm_as_interrupt():  # the next command starts without the last one's kill
        pass


def test_training_ends_at_the_next_batch_after_a_swallowed_sigterm(tiny_data, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(Terminated):
        with sigterm_as_interrupt():
            _swallowed(signal.SIGTERM)
            train(tiny_config(tiny_data), out, progress=False)
    assert not out.exists()  # a new run stopped before its first epoch keeps nothing, as on any kill


def test_a_kill_ends_its_own_command_only(tiny_data, tmp_path):
    # the flag outlived its block once: a later in-process train() raised the old kill (CI stopped there)
    with pytest.raises(Terminated):
        with sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    train(tiny_config(tiny_data, epochs=1), tmp_path / "later", progress=False)
    assert (tmp_path / "later" / "model.pt").exists()


def test_a_ctrl_c_that_code_swallowed_still_ends_training(tiny_data, tmp_path):
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, however pytest started
    try:
        out = tmp_path / "run"
        with pytest.raises(KeyboardInterrupt) as exc:
            with sigterm_as_interrupt():
                _swallowed(signal.SIGINT)
                train(tiny_config(tiny_data), out, progress=False)
        assert not isinstance(exc.value, Terminated)  # Ctrl-C's own status (130) and words, not a kill's
        assert not out.exists()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)


def test_an_ignored_ctrl_c_stays_ignored():
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a script's `cmd &` inherits it
    try:
        with sigterm_as_interrupt():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
