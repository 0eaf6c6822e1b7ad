"""`prepare`: interaction logs (TSV/CSV/Parquet) -> train/validate/test split files.

Order within a user is a STABLE sort by the time column: events with equal times keep their
file order (MovieLens-100k has many equal timestamps, so this choice changes the data).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .atomic import write_text_atomic
from .errors import DataError
from .id_tables import number_ids
from .log_columns import int_ids, ratings, time_keys
from .log_filters import check_min_rating, drop_duplicates, drop_low_ratings, filter_min_counts
from .log_splits import split_leave_one_out, split_temporal
from .movie_ids import MOVIES_FILE, movies_table
from .movie_names import MAX_TEXT_ID
from .splits import SPLIT_NAMES, Split, write_data_dir
from .user_ids import USERS_FILE, users_table
from .vocab import VOCAB_FILE

META_FILE = "meta.json"


def read_log(path: Path, user_col: str, item_col: str, time_col: str, text_user_ids: bool = False,
             rating_col: str | None = None, text_movie_ids: bool = False) -> pd.DataFrame:
    """Read a log into columns `user`, `item`, `time`, `row` (file order), validated; and `rating`
    when `rating_col` names one (read only then: most logs have none).

    With `text_user_ids` (`text_movie_ids`), user (movie) ids are read as text and numbered 1..N
    (id_tables.py); the numbering is in `attrs["user_ids"]` (`attrs["movie_ids"]`) as (column name,
    text -> number) for prepare_log to write.

    Raises:
        DataError: unreadable file, unknown format, a column named twice or missing, ids that are not
            64-bit integers, times that are neither numbers nor date-times (log_columns.py), no rows.
    """
    path = Path(path)
    if len({user_col, item_col, time_col}) < 3:
        raise DataError(f"--user-col {user_col!r}, --item-col {item_col!r} and --time-col {time_col!r} must name "
                        "three different columns")
    if rating_col is not None and rating_col in (user_col, item_col, time_col):
        raise DataError(f"--rating-col {rating_col!r} names the user, movie or time column")
    if not path.exists():
        raise DataError(f"{path}: file not found")
    text_columns = [c for c, text in ((user_col, text_user_ids), (item_col, text_movie_ids)) if text]
    df, sep = _read_table(path, {c: str for c in text_columns} or None)
    wanted = (user_col, item_col, time_col) + ((rating_col,) if rating_col is not None else ())
    missing = [c for c in wanted if c not in df.columns]
    if missing and len(df.columns) == 1 and sep is not None:
        _name_the_separator(path, str(df.columns[0]), sep)
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; found {list(df.columns)} "
                        f"(choose with --user-col/--item-col/--time-col{'/--rating-col' if rating_col else ''})")
    if df.empty:
        raise DataError(f"{path}: no rows")
    out = pd.DataFrame({"user": df[user_col], "item": df[item_col], "time": df[time_col]})
    if text_user_ids:
        out["user"], out.attrs["user_ids"] = _numbered(out["user"], f"{path}: column {user_col!r}", user_col, "user")
    else:
        out["user"] = int_ids(out["user"], f"{path}: column {user_col!r}", text_hint=(
            "if its user ids are text (names, UUIDs), pass --text-user-ids: prepare numbers them and writes the "
            f"table back to them, {USERS_FILE}"))
    if text_movie_ids:
        out["item"], out.attrs["movie_ids"] = _numbered(out["item"], f"{path}: column {item_col!r}", item_col, "movie")
    else:
        out["item"] = int_ids(out["item"], f"{path}: column {item_col!r}", text_hint=(
            "if its movie ids are text (IMDb's 'tt0114709', SKUs), pass --text-movie-ids: prepare numbers them, "
            f"writes the table back to them, {MOVIES_FILE}, and the server then takes and returns your ids"))
    if out["time"].isna().any():
        raise DataError(f"{path}: column {time_col!r} has {int(out['time'].isna().sum())} empty values")
    out["time"], out.attrs["time"] = time_keys(out["time"], f"{path}: column {time_col!r}")
    if rating_col is not None:
        out["rating"] = ratings(df[rating_col], f"{path}: column {rating_col!r}")
    out["row"] = np.arange(len(out))
    return out


def _numbered(values: pd.Series, where: str, column: str, what: str) -> tuple[pd.Series, tuple[str, dict[str, int]]]:
    """`what` (user or movie) ids as text, numbered 1..N in sorted order, and the numbering with the
    column's name."""
    if values.isna().any():
        first = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise DataError(f"{where} has {int(values.isna().sum())} empty {what} ids (the first at event {first + 1}, "
                        "in file order)")
    texts = values.astype(str)
    if what == "movie" and (long := texts.str.len() > MAX_TEXT_ID).any():
        # a request may carry ids of at most this length: a longer catalog id could never be asked for
        first = int(np.flatnonzero(long.to_numpy())[0])
        raise DataError(f"{where}: movie id {texts.iloc[first][:40]!r}... at event {first + 1} (in file order) has "
                        f"{len(texts.iloc[first])} characters; text movie ids are at most {MAX_TEXT_ID}, the most a "
                        "request may carry")
    numbers = number_ids(texts.tolist())
    return texts.map(numbers).astype(np.int64), (column, numbers)


#: Text log formats by suffix (their column separator), and the compressions pandas undoes by suffix.
_TEXT_FORMATS = {".tsv": "\t", ".tab": "\t", ".txt": "\t", ".csv": ","}
_COMPRESSED = (".gz", ".bz2", ".xz", ".zip")


def _read_table(path: Path, dtype: dict[str, type] | None = None) -> tuple[pd.DataFrame, str | None]:
    """The log as read by its suffix, and its column separator (None: Parquet). A text log may be
    compressed (`log.csv.gz`): its format is then the suffix before the compression's. `dtype`: text
    columns read as written ("007" stays "007")."""
    suffixes = [s.lower() for s in path.suffixes]
    last = suffixes[-1] if suffixes else ""
    compressed = last in _COMPRESSED and len(suffixes) >= 2
    fmt = suffixes[-2] if compressed else last
    if fmt not in _TEXT_FORMATS and (compressed or fmt not in (".parquet", ".pq")):
        shown = fmt + last if compressed else last
        raise DataError(f"{path}: unknown format {shown!r}; expected .tsv, .csv or .parquet (text logs may be "
                        "compressed: .csv.gz, .tsv.bz2, .csv.xz, .csv.zip)")
    try:
        if fmt in _TEXT_FORMATS:
            return pd.read_csv(path, sep=_TEXT_FORMATS[fmt], dtype=dtype), _TEXT_FORMATS[fmt]  # pandas drops a byte-order mark
        return pd.read_parquet(path), None
    except Exception as exc:
        raise DataError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None


def _name_the_separator(path: Path, header: str, sep: str) -> None:
    """A text log read as one column whose name holds another separator: say so, not "missing columns"."""
    others = [c for c in ("\t", ",", ";", "|") if c != sep and c in header]
    if not others:
        return
    split_by = {"\t": "a tab", ",": "commas"}
    advice = {",": "name the file .csv", "\t": "name the file .tsv"}.get(others[0], "write it with commas or tabs")
    raise DataError(f"{path}: one column, {header!r}: this file is read as columns split by {split_by[sep]}, "
                    f"and its header is split by {others[0]!r}; {advice}")


def _to_split(df: pd.DataFrame) -> Split:
    users, movies = [], []
    for user, items in df.groupby("user", sort=True)["item"]:
        users.append(int(user))
        movies.append(items.tolist())
    return Split(users, movies)


def check_out_dir(out_dir: Path, force: bool) -> None:
    """Refuse an --out that is a file, a run directory, or (without `force`) holds split files;
    `prepare` checks it before reading a log or downloading, which may take minutes."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir}: exists and is not a directory; choose another --out")
    if (out_dir / "config.json").exists() and (out_dir / VOCAB_FILE).exists():  # train's and baseline's
        raise DataError(f"{out_dir} is a run directory (config.json, {VOCAB_FILE}): split files go in a data "
                        "directory of their own; choose another --out")
    if not force and any((out_dir / f"{n}.pkl").exists() for n in SPLIT_NAMES):
        raise DataError(f"{out_dir}: already holds split files; pass --force to replace them")


def prepare_log(df: pd.DataFrame, out_dir: Path, split: str, min_item: int = 1, min_user: int = 1,
                val_frac: float = 0.1, test_frac: float = 0.1, source: str = "", force: bool = False,
                keep_duplicates: bool = False, min_rating: float | None = None) -> dict[str, Any]:
    """Filter, order, split and write a validated log; returns the metadata written to meta.json.

    With `min_rating`, events rated below it (column `rating`) are dropped before anything else, so
    histories, the count filters and every split's targets hold only the movies users rated that high.

    Rows repeating an earlier row's (user, item, time) are dropped next, unless `keep_duplicates`:
    a log written twice would otherwise count those movies double in --min-item-count, teach "next =
    the same movie", and (leave-one-out) make a test target of a movie the history already holds,
    which full-catalog evaluation masks, so a certain miss. Rewatches at another time are kept.
    """
    out_dir = Path(out_dir)
    for flag, value in (("--min-item-count", min_item), ("--min-user-count", min_user)):
        if value < 1:
            raise DataError(f"{flag} must be >= 1 (1 = keep all), got {value}")
    check_min_rating(min_rating)
    check_out_dir(out_dir, force)
    n_raw, time_kind, user_ids = len(df), df.attrs.get("time", "numbers"), df.attrs.get("user_ids")
    movie_ids = df.attrs.get("movie_ids")
    df, below = drop_low_ratings(df, min_rating, source or "input")
    df, duplicates = (df, 0) if keep_duplicates else drop_duplicates(df)
    df = filter_min_counts(df, min_item, min_user)
    if df.empty:
        raise DataError(f"{source or 'input'}: no events left after --min-item-count {min_item} / --min-user-count {min_user}")
    # Stable by construction: file row number is the last sort key.
    df = df.sort_values(["user", "time", "row"], kind="stable")
    if split == "temporal":
        try:
            parts = split_temporal(df, val_frac, test_frac)
        except DataError as exc:
            raise DataError(f"{source or 'input'}: {exc}") from None
    elif split == "leave-one-out":
        parts = split_leave_one_out(df)
    else:
        raise DataError(f"unknown --split {split!r}: expected temporal or leave-one-out")
    if parts["train"].empty:
        raise DataError(f"{source or 'input'}: the {split} split leaves no training events")
    splits = {name: _to_split(part) for name, part in parts.items()}
    meta = {"source": source, "split": split, "min_item_count": min_item, "min_user_count": min_user,
            "events_in": n_raw,
            **({"min_rating": min_rating, "below_min_rating_dropped": below} if min_rating is not None else {}),
            "keep_duplicates": keep_duplicates, "duplicates_dropped": duplicates,
            "events_kept": int(len(df)), "users": int(df["user"].nunique()),
            "items": int(df["item"].nunique()),
            "order": "stable sort by (user, time); file order breaks ties", "time": time_kind,
            **({"val_frac": val_frac, "test_frac": test_frac} if split == "temporal" else {}),
            **({"user_ids": f"text, numbered 1..N in sorted order: {USERS_FILE}"} if user_ids else {}),
            **({"movie_ids": f"text, numbered 1..M in sorted order: {MOVIES_FILE}"} if movie_ids else {}),
            "splits": {n: {"users": len(s.users), "events": s.n_events} for n, s in splits.items()}}
    tables = {}
    for name, numbering, column, write in ((USERS_FILE, user_ids, "user", users_table),
                                           (MOVIES_FILE, movie_ids, "item", movies_table)):
        if numbering:  # the ids the filters kept, as meta.json counts them
            kept = set(df[column].unique().tolist())
            tables[name] = write({t: n for t, n in numbering[1].items() if n in kept}, numbering[0])
    write_data_dir(splits, out_dir, tables)
    for name in {USERS_FILE, MOVIES_FILE} - tables.keys():
        (out_dir / name).unlink(missing_ok=True)  # an earlier prepare's (--force): not these ids' numbers
    write_text_atomic(out_dir / META_FILE, json.dumps(meta, indent=2) + "\n")
    return meta
