"""seed_interval: the seeds' sd, range and Student's t interval of their mean."""

from __future__ import annotations

import math

import pytest

from trainer.errors import ConfigError
from trainer.seed_interval import spread, spread_text, t_quantile


# Two-sided critical values from printed t tables (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2), to 3 decimals.
@pytest.mark.parametrize("level, df, table", [(0.95, 1, 12.706), (0.95, 2, 4.303), (0.95, 4, 2.776),
                                              (0.95, 9, 2.262), (0.95, 13, 2.160), (0.95, 30, 2.042),
                                              (0.90, 5, 2.015), (0.99, 1, 63.657), (0.99, 10, 3.169)])
def test_t_quantile_matches_the_printed_tables(level, df, table):
    assert t_quantile(level, df) == pytest.approx(table, abs=6e-4)


def test_many_degrees_of_freedom_approach_the_normal_quantile():
    assert t_quantile(0.95, 100_000) == pytest.approx(1.959964, abs=1e-4)


def test_spread_of_three_seeds_by_hand():
    s = spread([0.1, 0.2, 0.3])
    # deviations -0.1, 0, 0.1: sample variance 0.02 / 2 = 0.01, sd 0.1; half width 4.303 * 0.1 / sqrt(3)
    assert s["sd"] == pytest.approx(0.1)
    assert (s["min"], s["max"], s["level"]) == (0.1, 0.3, 0.95)
    half = 4.3027 * 0.1 / math.sqrt(3)
    assert (s["low"], s["high"]) == (pytest.approx(0.2 - half, abs=1e-4), pytest.approx(0.2 + half, abs=1e-4))
    assert spread_text("ndcg@10", s) == (f"ndcg@10 sd 0.1000, min-max 0.1000-0.3000, 95% t interval of the mean "
                                         f"{0.2 - half:.4f}-{0.2 + half:.4f}")


def test_one_seed_has_no_spread():
    assert spread([0.2]) is None


@pytest.mark.parametrize("level, df, message", [(1.0, 3, "level must be in (0, 1), got 1.0"),
                                                (0.95, 0, "at least 1 degree of freedom, got 0")])
def test_bad_arguments_are_named(level, df, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        t_quantile(level, df)
