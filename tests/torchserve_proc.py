"""Start a real TorchServe for a test: detached, on free loopback ports, always stopped."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

from trainer.server import copy_log_config, http, start_detached, stop, wait_ready
from trainer.server_logs import StartLogs

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, inference: str, management: str, workdir: Path, env: dict[str, str]) -> None:
        self.inference, self.management = inference, management
        self.workdir, self.env = workdir, env

    def stop(self) -> str:
        """`trainer.server.stop` for this server (it finds the server by TorchServe's pid file in TMPDIR)."""
        return stop(self.workdir, self.env)

    def predict(self, payload: Any, model: str = "sessrec") -> tuple[int, Any]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return http("POST", f"{self.inference}/predictions/{model}", body)


@contextlib.contextmanager
def torchserve(model_store: Path, workdir: Path, models: tuple[str, ...] = ("sessrec=sessrec.mar",)) -> Iterator[Server]:
    """Run TorchServe in the foreground of its own session with the repo's config.properties, ports
    swapped for free ones; `torchserve --stop` (then SIGKILL of the group) however the test ends."""
    ports = {"inference_address": free_port(), "management_address": free_port(), "metrics_address": free_port()}
    config = (REPO / "config.properties").read_text()
    for key, port in ports.items():
        config, n = re.subn(rf"^{key}=http://127\.0\.0\.1:\d+$", f"{key}=http://127.0.0.1:{port}", config, flags=re.M)
        assert n == 1, f"config.properties has no loopback {key}"
    # gRPC (unused, loopback by default) would take 7070/7071 and collide with any other TorchServe
    config += f"\ngrpc_inference_port={free_port()}\ngrpc_management_port={free_port()}\n"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.properties").write_text(config)
    copy_log_config(workdir)
    logs = StartLogs.mark(workdir / "logs")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "LOG_LOCATION": str(workdir / "logs"), "METRICS_LOCATION": str(workdir / "logs"),
           "TMPDIR": str(workdir)}  # the shared session store's file lands here, removed with the test's files
    proc = start_detached(["--start", "--foreground", "--ncs", "--ts-config", str(workdir / "config.properties"),
                           "--model-store", str(model_store), "--models", *models], workdir, env)
    server = Server(f"http://127.0.0.1:{ports['inference_address']}", f"http://127.0.0.1:{ports['management_address']}",
                    workdir, env)
    try:
        for model in models:
            wait_ready(server.management, model.split("=")[0], proc=proc, logs=logs)
        yield server
    finally:
        stop(workdir, env)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
