"""How a log's ordered events are cut into train / validate / test: one global time cut (temporal)
or each user's last two events (leave-one-out). Both return the three parts as data frames."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError


def split_temporal(df: pd.DataFrame, val_frac: float = 0.1, test_frac: float = 0.1) -> dict[str, pd.DataFrame]:
    """Global time cut points: the last `test_frac` of events (by time) are test, the `val_frac`
    before them validate. Events at a cut time go to the later split. Validate/test keep only users
    that have training events (the split format describes training users)."""
    if not (0 < val_frac < 1 and 0 < test_frac < 1 and val_frac + test_frac < 1):
        raise DataError(f"--val-frac {val_frac} and --test-frac {test_frac} must be in (0,1) with sum < 1")
    times = np.sort(df["time"].to_numpy(), kind="stable")
    n = len(times)
    test_cut = times[min(int(n * (1 - test_frac)), n - 1)]
    val_cut = times[min(int(n * (1 - test_frac - val_frac)), n - 1)]
    parts = {"train": df[df["time"] < val_cut], "validate": df[(df["time"] >= val_cut) & (df["time"] < test_cut)],
             "test": df[df["time"] >= test_cut]}
    _check_periods(parts, n, {"validate": (val_frac, val_cut), "test": (test_frac, test_cut)})
    known = set(parts["train"]["user"].unique())
    for name in ("validate", "test"):
        period = parts[name]
        parts[name] = period[period["user"].isin(known)]
        if parts[name].empty:
            raise DataError(f"every event of the {name} period ({len(period):,}) is from a user with no training "
                            "events, so it keeps none (the split format describes training users)")
    return parts


def _check_periods(parts: dict[str, pd.DataFrame], n: int, asked: dict[str, tuple[float, Any]]) -> None:
    """Events at a cut time go to the later period, so coarse times (dates, or one time for many
    events) move whole blocks across a cut: refuse a period left empty, warn when one is far from
    its share."""
    if parts["train"].empty:
        raise DataError(f"no event is before the validation cut time {_time_text(parts['train'], asked['validate'][1])}, "
                        "so training gets none: "
                        "are the times all equal? Use a real time column, or --split leave-one-out (file order)")
    for name, (frac, cut) in asked.items():
        share = len(parts[name]) / n
        if share == 0 or not frac / 2 <= share <= frac * 2:
            tied = int((parts[name]["time"] == cut).sum()) if share else 0
            what = (f"the {name} period holds {share:.1%} of the events, asked {frac:.1%}: the times are too coarse "
                    f"for the cut points (events at a cut time go to the later period)")
            if share == 0:
                raise DataError(f"{what}; use finer times, other --val-frac/--test-frac, or --split leave-one-out")
            print(f"warning: {what}; {tied:,} events share its cut time {_time_text(parts[name], cut)}", file=sys.stderr)


def _time_text(df: pd.DataFrame, time: Any) -> str:
    """A time key as the log wrote it: date-times are kept as UTC nanoseconds."""
    return pd.Timestamp(int(time), tz="UTC").isoformat() if "nanoseconds" in df.attrs.get("time", "") else str(time)


def split_leave_one_out(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each user's last event is test, the one before validate, the rest train; users with fewer
    than 3 events keep everything in train."""
    pos_from_end = df.groupby("user").cumcount(ascending=False)
    size = df["user"].map(df["user"].value_counts())
    eligible = size >= 3
    return {"train": df[~eligible | (pos_from_end >= 2)], "validate": df[eligible & (pos_from_end == 1)],
            "test": df[eligible & (pos_from_end == 0)]}
