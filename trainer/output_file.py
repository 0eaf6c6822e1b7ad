"""Files a user names for a command's output (`evaluate --per-user`, `recommend --out`).

A command writes such a file after minutes of work, and `evaluate --per-user DATA/train.pkl` used to
replace the training split with JSON. So the name is checked before any work: never a directory,
never a file the command reads (the --input file, under any other name for it: a symbolic or hard
link), never a split file of the data directory or a file of the run directory. Anything else,
a file beside them included, may be written (and replaced); missing directories above it are made.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from .checkpoint import CKPT_FILE, HISTORY_FILE
from .data_identity import DATA_FILE
from .errors import ConfigError
from .export import MODEL_FILE
from .run_kind import BEST_FILE, ENSEMBLE_FILE
from .splits import SPLIT_NAMES
from .movie_ids import MOVIES_FILE
from .user_ids import USERS_FILE
from .vocab import VOCAB_FILE

#: What `train`, `baseline`, `ensemble`, `recipe` and `seed_sweep` write into a run directory.
RUN_FILES = ("config.json", VOCAB_FILE, DATA_FILE, HISTORY_FILE, CKPT_FILE, BEST_FILE, MODEL_FILE, ENSEMBLE_FILE,
             "curves.png", "recipe.json", "summary.json")
DATA_FILES = tuple(f"{name}.pkl" for name in SPLIT_NAMES) + ("meta.json", USERS_FILE, MOVIES_FILE)  # prepare.META_FILE: prepare loads pandas


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)  # also a hard link, or a symbolic one
        return a.resolve() == b.resolve()
    except OSError:
        return False


def check_output_file(out: Path, flag: str, run: Path | None = None, data: Path | None = None,
                      inputs: Iterable[Path] = ()) -> None:
    """Refuse `out` (given as `flag`) when it is a directory or would replace something the command reads.

    Args:
        out: the file to be written.
        flag: the command-line flag that named it, for the message.
        run, data: the run and data directories the command reads (their own files are protected).
        inputs: other files the command reads.

    Raises:
        ConfigError: naming `out` and what it would destroy.
    """
    if str(out) == "-":  # would have been a file called "-" in the working directory
        raise ConfigError(f"{flag} - would write a file called '-': standard output carries the command's own "
                          "output; name a file (./- if that is really the name)")
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"{flag} {out} is a directory; name the file to write")
    # Missing directories are made at the end; one of them that exists as a file would fail only then.
    above = next(p for p in out.parents if p.exists())
    if not above.is_dir():
        raise ConfigError(f"{flag} {out}: {above} is a file, not a directory; name a file in a directory")
    owned = [(Path(p), "the --input file") for p in inputs]
    owned += [(Path(run) / name, "a file of the run") for name in RUN_FILES] if run is not None else []
    owned += [(Path(data) / name, "a split file") for name in DATA_FILES] if data is not None else []
    for path, what in owned:
        if _same_file(out, path):
            raise ConfigError(f"{flag} {out} is {path}, {what}: writing there would destroy it; name another file")
