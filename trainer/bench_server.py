"""The TorchServe a serving benchmark measures: sessrec beside a no-op archive with the same knobs.

Shared by `bench_serve` (stateless requests) and `bench_sessions` (one-event session requests).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import yaml

from .archive import HANDLER_DIR, REPO, build_archive
from .errors import SessrecError
from .properties import read_properties
from .server import addresses, copy_log_config, ensure_free, start_detached, stop, wait_ready
from .server_logs import StartLogs
from .tools import find_tool


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overrides.items():
        out[key] = _merge(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def merged_config(overrides: dict[str, Any], path: Path, base: Path = HANDLER_DIR / "model-config.yaml") -> Path:
    """`base` with `overrides` merged in (nested sections key by key), written to `path`."""
    path.write_text(yaml.safe_dump(_merge(yaml.safe_load(base.read_text()), overrides)))
    return path


@contextlib.contextmanager
def bench_server(run: Path, name: str, model_config: Path) -> Iterator[tuple[dict[str, str], Path, int]]:
    """TorchServe serving `name` (from `run`, with `model_config`) beside a no-op archive with the
    same knobs, started with the repo's config.properties; yields (addresses, work dir, the server's
    session id: its processes' CPU is `server_cpu.session_cpu(that id)`)."""
    # wrk and the load generators send no key: with tokens on every request would be a 400 to time
    if read_properties(REPO / "config.properties").get("disable_token_authorization", "").strip().lower() != "true":
        raise SessrecError(f"{REPO / 'config.properties'} has token authorization on; the benchmarks measure it "
                           "with tokens off (disable_token_authorization=true), as shipped")
    work = Path(tempfile.mkdtemp(prefix="sessrec-bench-"))
    # Everything temporary goes with the work dir: the archiver's files, the session store's file
    # and TorchServe's pid file (so `--stop` must see the same TMPDIR, or it finds no server to stop).
    env = {**os.environ, "TMPDIR": str(work)}
    store = work / "store"
    build_archive(run, store, name, model_config=model_config)
    subprocess.run([find_tool("torch-model-archiver"), "--model-name", "noop", "--version", "1.0", "--handler",
                    str(HANDLER_DIR / "noop_handler.py"), "--config-file", str(model_config), "--export-path",
                    str(store), "--force"], check=True, env=env)
    copy_log_config(work)
    addr = addresses(REPO / "config.properties")
    ensure_free(addr)
    logs = StartLogs.mark(work / "logs")
    proc = start_detached(["--start", "--foreground", "--ncs", "--ts-config", str(REPO / "config.properties"),
                           "--model-store", str(store), "--models", f"{name}={name}.mar", "noop=noop.mar"], work, env)
    try:
        try:
            for model in (name, "noop"):
                wait_ready(addr["management_address"], model, proc=proc, logs=logs)
        except SessrecError as err:
            kept = REPO / "build" / "bench" / f"failed-{name}-{time.strftime('%Y%m%d-%H%M%S')}"
            shutil.copytree(work / "logs", kept, dirs_exist_ok=True)
            raise SessrecError(f"{err} (TorchServe's logs kept in {kept})") from err
        yield addr, work, proc.pid  # start_detached: a new session, led by proc
    finally:
        stop(work, env)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:  # never leave a server holding the ports for the next run
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
