"""Start, wait for, call and stop TorchServe with sessrec's config (used by make and the tests)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from .errors import SessrecError
from .properties import misspelt_keys, read_properties
from .server_logs import LOAD_FAILURES_TO_GIVE_UP, StartLogs
from .server_tokens import KEY_FILE, bearer
from .tools import find_tool


def copy_log_config(start_dir: Path) -> None:
    """Put the repo's log4j2.xml in `start_dir`: config.properties names it relative to the directory
    TorchServe starts in, which is the repo root for users and a temporary one for tests and benchmarks."""
    shutil.copy(Path(__file__).resolve().parents[1] / "log4j2.xml", Path(start_dir) / "log4j2.xml")


def addresses(config: Path, props: dict[str, str] | None = None) -> dict[str, str]:
    """The inference/management addresses named in a config.properties (`props`: its keys, read already)."""
    props = read_properties(config) if props is None else props
    found = {key: props[key].strip() for key in ("inference_address", "management_address") if key in props}
    if len(found) != 2:
        raise SessrecError(f"{config}: needs inference_address and management_address lines")
    return found


def ensure_free(addr: dict[str, str]) -> None:
    """Refuse to start when something already answers on the configured ports: the client would
    otherwise talk to that server (an old TorchServe) and never notice."""
    for key, url in addr.items():
        host, _, port = url.removeprefix("http://").removeprefix("https://").partition(":")
        try:
            socket.create_connection((host, int(port.split("/")[0])), timeout=1).close()
        except OSError:
            continue
        raise SessrecError(f"{key} {url} is already in use (another TorchServe still running? `make stop` stops "
                           "the one this user started last, from any directory; nothing was started or stopped here)")


def running_torchserve() -> int | None:
    """The pid of the TorchServe this user runs from this temp directory, if any.

    TorchServe keeps one pid file, `$TMPDIR/.model_server.pid`, whatever directory it was started
    from: `torchserve --start` refuses to start a second one, and `torchserve --stop` stops that one."""
    pid_file = Path(tempfile.gettempdir()) / ".model_server.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return None
    return pid if b"org.pytorch.serve.ModelServer" in cmdline else None


def http(method: str, url: str, body: bytes | None = None, timeout: float = 30,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One HTTP call; returns (status, decoded JSON or text). Raises OSError if nothing answers."""
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def start_detached(args: list[str], workdir: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Run `torchserve ARGS` in its own session (setsid), stdin closed, output to workdir/logs/torchserve.out
    (beside TorchServe's own logs/, which it writes in the directory it starts from)."""
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    with open(workdir / "logs" / "torchserve.out", "ab") as log:
        return subprocess.Popen([find_tool("torchserve"), *args], cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(management: str, model: str, timeout: float = 180, proc: subprocess.Popen | None = None,
               logs: StartLogs | None = None, key_file: Path | None = None) -> None:
    """Block until every worker of `model` is READY. With token authorization on, TorchServe writes
    `key_file` (its start directory's key_file.json) as it starts: it is read on every try.

    Raises:
        SessrecError: TorchServe exited, `timeout` seconds passed, or (with `logs`) the model's workers
            failed to load LOAD_FAILURES_TO_GIVE_UP times: retrying a broken archive never ends.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None and proc.returncode != 0:
            raise SessrecError(f"torchserve exited with code {proc.returncode}; see logs/torchserve.out")
        try:
            headers = bearer(key_file, "management")
        except SessrecError:  # caught while TorchServe writes it, or an old file it is about to replace
            headers = {}
        try:
            status, body = http("GET", f"{management}/models/{model}", timeout=5, headers=headers)
            workers = body[0]["workers"] if status == 200 and body else []
            if workers and all(w["status"] == "READY" for w in workers):
                return
        except OSError:
            pass
        if logs is not None and (failures := logs.load_failures(model)) >= LOAD_FAILURES_TO_GIVE_UP:
            raise SessrecError(f"model {model!r} failed to load {failures} times; see logs/model_log.log")
        time.sleep(0.5)
    raise SessrecError(f"model {model!r} not ready after {timeout:.0f}s; see logs/model_log.log")


def started_from(pid: int) -> Path | None:
    """The directory process `pid` was started in (TorchServe's launcher passes its own on to the
    server), or None where /proc does not say."""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def stop_started_here(workdir: Path, any_dir: bool = False) -> str:
    """`stop` for the CLI (`make stop`): only a TorchServe started from `workdir`, unless `any_dir`.

    TorchServe's own --stop takes whichever server this user started last, from any directory, so a
    `make stop` in one checkout would stop a server a user runs for something else.

    Raises:
        SessrecError: naming the directory the running server was started from, which is left running.
    """
    pid = running_torchserve()
    where = started_from(pid) if pid is not None else None
    if not any_dir and where is not None and where.resolve() != Path(workdir).resolve():
        raise SessrecError(f"the running TorchServe (pid {pid}) was started from {where}, not from here "
                           f"({Path(workdir).resolve()}): left running; stop it from there, or pass --any-dir")
    return stop(workdir)


def stop(workdir: Path, env: dict[str, str] | None = None) -> str:
    """`torchserve --stop` and wait (up to 60 s, TorchServe's own limit) until the server has exited;
    returns what TorchServe said ("TorchServe has stopped." or "... is not currently running.").

    A plain `--stop` only signals it and returns while it still holds its ports for a few seconds, so
    an immediate `make serve` would find them taken."""
    res = subprocess.run([find_tool("torchserve"), "--stop", "--foreground"], cwd=workdir, env=env,
                         capture_output=True, text=True, timeout=90)
    if "took too long" in res.stdout:
        raise SessrecError("TorchServe did not exit within 60 s of --stop; see logs/ts_log.log")
    return res.stdout.strip() or "TorchServe has stopped."  # --foreground says nothing once it has


def serve(config: Path, models: list[str], workdir: Path, ready_timeout: float = 180) -> str:
    """Start TorchServe detached as the README shows, wait for every model, return the inference URL.

    Raises:
        SessrecError: an archive missing from the model store, busy ports, or a model not ready within
            `ready_timeout` seconds or failing to load again and again (TorchServe is then stopped again).
    """
    if not Path(config).is_file():
        where = "" if Path(config).is_absolute() else f" in {Path(workdir).resolve()}"
        raise SessrecError(f"{config}: no such file{where}; start from the repo root (as `make serve` does) or "
                           "pass --config PATH")
    props = read_properties(config)  # once: the checks below judge one version of the file
    slips = misspelt_keys(props)
    if slips:
        raise SessrecError(f"{config}: " + "; ".join(f"{key!r} is not a setting TorchServe reads, which would ignore "
                                                      f"it and use its default: did you mean {known!r}?"
                                                      for key, known in slips.items()) + "; nothing was started")
    addr = addresses(config, props)
    store = check_archives(config, models, workdir, props)
    ensure_free(addr)
    other = running_torchserve()
    if other is not None:
        # torchserve --start would refuse, and the clean-up after a failed start (--stop) would stop that one
        raise SessrecError(f"a TorchServe is already running (pid {other}, {tempfile.gettempdir()}/.model_server.pid), "
                           "and TorchServe runs one per user and temp directory: stop it first (`make stop`), or "
                           "start this one with another TMPDIR; nothing was started or stopped here")
    # where log4j2.xml puts them: $LOG_LOCATION, else logs/ in the start directory
    logs = StartLogs.mark(Path(workdir) / os.environ.get("LOG_LOCATION", "logs"))
    # The store the archives were checked in, named: a config without model_store would otherwise
    # stop TorchServe's start ("Missing mandatory parameter --model-store").
    proc = start_detached(["--start", "--ncs", "--ts-config", str(Path(config).resolve()), "--model-store", str(store),
                           "--models", *models], workdir)
    try:
        for model in models:
            wait_ready(addr["management_address"], model.split("=")[0].removesuffix(".mar"), ready_timeout, proc, logs,
                       key_file=Path(workdir) / KEY_FILE)
    except SessrecError as exc:
        stop(workdir)  # a server whose model never loads would only hold the ports against the next start
        raise SessrecError(f"{exc}; TorchServe was stopped again{logs.last_worker_error()}") from None
    except BaseException:  # Ctrl-C while waiting, or anything unforeseen: call off the start, not left detached
        stop(workdir)
        raise
    return addr["inference_address"]


def check_archives(config: Path, models: list[str], workdir: Path, props: dict[str, str] | None = None) -> Path:
    """Refuse to start for an archive that is not in the config's model_store: TorchServe would start,
    log the failure, and never have the model ready. Returns that store (./model_store when the
    config names none; `props`: its keys, read already)."""
    value = (read_properties(config) if props is None else props).get("model_store") or "model_store"
    store = Path(workdir) / value  # as TorchServe takes it: relative to the start directory, spaces kept
    blank = f" (model_store in {config} ends in whitespace, which is part of the path)" if value != value.rstrip() else ""
    for model in models:
        archive = model.partition("=")[2] or model
        if "://" in archive:
            continue
        if not (store / archive).exists():
            raise SessrecError(f"{store / archive} not found{blank}: build it with `make archive` "
                               "(python -m trainer archive --run RUN), or name an archive in that directory")
        if (store / archive).is_file() and not _is_model_archive(store / archive):
            # TorchServe would take it for an old-style archive and fail in every worker, obscurely
            raise SessrecError(f"{store / archive} is not a model archive (a zip with MAR-INF/MANIFEST.json; "
                               "truncated or overwritten?): rebuild it with `make archive`")
    return store


def _is_model_archive(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as mar:
            return "MAR-INF/MANIFEST.json" in mar.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
