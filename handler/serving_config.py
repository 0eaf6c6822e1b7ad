"""model-config.yaml's settings checked by name and type before anything serves with them.

TorchServe 0.12 ignores a top-level setting it does not know (`batchsize: 16`) and replaces a
value of the wrong type by its default with one line in its log ("Invalid batchSize: 16.0, should
be integer"), so a slip in the file serves with batch size 1, say, and no one is told. `archive`
checks the whole file before packing it (trainer/archive.py); the handler checks its own section
again when a worker loads (an archive built by hand). Shipped in the archive; standard library only.
"""

from __future__ import annotations

import difflib
from typing import Any, Callable

# TorchServe 0.12's model-config keys (its ModelConfig.build), by the type it accepts.
TORCHSERVE_INTS = ("minWorkers", "maxWorkers", "batchSize", "maxBatchDelay", "responseTimeout", "startupTimeout",
                   "parallelLevel", "jobQueueSize", "sequenceMaxIdleMSec", "sequenceTimeoutMSec", "maxNumSequence",
                   "maxSequenceJobQueueSize", "maxRetryTimeoutInSec", "clientTimeoutInMills")
TORCHSERVE_BOOLS = ("sequenceBatching", "continuousBatching", "asyncCommunication", "useJobTicket", "useVenv")
TORCHSERVE_OTHERS = ("deviceType", "deviceIds", "parallelType", "parallelMode", "torchrun")
HANDLER_SECTIONS = ("handler", "pt2")  # ours, and BaseHandler's torch.compile settings
AT_LEAST_ONE = ("maxWorkers", "batchSize", "responseTimeout", "startupTimeout")
SESSION_KEYS = ("store", "path", "capacity", "idle_seconds")
CHOICES = {"deviceType": ("cpu", "gpu"), "parallelType": ("pp", "tp", "pptp", "custom")}  # read case-blind


def mapping(section: Any, name: str) -> dict[str, Any]:
    """A model-config.yaml section as a dict (absent or empty: {}); a scalar or list there is a slip
    (`sessions: shared` for `sessions: {store: shared}`) that would otherwise read as odd key names."""
    if section is None or section == "":
        return {}
    if not isinstance(section, dict):
        raise ValueError(f"model-config.yaml {name} must be a mapping of settings (key: value lines), got {section!r}")
    return dict(section)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_torchserve(config: dict[str, Any]) -> None:
    """TorchServe's own settings: known names, ints where it reads ints, booleans where booleans.

    Raises:
        ValueError: naming the setting, its value and (for an unknown name) the nearest known one.
    """
    known = (*TORCHSERVE_INTS, *TORCHSERVE_BOOLS, *TORCHSERVE_OTHERS, *HANDLER_SECTIONS)
    for key, value in config.items():
        if key not in known:
            near = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]!r}?" if near else f"; TorchServe's settings: {', '.join(known[:-2])}"
            raise ValueError(f"model-config.yaml: {key!r} is not a setting TorchServe 0.12 reads (it would be "
                             f"ignored){hint}")
        if key in TORCHSERVE_INTS and (not _is_int(value) or value < (1 if key in AT_LEAST_ONE else 0)):
            raise ValueError(f"model-config.yaml {key} must be an int >= {1 if key in AT_LEAST_ONE else 0}, got "
                             f"{value!r} (TorchServe would use its default instead)")
        if key in TORCHSERVE_BOOLS and not isinstance(value, bool):
            raise ValueError(f"model-config.yaml {key} must be true or false, got {value!r}")
        if key in CHOICES and str(value).lower() not in CHOICES[key]:
            raise ValueError(f"model-config.yaml {key} must be one of {', '.join(CHOICES[key])}, got {value!r} "
                             "(TorchServe would ignore it)")
    low, high = config.get("minWorkers"), config.get("maxWorkers")
    if low is not None and high is not None and low > high:
        raise ValueError(f"model-config.yaml minWorkers {low} is above maxWorkers {high}")


def threads_setting(knobs: dict[str, Any]) -> int:
    """`handler.threads`: torch's intra-op threads per worker (0: torch's default)."""
    threads = knobs.get("threads", 0)
    if not _is_int(threads) or threads < 0:
        raise ValueError(f"model-config.yaml handler.threads must be an int >= 0 (0 = torch's default), got {threads!r}")
    return threads


def session_settings(section: Any, workers: int) -> dict[str, Any]:
    """`handler.sessions` with its defaults filled in: store (`memory`: this worker only, so one
    worker; `shared`: an SQLite file all workers open), path, capacity, idle_seconds."""
    cfg = mapping(section, "handler.sessions")
    unknown = sorted(str(k) for k in cfg if k not in SESSION_KEYS)
    if unknown:  # a misspelt knob would leave its default in force without a word
        raise ValueError(f"model-config.yaml handler.sessions: unknown setting(s) {unknown}; known: {', '.join(SESSION_KEYS)}")
    capacity, idle = cfg.get("capacity", 20000), cfg.get("idle_seconds", 1800)
    if not _is_int(capacity) or capacity < 1:
        raise ValueError(f"model-config.yaml handler.sessions.capacity must be a positive int, got {capacity!r}")
    if isinstance(idle, bool) or not isinstance(idle, (int, float)) or not 0 < idle < float("inf"):
        raise ValueError(f"model-config.yaml handler.sessions.idle_seconds must be a number > 0, got {idle!r}")
    path = cfg.get("path")
    if path is not None and (not isinstance(path, str) or not path.strip()):
        raise ValueError(f"model-config.yaml handler.sessions.path must be a file path, got {path!r}")
    kind = cfg.get("store", "memory")
    if kind not in ("memory", "shared"):
        raise ValueError(f"handler.sessions.store must be 'memory' or 'shared', got {kind!r}")
    if kind == "memory" and workers > 1:
        raise ValueError(f"handler.sessions.store 'memory' with maxWorkers {workers}: a session's next request "
                         "may reach a worker that never saw it; use store: shared, or 1 worker")
    return {"store": kind, "path": path, "capacity": capacity, "idle_seconds": idle}


def handler_settings(config: dict[str, Any], limits_from_config: Callable[..., Any]) -> tuple[Any, int, dict | None]:
    """The handler's own settings in a whole model-config: its request limits (made by
    `limits_from_config`, request_parser's `Limits.from_config`, passed in because the archive loads
    its modules by path), torch threads, and the sessions settings (None without sequence batching).

    Raises:
        ValueError: naming the first setting that is wrong, or sessions settings nothing would read,
            or memory-kept sessions where TorchServe may start several workers.
    """
    knobs = mapping(config.get("handler"), "handler")
    limits = limits_from_config(knobs, others=("threads", "sessions"))
    threads = threads_setting(knobs)
    if not config.get("sequenceBatching"):
        if knobs.get("sessions"):
            raise ValueError("handler.sessions is set but sequenceBatching is not true: TorchServe would route "
                             "no sessions, so nothing would read it")
        return limits, threads, None
    workers = config.get("maxWorkers")
    sessions = session_settings(knobs.get("sessions"), workers if _is_int(workers) else 1)
    if sessions["store"] == "memory" and not _is_int(workers):
        raise ValueError("handler.sessions.store 'memory' keeps sessions in one worker, and without an int maxWorkers "
                         "TorchServe may start several: set maxWorkers: 1 (or use store: shared)")
    return limits, threads, sessions
