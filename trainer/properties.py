"""Read a config.properties as TorchServe does (Java's `java.util.Properties.load`), for the checks
`serve` makes before starting it: a regular expression per key missed `model_store = x`,
`key: value`, and values with spaces (a model store under "/srv/my models")."""

from __future__ import annotations

import difflib
from pathlib import Path

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _logical_lines(text: str) -> list[str]:
    """Lines joined where one ends in an odd number of backslashes (the next line's leading
    whitespace dropped); comments and blank lines left out."""
    out: list[str] = []
    pending: str | None = None
    for raw in text.splitlines():
        line = raw.lstrip(" \t\f")
        if pending is None and (not line or line[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        continued = trailing % 2 == 1
        part = line[:-1] if continued else line
        pending = part if pending is None else pending + part
        if not continued:
            out.append(pending)
            pending = None
    if pending is not None:
        out.append(pending)
    return out


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            if n == "u" and i + 6 <= len(text):
                try:
                    out.append(chr(int(text[i + 2:i + 6], 16)))
                    i += 6
                    continue
                except ValueError:
                    pass
            out.append(_ESCAPES.get(n, n))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _split(line: str) -> tuple[str, str]:
    """Key and value: the key ends at the first unescaped '=', ':' or whitespace; whitespace and one
    '=' or ':' (with whitespace around it) separate it from the value."""
    i = 0
    while i < len(line) and line[i] not in "=: \t\f":
        i += 2 if line[i] == "\\" else 1
    key, rest = line[:i], line[i:].lstrip(" \t\f")
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(" \t\f")
    return _unescape(key), _unescape(rest)


def read_properties(path: Path) -> dict[str, str]:
    """Every key of a .properties file and its value (a key given twice: the last wins, as in Java)."""
    return dict(_split(line) for line in _logical_lines(Path(path).read_text(encoding="latin-1")))


#: What TorchServe 0.12 reads from config.properties (its ConfigManager, snapshots, and the Python
#: launcher's vmargs and plugins_path).
TORCHSERVE_KEYS = (
    "allowed_urls", "async_logging", "blacklist_env_vars", "certificate_file", "cors_allowed_headers",
    "cors_allowed_methods", "cors_allowed_origin", "cpp_log_config", "cpu_launcher_args", "cpu_launcher_enable",
    "decode_input_request", "default_response_timeout", "default_service_handler", "default_startup_timeout",
    "default_workers_per_model", "disable_system_metrics", "disable_token_authorization", "enable_envvars_config",
    "enable_grpc_ssl", "enable_metrics_api", "enable_model_api", "grpc_inference_address", "grpc_inference_port",
    "grpc_management_address", "grpc_management_port", "inference_address", "initial_distribution_port",
    "initial_worker_port", "install_py_dep_per_model", "io_ratio", "ipex_enable", "ipex_gpu_enable", "job_queue_size",
    "keystore", "keystore_pass", "keystore_type", "limit_max_image_pixels", "load_models", "management_address",
    "max_request_size", "max_response_size", "metric_time_interval", "metrics_address", "metrics_config",
    "metrics_mode", "model_metrics_auto_detect", "model_server_home", "model_snapshot", "model_store", "models",
    "netty_client_threads", "number_of_gpu", "number_of_netty_threads", "plugins_path", "prefer_direct_buffer",
    "private_key_file", "service_envelope", "system_metrics_cmd", "token_expiration_min", "torchelastic_ts",
    "ts_header_key_sequence_end", "ts_header_key_sequence_id", "ts_header_key_sequence_start",
    "ts_open_inference_protocol", "unregister_model_timeout", "use_env_allowed_urls", "use_native_io", "vmargs",
    "workflow_store")


def misspelt_keys(props: dict[str, str]) -> dict[str, str]:
    """Keys TorchServe does not read that nearly spell one it does, each with that one.

    TorchServe ignores an unknown key and uses the default: `inference_adress` binds the default
    address, `disable_token_authorisation` leaves token authorization on. Only near misses are
    named: a key far from every known one may be read by something this list does not cover.
    """
    near = {}
    for key in props:
        if key not in TORCHSERVE_KEYS:
            match = difflib.get_close_matches(key, TORCHSERVE_KEYS, n=1, cutoff=0.85)
            if match:
                near[key] = match[0]
    return near
