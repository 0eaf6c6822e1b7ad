"""`python -m trainer prepare`: one source (a log, the built-in data, or MovieLens) -> split files."""

from __future__ import annotations

import argparse
import json
from typing import Iterable

from .errors import ConfigError

# Flags that only one source or split reads are None in the parser, so that one the chosen source
# would ignore can be told from one left alone; left alone, the reader's own default applies.
LOG_COLUMNS = {"user_col": "user_id", "item_col": "item_id", "time_col": "timestamp"}  # flag -> default
SYNTHETIC = {"users": "n_users", "movies": "n_movies", "seed": "seed"}  # flag -> synthetic_log's argument
TEMPORAL = ("val_frac", "test_frac")  # prepare_log's arguments
RATING_COLUMN = "rating"  # --rating-col's default, read only for --min-rating


def check_prepare_flags(args: argparse.Namespace) -> None:
    """Refuse flags that the chosen source or split would ignore without a word (a `--val-frac`
    under `--split leave-one-out` used to be dropped, and the user read the split as theirs)."""
    for names, applies, what in ((TEMPORAL, args.split == "temporal", "--split temporal"),
                                 (SYNTHETIC, args.synthetic, "--synthetic"),
                                 (("cache_dir", "base_url"), args.dataset is not None, "--dataset"),
                                 ((*LOG_COLUMNS, "text_user_ids", "text_movie_ids", "rating_col"), args.input is not None, "--input"),
                                 (("min_rating",), not args.synthetic, "--input or --dataset (the built-in data has no ratings)"),
                                 (("rating_col",), args.min_rating is not None, "--min-rating")):
        flags = [f"--{name.replace('_', '-')}" for name in _given(args, names)]
        if flags and not applies:
            raise ConfigError(f"{' and '.join(flags)} {'go' if len(flags) > 1 else 'goes'} with {what}; "
                              f"here {'they' if len(flags) > 1 else 'it'} would be ignored")


def prepare(args: argparse.Namespace) -> None:
    """Read the source, split it, write the pickles and print meta.json's content."""
    from .log_filters import check_min_rating
    from .prepare import check_out_dir, prepare_log, read_log

    check_prepare_flags(args)
    check_min_rating(args.min_rating)
    check_out_dir(args.out, args.force)  # before a read or a download that may take minutes
    if args.synthetic:
        from .synthetic import synthetic_log
        df, source = synthetic_log(**{SYNTHETIC[n]: getattr(args, n) for n in _given(args, SYNTHETIC)}), "synthetic"
    elif args.dataset:
        from .datasets import GROUPLENS, load_dataset
        df, source = load_dataset(args.dataset, args.cache_dir, args.base_url or GROUPLENS), args.dataset
    else:
        columns = {**LOG_COLUMNS, **{n: getattr(args, n) for n in _given(args, LOG_COLUMNS)}}
        rating_col = None if args.min_rating is None else args.rating_col or RATING_COLUMN
        df = read_log(args.input, *columns.values(), text_user_ids=bool(args.text_user_ids), rating_col=rating_col,
                      text_movie_ids=bool(args.text_movie_ids))
        source = str(args.input)
    meta = prepare_log(df, args.out, args.split, args.min_item_count, args.min_user_count, source=source,
                       force=args.force, keep_duplicates=args.keep_duplicates, min_rating=args.min_rating,
                       **{n: getattr(args, n) for n in _given(args, TEMPORAL)})
    print(json.dumps(meta))


def _given(args: argparse.Namespace, names: Iterable[str]) -> list[str]:
    """Those of the flags `names` (their argparse names) that were given."""
    return [name for name in names if getattr(args, name) is not None]
