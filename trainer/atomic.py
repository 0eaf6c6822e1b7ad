"""Atomic file writes: a reader (or a resumed run) sees the old files or the new ones, never half."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator, TextIO


# Errors of writing, not reading: the system leaves the file out of them, so the path is added.
_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}


@contextlib.contextmanager
def _temp_beside(path: Path) -> Iterator[tuple[BinaryIO, Path]]:
    """An open temporary file in `path`'s directory, synced to disk on success and removed on failure."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # the error named the temporary name, which the user never gave
        raise OSError(exc.errno, f"cannot write a file there ({exc.strerror})", str(path)) from None
    try:
        # mkstemp creates 0600; give the file the mode a plain open() would (TorchServe may run
        # as another user).
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            yield fh, Path(tmp)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is None and exc.errno in _WRITE_ERRORS:  # "error: [Errno 28] No space left on device"
            raise OSError(exc.errno, f"cannot write it ({exc.strerror}); the old file, if any, is unchanged",
                          str(path)) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_temp(path: Path, data: bytes) -> Path:
    with _temp_beside(path) as (fh, tmp):
        fh.write(data)
    return tmp


@contextlib.contextmanager
def open_text_atomic(path: Path) -> Iterator[TextIO]:
    """Stream text into `path`: it appears, whole, only when the block ends without an error; a
    failure part-way leaves the old file (or none) in place. For outputs too large to hold in memory."""
    path = Path(path)
    with _temp_beside(path) as (fh, tmp):
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="\n")
        yield text
        text.flush()
        text.detach()
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
