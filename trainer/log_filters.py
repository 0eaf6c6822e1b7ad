"""The filters `prepare` applies to a log before splitting it, in this order: ratings below
`--min-rating`, rows repeating an earlier row, then `--min-item-count` and `--min-user-count`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import DataError


def check_min_rating(min_rating: float | None) -> None:
    """Refuse a --min-rating that no rating compares with (nan: every event would be dropped)."""
    if min_rating is not None and not np.isfinite(min_rating):
        raise DataError(f"--min-rating must be a finite number, got {min_rating}")


def drop_low_ratings(df: pd.DataFrame, min_rating: float | None, source: str) -> tuple[pd.DataFrame, int]:
    """`df` without the events rated below `min_rating` (column `rating`), and how many those were;
    `df` itself when `min_rating` is None.

    Raises:
        DataError: no ratings were read, or none reaches `min_rating`.
    """
    if min_rating is None:
        return df, 0
    if "rating" not in df.columns:
        raise DataError(f"{source}: --min-rating needs ratings, and this log has none read (name the column "
                        "with --rating-col)")
    kept = df[df["rating"] >= min_rating]
    if kept.empty:
        raise DataError(f"{source}: every event is rated below --min-rating {min_rating:g}")
    return kept, len(df) - len(kept)


def drop_duplicates(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """`df` without the rows that repeat an earlier row's (user, item, time), keeping the first in file
    order, and how many were dropped."""
    repeats = df.duplicated(["user", "item", "time"])
    return (df[~repeats], int(repeats.sum())) if repeats.any() else (df, 0)


def filter_min_counts(df: pd.DataFrame, min_item: int, min_user: int) -> pd.DataFrame:
    """Drop items with fewer than `min_item` events, then users with fewer than `min_user` (one pass each)."""
    if min_item > 1:
        counts = df["item"].map(df["item"].value_counts())
        df = df[counts >= min_item]
    if min_user > 1:
        counts = df["user"].map(df["user"].value_counts())
        df = df[counts >= min_user]
    return df
