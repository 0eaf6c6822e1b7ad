"""`archive`: package a finished run into a TorchServe `.mar` (model, vocabulary, handler, decoder).

The archive holds model.pt, vocab.json, config.json, the handler, the shared `recommend.py`, the
request parser and model-config.yaml: no training data and no checkpoints. It is built in a
temporary directory and renamed into place, so a failed build never replaces a working archive.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .errors import ConfigError, RunDirError
from .evaluate import load_exported
from .tools import find_tool
from .vocab import VOCAB_FILE

REPO = Path(__file__).resolve().parents[1]
HANDLER_DIR = REPO / "handler"
RUN_FILES = (VOCAB_FILE, "config.json")
SHIPPED_CODE = (REPO / "trainer" / "recommend.py", HANDLER_DIR / "request_parser.py", HANDLER_DIR / "session_cache.py",
                HANDLER_DIR / "session_store.py", HANDLER_DIR / "session_flow.py", HANDLER_DIR / "answer_text.py",
                HANDLER_DIR / "serving_config.py", REPO / "trainer" / "movie_names.py")
SESSIONS_CONFIG = HANDLER_DIR / "model-config-sessions.yaml"
# TorchServe's rule for model names, which versions follow too (both are URL path segments)
_TORCHSERVE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-.]*")


def read_model_config(path: Path) -> dict[str, Any]:
    """A model-config.yaml checked as TorchServe and the handler will read it (serving_config.py).

    Raises:
        ConfigError: an unreadable file or YAML, or a setting named with what is wrong with it.
    """
    import yaml

    from handler.request_parser import Limits
    from handler.serving_config import check_torchserve, handler_settings, mapping

    if not Path(path).is_file():
        raise ConfigError(f"{path}: no such model-config file")
    try:
        config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read it as YAML ({' '.join(str(exc).split())})") from None
    try:
        config = mapping(config, "(the whole file)")
        check_torchserve(config)
        handler_settings(config, Limits.from_config)
    except ValueError as exc:  # the handler's messages name the file generically: here it has a path
        raise ConfigError(f"{path}: {str(exc).removeprefix('model-config.yaml: ').removeprefix('model-config.yaml ')}") from None
    return config


def build_archive(run_dir: Path, out_dir: Path, name: str = "sessrec", version: str = "1.0",
                  model_config: Path = HANDLER_DIR / "model-config.yaml", check: bool = True) -> Path:
    """Write `out_dir/<name>.mar` from `run_dir` and return its path (`model_config`: the serving
    knobs packed inside, checked first unless `check` is False, which builds the archive a user
    could build by hand with torch-model-archiver; benchmarks pass variants)."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    stateful = bool(read_model_config(model_config).get("sequenceBatching")) if check else Path(model_config) == SESSIONS_CONFIG
    # TorchServe's own rule for model names (the archiver's would come back as a traceback); the name
    # is also the URL path /predictions/NAME, so "sessrec.mar" would serve as "sessrec.mar".
    if not _TORCHSERVE_NAME.fullmatch(name) or name.endswith(".mar"):
        raise ConfigError(f"--name {name!r}: a model name is letters, digits, '_', '-' and '.', starts with a "
                          "letter or digit, and leaves out .mar (the archive is NAME.mar)")
    # The version names the model in the management API (/models/NAME/VERSION): a slash or nothing
    # there would leave it unaddressable.
    if not _TORCHSERVE_NAME.fullmatch(version):
        raise ConfigError(f"--version {version!r}: a version is letters, digits, '_', '-' and '.', starting with a "
                          "letter or digit (e.g. 1.0, 2024-06-01)")
    # refuses an unfinished, inconsistent or out-of-date export with a clear message
    model, _, cfg = load_exported(run_dir, refuse_stale=True)
    if stateful and not hasattr(model, "step"):
        raise RunDirError(f"{run_dir} is a {cfg.kind!r} run: session archives need the GRU's step()")
    out_dir.mkdir(parents=True, exist_ok=True)
    extra = [str(run_dir / f) for f in RUN_FILES] + [str(p) for p in SHIPPED_CODE]
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".build-") as tmp:
        cmd = [find_tool("torch-model-archiver"), "--model-name", name, "--version", version,
               "--serialized-file", str(run_dir / "model.pt"), "--handler", str(HANDLER_DIR / "sessrec_handler.py"),
               "--extra-files", ",".join(extra), "--config-file", str(model_config),
               "--export-path", tmp]
        # The archiver stages files in $TMPDIR/<model name> and deletes that folder: keep it
        # inside our own temporary directory so it can never touch someone else's /tmp/sessrec.
        res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TMPDIR": tmp})
        if res.returncode != 0:
            raise RunDirError(f"torch-model-archiver failed: {res.stderr.strip() or res.stdout.strip()}")
        target = out_dir / f"{name}.mar"
        os.replace(Path(tmp) / f"{name}.mar", target)
    return target
