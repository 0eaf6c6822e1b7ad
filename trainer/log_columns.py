"""An interaction log's columns checked and made orderable: integer ids, and times that sort as times.

`prepare` reads logs from users' own files, where a stray cell changes a column's type; these
functions refuse what would otherwise be reordered or wrapped silently, naming the first bad value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import DataError


def int_ids(values: pd.Series, where: str, text_hint: str = "") -> pd.Series:
    """An id column as int64, or a DataError naming its first value that is not a 64-bit integer
    (and, for a column of text, `text_hint`: what to do about text ids).

    Whole numbers stored as floats or text ("12.0", common after a column held an empty cell) are
    taken, up to 2**53 for floats, where every whole number is still exact. A column typed as
    integers can still hold ids past int64 (uint64), which a cast would wrap to negative ids
    silently, so its range is checked too.
    """
    numbers = values if pd.api.types.is_integer_dtype(values) else pd.to_numeric(values, errors="coerce")
    if pd.api.types.is_bool_dtype(numbers):  # a bool column is not an integer dtype, so it went through to_numeric
        bad = np.ones(len(values), dtype=bool)
    elif pd.api.types.is_integer_dtype(numbers):
        bad = ((numbers < -2**63) | (numbers >= 2**63)).to_numpy()
    else:
        bad = (numbers.isna() | (numbers % 1 != 0) | (numbers.abs() > 2**53)).to_numpy()
    if not bad.any():
        return numbers.astype(np.int64)
    first, found = _first_bad(values, bad)
    hint = f"; {text_hint}" if text_hint and not pd.api.types.is_numeric_dtype(values) else ""
    raise DataError(f"{where} must hold integer ids (64-bit); found {found} at event {first + 1} "
                    f"(in file order; dtype {values.dtype}){hint}")


def time_keys(values: pd.Series, where: str) -> tuple[pd.Series, str]:
    """A time column as numbers that sort in time order, and what they are (for meta.json).

    Numbers (epoch seconds, or any count that grows with time) are kept as they are. Date-times,
    a Parquet timestamp column or ISO 8601 text ("2024-03-01T12:00:00+01:00"; no offset means UTC),
    become UTC nanoseconds, so offsets and mixed precisions order correctly. Anything else is
    refused: compared as text, "999" would sort after "1000" and reorder histories silently.

    Raises:
        DataError: booleans, or text that is neither all numbers nor all ISO 8601 date-times.
    """
    if pd.api.types.is_bool_dtype(values):
        raise DataError(f"{where} holds booleans; expected numbers or ISO 8601 date-times")
    if pd.api.types.is_numeric_dtype(values):
        return values, "numbers"
    if pd.api.types.is_datetime64_any_dtype(values):
        utc = values.dt.tz_convert("UTC") if values.dt.tz is not None else values.dt.tz_localize("UTC")
        return utc.dt.as_unit("ns").astype("int64"), "date-times, as UTC nanoseconds"
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():
        return numbers, "numbers"
    text = values.astype(str)
    parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    # Name a value that breaks the column's majority kind: a stray word among numbers, or a number among dates.
    mostly_numbers = numbers.notna().sum() > parsed.notna().sum()
    bad, kind = (numbers.isna(), "a number") if mostly_numbers else (parsed.isna(), "an ISO 8601 date-time")
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{where}: event {first + 1} (in file order) has time {text.iloc[first]!r}, not {kind} "
                        f"like most of the column ({int(bad.sum())} such values); times must be all numbers or "
                        "all ISO 8601 date-times, since text would be ordered as text")
    return parsed.dt.as_unit("ns").astype("int64"), "ISO 8601 date-times, as UTC nanoseconds"


def ratings(values: pd.Series, where: str) -> pd.Series:
    """A rating column as float64, or a DataError naming its first value that is not a finite number
    (an empty cell included: an unrated event is neither kept nor dropped by a threshold silently).
    """
    numbers = None if pd.api.types.is_bool_dtype(values) else pd.to_numeric(values, errors="coerce")
    bad = np.ones(len(values), dtype=bool) if numbers is None else ~np.isfinite(numbers.to_numpy(dtype=float))
    if not bad.any():
        return numbers.astype(np.float64)
    first, found = _first_bad(values, bad)
    raise DataError(f"{where} must hold numbers (ratings); found {found} at event {first + 1} (in file order)")


def _first_bad(values: pd.Series, bad: np.ndarray) -> tuple[int, str]:
    """The position of the first value `bad` marks, and that value as an error message shows it."""
    first = int(np.flatnonzero(bad)[0])
    example = values.iloc[first]
    return first, "an empty value" if pd.isna(example) else repr(example.item() if hasattr(example, "item") else example)
