"""The split files of a data directory: `train.pkl`, `validate.pkl`, `test.pkl`.

Each is a pickled 2-tuple `(users, movies)`: `users` ascending int user ids, `movies` one list of int
movie ids per user, in watch order. Loading validates the structure and names the file and the
position of the first problem; writing is atomic so that a failed run never leaves half a data set.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handler.request_parser import ID_MAX, ID_MIN

from .atomic import write_files_atomic
from .errors import ConfigError, DataError
from .safe_pickle import safe_load

SPLIT_NAMES = ("train", "validate", "test")


@dataclass(frozen=True)
class Split:
    """One split: parallel lists of user ids and their movie sequences (watch order)."""

    users: list[int]
    movies: list[list[int]]

    def as_dict(self) -> dict[int, list[int]]:
        return dict(zip(self.users, self.movies))

    @property
    def n_events(self) -> int:
        return sum(len(m) for m in self.movies)


def _as_int(value: object, where: str) -> int:
    # bool is an int subclass but never a valid id; numpy ints come from users' own arrays.
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        hint = ("; split files hold int ids: for text ids, write the events as a log and prepare it with "
                "--text-user-ids / --text-movie-ids") if isinstance(value, str) else ""
        raise DataError(f"{where}: expected an int id, got {type(value).__name__} {value!r:.40}{hint}")
    value = int(value)
    if not ID_MIN <= value <= ID_MAX:
        # prepare's bound, and the handler's: a catalog movie past it could never be requested
        raise DataError(f"{where}: id {value} is outside the 64-bit range of ids")
    return value


def _as_list(value: object, where: str) -> list:
    if isinstance(value, np.ndarray):
        if value.ndim != 1 or not np.issubdtype(value.dtype, np.integer):
            raise DataError(f"{where}: expected a 1-d int array, got {value.dtype} with shape {value.shape}")
        return value.tolist()
    if not isinstance(value, (list, tuple)):
        raise DataError(f"{where}: expected a list, got {type(value).__name__}")
    return list(value)


def validate_split(obj: object, source: str) -> Split:
    """Check the `(users, movies)` structure (or a dict user -> movies) and convert it to a `Split`.

    Args:
        obj: the unpickled object.
        source: the file name, used in error messages.

    Returns:
        The validated split.

    Raises:
        DataError: naming `source` and the first problem found.
    """
    if isinstance(obj, dict):  # {user: movies}, a notebook's other usual shape: the same, by user id
        try:
            users_in_order = sorted(obj)
        except TypeError:  # ids of mixed types: the checks below name the first that is not an int
            users_in_order = list(obj)
        obj = (users_in_order, [obj[u] for u in users_in_order])
    if not isinstance(obj, (tuple, list)) or len(obj) != 2:
        raise DataError(f"{source}: expected a 2-tuple (users, movies) or a dict user -> movies, got {type(obj).__name__}"
                        + (f" of length {len(obj)}" if isinstance(obj, (tuple, list)) else ""))
    users = [_as_int(u, f"{source}: users[{i}]") for i, u in enumerate(_as_list(obj[0], f"{source}: users"))]
    movies_raw = _as_list(obj[1], f"{source}: movies")
    if len(users) != len(movies_raw):
        raise DataError(f"{source}: length mismatch, {len(users)} users but {len(movies_raw)} movie lists")
    for i in range(1, len(users)):
        if users[i] <= users[i - 1]:
            raise DataError(f"{source}: users must be strictly ascending, users[{i - 1}]={users[i - 1]} "
                            f"then users[{i}]={users[i]}")
    movies = []
    for i, seq in enumerate(movies_raw):
        where = f"{source}: movies[{i}] (user {users[i]})"
        movies.append([_as_int(m, f"{where}[{j}]") for j, m in enumerate(_as_list(seq, where))])
    return Split(users, movies)


def load_split(path: Path) -> Split:
    """Load and validate one split file with the restricted unpickler."""
    return validate_split(safe_load(path), str(path))


def load_data_dir(data_dir: Path) -> dict[str, Split]:
    """Load `train`, `validate` and `test` from `data_dir`.

    Raises:
        DataError: a file is missing or malformed, or the training split has no events.
    """
    data_dir = Path(data_dir)
    if data_dir.is_file():
        split_file = data_dir.name in {f"{name}.pkl" for name in SPLIT_NAMES}
        raise DataError(f"{data_dir} is a file, not a data directory (one holding train.pkl, validate.pkl and "
                        f"test.pkl)" + (f": give the directory it is in, {data_dir.parent}" if split_file else ""))
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data directory not found")
    splits = {name: load_split(data_dir / f"{name}.pkl") for name in SPLIT_NAMES}
    if splits["train"].n_events == 0:
        raise DataError(f"{data_dir / 'train.pkl'}: no training events")
    return splits


def history_for(splits: dict[str, Split], split: str, test_history: str = "train+validate") -> dict[int, list[int]]:
    """The watch history that precedes `split` for each user, in watch order.

    `validate` follows `train`; `test` follows `train` then `validate` (the notebook skipped the
    validation period; `test_history="train"` reproduces that for comparison).
    """
    if test_history not in ("train+validate", "train"):
        raise ConfigError(f"--test-history must be 'train+validate' or 'train', got {test_history!r}")
    if split == "validate" and test_history != "train+validate":  # was ignored without a word
        raise ConfigError("--test-history is the history before the test period; --split validate always "
                          "follows train alone, so drop it or use --split test")
    if split == "validate" or (split == "test" and test_history == "train"):
        parts = ["train"]
    elif split == "test":
        parts = ["train", "validate"]
    else:
        raise DataError(f"unknown split {split!r}: expected 'validate' or 'test'")
    history: dict[int, list[int]] = {}
    for part in parts:
        for user, seq in zip(splits[part].users, splits[part].movies):
            history.setdefault(user, []).extend(seq)
    return history


def write_data_dir(splits: dict[str, Split], out_dir: Path, extra: dict[str, bytes] | None = None) -> None:
    """Write the three splits (and `extra` files by name) so that `out_dir` holds either all new files or none."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_files_atomic({
        **{out_dir / f"{name}.pkl": pickle.dumps((list(splits[name].users), [list(m) for m in splits[name].movies]),
                                                 protocol=4) for name in SPLIT_NAMES},
        **{out_dir / name: data for name, data in (extra or {}).items()},
    })
