"""How far a configuration's seeds spread: standard deviation, range and a t interval of their mean.

A sweep's mean over a handful of seeds is itself uncertain; whether a goal is met "on average" depends on
that interval, not on the mean alone. Seeds are independent draws of one configuration, so the mean's
interval is Student's t with n - 1 degrees of freedom (the bootstrap in significance.py is for users,
of whom there are thousands; five seeds are too few to resample).
"""

from __future__ import annotations

import math
from statistics import mean, stdev
from typing import Any, Sequence

import numpy as np

from .errors import ConfigError


def _t_cdf_upper_half(x: float, df: int) -> float:
    """P(0 <= T <= x) for Student's t with `df` degrees of freedom, by Simpson's rule on its density."""
    grid = np.linspace(0.0, x, 4001)  # an even number of intervals, as Simpson's rule needs
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    density = np.exp(log_norm - (df + 1) / 2 * np.log1p(grid ** 2 / df))
    weights = np.ones_like(grid)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    return float((grid[1] - grid[0]) / 3 * (weights * density).sum())


def t_quantile(level: float, df: int) -> float:
    """The two-sided critical value of Student's t: P(|T| <= q) = level.

    Args:
        level: the interval's coverage, in (0, 1), e.g. 0.95.
        df: degrees of freedom, >= 1.

    Returns:
        q such that mean +- q * sd / sqrt(n) covers the true mean with probability `level` (df = n - 1).
    """
    if not 0 < level < 1:
        raise ConfigError(f"the interval's level must be in (0, 1), got {level}")
    if df < 1:
        raise ConfigError(f"Student's t needs at least 1 degree of freedom, got {df}")
    low, high = 0.0, 1.0
    while _t_cdf_upper_half(high, df) < level / 2:  # df = 1 at 0.999 needs ~637: grow the bracket
        low, high = high, high * 2
    for _ in range(60):  # bisection: 60 halvings leave the bracket far below float precision of q
        mid = (low + high) / 2
        low, high = (mid, high) if _t_cdf_upper_half(mid, df) < level / 2 else (low, mid)
    return (low + high) / 2


def spread(values: Sequence[float], level: float = 0.95) -> dict[str, Any] | None:
    """Standard deviation, range and t interval of the mean of one metric over seeds.

    Args:
        values: the metric, one value per seed.
        level: the interval's coverage.

    Returns:
        `sd` (sample standard deviation), `min`, `max`, `low` and `high` (the interval of the mean) and
        `level`; None for fewer than two values, which have no spread.
    """
    if len(values) < 2:
        return None
    m, sd = mean(values), stdev(values)
    half = t_quantile(level, len(values) - 1) * sd / math.sqrt(len(values))
    return {"sd": sd, "min": min(values), "max": max(values), "low": m - half, "high": m + half, "level": level}


def spread_text(key: str, s: dict[str, Any]) -> str:
    """One metric's spread as a sweep prints it."""
    return (f"{key} sd {s['sd']:.4f}, min-max {s['min']:.4f}-{s['max']:.4f}, "
            f"{s['level']:.0%} t interval of the mean {s['low']:.4f}-{s['high']:.4f}")
