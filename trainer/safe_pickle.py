"""A restricted unpickler for users' split files.

`pickle.load` on an untrusted file can execute arbitrary code through `find_class`. The split format
only needs plain containers and ints, which pickle encodes without any global lookup, so we refuse
every global except the few numpy needs to rebuild an integer array (checked after loading).
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from .errors import DataError

# (module, name) pairs numpy uses to pickle an ndarray or scalar, under every pickle protocol;
# nothing else is ever resolved. Protocols 0-2 store an array's bytes as latin-1 text that
# `_codecs.encode` turns back into bytes (text in, bytes out: it calls nothing); protocol 5, Python
# 3.14's default, rebuilds an array with numpy's `_frombuffer` (bytes in, array out).
_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _RefusedGlobal(pickle.UnpicklingError):
    pass


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        hint = ""
        if module.split(".")[0] == "pandas":  # df.to_pickle(...): the commonest way to get here
            hint = ("; a pandas object: pickle plain lists instead, e.g. "
                    "pickle.dump((users, movies_lists), f), or give the log to `prepare --input`")
        raise _RefusedGlobal(
            f"refused to load global {module}.{name}: only lists, tuples, ints, strs and numpy int arrays are "
            f"allowed{hint}"
        )


def safe_load(path: Path) -> Any:
    """Unpickle `path` admitting only plain containers, ints/strs and numpy arrays.

    Args:
        path: the pickle file.

    Returns:
        The unpickled object.

    Raises:
        DataError: the file is missing, unreadable, or asks for a forbidden global.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return _RestrictedUnpickler(io.BytesIO(data)).load()
    except _RefusedGlobal as exc:
        raise DataError(f"{path}: {exc}") from None
    except Exception as exc:  # truncated or non-pickle bytes raise many types (EOFError, ValueError, ...)
        raise DataError(f"{path}: not a valid pickle ({type(exc).__name__}: {exc})") from None
