"""Atomic file writes: a reader (or a resumed run) sees the old files or the new ones, never half."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _write_temp(path: Path, data: bytes) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600; give the file the mode a plain open() would (TorchServe may run
        # as another user).
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_files_atomic(files: dict[Path, bytes]) -> None:
    """Write every file to a temporary name beside it first, then rename them all into place, so
    a failure while writing leaves none of them changed."""
    temps: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            temps.append((_write_temp(Path(path), data), Path(path)))
        for tmp, path in temps:
            os.replace(tmp, path)
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    write_files_atomic({Path(path): data})


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, text.encode())
