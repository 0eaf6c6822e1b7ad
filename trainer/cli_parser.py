"""The command line's parser: every subcommand's flags (`python -m trainer COMMAND --help`).

Building it imports neither torch nor numpy, so every command starts in milliseconds.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from .cli_serving import add_serving  # archive, serve, stop, request, recommend
from .config import ADJUSTMENTS, PROTOCOLS, TARGETS, WINDOWS, ModelConfig, TrainConfig
from .presets import PRESETS

DESCRIPTION = ("Command line: `python -m trainer COMMAND ...`, COMMAND one of prepare, train, evaluate, compare, "
               "export, ensemble, recipe, baseline, archive, serve, stop, request, recommend.")


def _add_prepare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="interaction log or built-in data -> train/validate/test pickles")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", type=Path, help="TSV/CSV/Parquet interaction log")
    src.add_argument("--synthetic", action="store_true", help="the built-in deterministic movie-like data")
    src.add_argument("--dataset", choices=["ml-100k", "ml-1m"], help="download MovieLens from GroupLens (checksummed, cached)")
    p.add_argument("--out", type=Path, required=True, help="output directory for the three pickles")
    # None: cli_prepare fills in the defaults named here, and refuses one the source would ignore
    p.add_argument("--user-col", help="--input: user id column (default user_id)")
    p.add_argument("--item-col", help="--input: movie id column (default item_id)")
    p.add_argument("--time-col", help="--input: orders events within a user, stable sort (default timestamp)")
    p.add_argument("--text-user-ids", action="store_true", default=None,
                   help="--input: user ids are text (names, UUIDs): number them 1..N and write the table back, users.tsv")
    p.add_argument("--text-movie-ids", action="store_true", default=None,
                   help="--input: movie ids are text (IMDb's tt0114709, SKUs): number them 1..M and write the table "
                        "back, movies.tsv; runs trained on it take and return your ids")
    p.add_argument("--split", choices=["temporal", "leave-one-out"], default="temporal")
    p.add_argument("--val-frac", type=float, help="temporal: share of events for validate (default 0.1)")
    p.add_argument("--test-frac", type=float, help="temporal: share of events for test (default 0.1)")
    p.add_argument("--min-rating", type=float, help="drop events rated below this first (--input with ratings, or "
                   "--dataset: MovieLens rates 1-5 stars); kept, every event counts as a watch")
    p.add_argument("--rating-col", help="--input: the rating column --min-rating reads (default rating)")
    p.add_argument("--min-item-count", type=int, default=1, help="drop items with fewer events, before splitting")
    p.add_argument("--min-user-count", type=int, default=1, help="then drop users with fewer events")
    p.add_argument("--users", type=int, help="synthetic: number of users (default 3000)")
    p.add_argument("--movies", type=int, help="synthetic: catalog size (default 1200)")
    p.add_argument("--seed", type=int, help="synthetic: random seed (default 7)")
    p.add_argument("--keep-duplicates", action="store_true",
                   help="keep rows that repeat an earlier row's (user, item, time); by default they are dropped")
    p.add_argument("--force", action="store_true", help="replace split files already in --out")
    p.add_argument("--cache-dir", type=Path, default=None, help="dataset download cache (default ~/.cache/sessrec)")
    p.add_argument("--base-url", default=None, help="mirror of the GroupLens dataset directory")


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the GRU, early-stop on a validation metric (map@20 unless "
                                     "--select-metric), export model.pt")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="run directory")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help="start from a named, measured configuration (explicit flags override it)")
    p.add_argument("--config", type=Path, default=None, metavar="FILE",
                   help="settings from a JSON or YAML file, e.g. a finished run's config.json (over --preset, "
                        "under explicit flags; its 'data' is ignored: the data is --data)")
    # Defaults come from TrainConfig; None means "not given", so --resume can tell what changed.
    defaults = {**TrainConfig().to_dict(), **ModelConfig().__dict__}
    for name, typ, what in [
            ("epochs", int, "most epochs to train"), ("batch_size", int, "training windows per batch"),
            ("lr", float, "Adam's learning rate"), ("lr_decay", float, "plateau schedule: the lr's factor"),
            ("lr_patience", int, "plateau schedule: epochs without a better validation metric before decaying"),
            ("clip_norm", float, "max gradient norm (0: no clipping)"), ("weight_decay", float, "Adam's L2 penalty"),
            ("label_smoothing", float, "share of each target's probability spread over all movies"),
            ("ema", float, "decay of a moving average of the weights, which validation and export use (0: off)"),
            ("tail_average", int, "N: from the first lowered lr on, validation also judges the mean of the last N "
                                  "end-of-epoch weights, and the better of it and the weights is kept (0: off)"),
            ("pop_prior", float, "W: W x log(1 + training count) added to each movie's score wherever the model "
                                 "ranks (validation, evaluate, export, serving), not in training (0: off)"),
            ("distill_weight", float, "the teachers' share of the loss, with --distill"),
            ("distill_k", int, "teacher movies kept per training position, with --distill"),
            ("min_count", int, "a movie needs this many training events to be in the vocabulary"),
            ("max_len", int, "movies per training window, and the most a served history is cut to"),
            ("patience", int, "epochs without a better --select-metric before stopping"),
            ("seed", int, "seeds the weights, batch order and dropout"),
            ("emb_dim", int, "movie embedding size"), ("hidden_dim", int, "GRU state size"),
            ("layers", int, "stacked GRU layers"), ("emb_dropout", float, "dropout on the input embeddings"),
            ("dropout", float, "dropout on the GRU's outputs and between layers")]:
        p.add_argument(f"--{name.replace('_', '-')}", type=typ, default=None, help=f"{what} (default {defaults[name]})")
    # No argparse choices: the names come from metrics.py, which imports torch, and a CLI start (say `stop`)
    # should not pay for that. TrainConfig.validate names a bad one, with the list, before anything is written.
    p.add_argument("--select-metric", default=None, metavar="METRIC",
                   help="the validation metric that picks the best epoch, drives --patience and the plateau "
                        "schedule: any metric evaluate reports, e.g. ndcg@10, hr@10, mrr@20, precision@20 "
                        "(default map@20)")
    p.add_argument("--select-protocol", choices=PROTOCOLS, default=None,
                   help="how validation is scored for it: set (every validation movie as one target set, as "
                        "`evaluate` by default) or next (each movie from all before it, as sessions are "
                        "answered; `evaluate --protocol next`) (default set)")
    p.add_argument("--device", default=None, metavar="auto|cpu|cuda|cuda:N",
                   help="where to train; auto: CUDA when present, else the CPU; cuda:N one GPU of several "
                        "(default auto)")
    p.add_argument("--windows", choices=WINDOWS, default=None,
                   help="train on each user's last --max-len events, or on all of the history in windows")
    p.add_argument("--shuffle-window", type=int, default=None, metavar="N",
                   help="every epoch, reorder each training window's movies inside random blocks of N positions "
                        "(N >= --max-len: the whole window); for logs whose order is not the viewing order, "
                        "such as MovieLens ratings (default 0: keep the order)")
    p.add_argument("--item-dropout", type=float, default=None, metavar="P",
                   help="every epoch, leave each training input movie out with probability P, its target kept "
                        "(whole-click dropout, Tan et al. 2016) (default 0: off)")
    p.add_argument("--target", choices=TARGETS, default=None,
                   help="what each training position learns: the next movie (default), or every movie still "
                        "ahead in its window as one soft target (with --shuffle-window: the expectation of the "
                        "reshuffled next movie)")
    p.add_argument("--negatives", type=int, default=None, metavar="N",
                   help="train each position against N movies drawn per batch instead of the whole catalog "
                        "(sampled softmax, for large catalogs; evaluation still ranks them all) (default 0: "
                        "the full softmax)")
    p.add_argument("--negative-alpha", type=float, default=None, metavar="A",
                   help="with --negatives: draw movies in proportion to their training count ** A (0: "
                        "uniformly) (default 0.5)")
    p.add_argument("--user-weight", type=float, default=None, metavar="P",
                   help="use each training window of a user with n training movies round((n / --max-len) ** P) "
                        "times an epoch, so heavy raters weigh more (default 0: every window once)")
    p.add_argument("--lr-schedule", choices=["constant", "plateau", "cosine"], default=None,
                   help="plateau: multiply lr by --lr-decay after --lr-patience+1 epochs without a better "
                        "validation metric; cosine: anneal to lr/100 over --epochs")
    p.add_argument("--distill", nargs="+", default=None, metavar="RUN",
                   help="also learn each position's next movie from these finished GRU runs (an ensemble "
                        "run: its members), weighted by --distill-weight (default 0.5)")
    p.add_argument("--init-from", type=Path, default=None, metavar="RUN",
                   help="start from a finished GRU run's weights (a retrain on newer data): its movies' rows are "
                        "matched by movie id, new movies start fresh; the network's shape must be RUN's")
    p.add_argument("--init-keep", type=float, default=None, metavar="K",
                   help="with --init-from: start each weight at K x RUN's + (1 - K) x a fresh initialisation "
                        "(shrink and perturb); 1 = RUN's weights as they are (default 0.5)")
    p.add_argument("--tied", action=argparse.BooleanOptionalAction, default=None, help="tie input/output embeddings")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None, help="bf16 autocast (CUDA, or a CPU with AVX512-BF16 or AMX)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar per epoch (default: only on a terminal)")


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="full-catalog metrics of a run's exported model.pt, as JSON")
    p.add_argument("--run", type=Path, required=True)
    _add_scoring(p)
    p.add_argument("--per-user", type=Path, default=None,
                   help="also write every user's metrics to this JSON file (for paired comparisons)")


def _add_scoring(p: argparse.ArgumentParser) -> None:
    """What evaluate and compare score on, and how: one set of flags for both."""
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--split", choices=["test", "validate"], default="test")
    p.add_argument("--k", type=int, default=20, help="MAP cut-off")
    p.add_argument("--test-history", choices=["train+validate", "train"], default="train+validate",
                   help="history before test; 'train' reproduces the notebook, which skipped validation")
    p.add_argument("--protocol", choices=PROTOCOLS, default="set",
                   help="set: the split's movies as one target set after the history (default); next: each movie "
                        "of the split from everything before it, as a session is answered after each event")
    p.add_argument("--candidates", type=Path, default=None, metavar="FILE",
                   help="rank among these movie ids only, as a deployment that sends them as every request's "
                        "\"candidates\" serves (ids separated by spaces, commas or new lines; # comments); "
                        "test movies outside them count as misses")


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="re-export RUN/model.pt from the run's best checkpoint")
    p.add_argument("--run", type=Path, required=True)


def _add_ensemble(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ensemble", help="serve several finished GRU runs as one model averaging their predictions")
    p.add_argument("--runs", type=Path, nargs="+", required=True, help="two or more GRU run directories")
    p.add_argument("--out", type=Path, required=True, help="the ensemble's run directory (new or empty)")


def _add_recipe(sub: argparse._SubParsersAction) -> None:
    from .recipe_book import RECIPES  # not recipes.py: listing the names must not import torch
    p = sub.add_parser("recipe", help="train a named multi-run configuration (teachers, then a distilled student)",
                       description="Trains OUT/teacher-seed-S for each teacher seed, their ensemble OUT/teachers, then "
                                   "OUT/student: the result, a plain GRU run. The same command again continues.",
                       epilog="\n\n".join(textwrap.fill(f"{n}: {r.measured}", 100) for n, r in sorted(RECIPES.items())),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=sorted(RECIPES))
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True,
                   help="the recipe's directory: new, or started by this same command (then it continues)")
    p.add_argument("--student-seed", type=int, default=None, help="default: the recipe's own")
    p.add_argument("--epochs", type=int, default=None, help="cap every run's epochs (a quick try)")
    p.add_argument("--device", default=None, metavar="auto|cpu|cuda|cuda:N", help="--device for every run")
    p.add_argument("--amp", action="store_true",
                   help="bf16 autocast for every run (CUDA, or a CPU with AVX512-BF16 or AMX); pinned like --device")
    p.add_argument("--jobs", type=int, default=1,
                   help="train this many teachers at once, each with its share of the cores (logs: RUN.log)")


def _add_baseline(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("baseline", help="fit pop/sr/sknn into a run directory that evaluate scores like the GRU")
    p.add_argument("--name", choices=["pop", "sr", "sknn"], required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="run directory")
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--max-len", type=int, default=150)


def _add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="runs side by side on one split: each later run minus the first, per metric, "
                                       "with a paired bootstrap interval over the users")
    p.add_argument("--runs", type=Path, nargs="+", required=True, help="two or more runs; the first is the reference")
    _add_scoring(p)
    p.add_argument("--metrics", nargs="+", default=None, help="default: every metric evaluate reports")
    p.add_argument("--resamples", type=int, default=10_000)
    p.add_argument("--level", type=float, default=0.95, help="the intervals' coverage")
    p.add_argument("--adjust", choices=ADJUSTMENTS, default="none",
                   help="none: each interval covers --level alone; bonferroni: all of them together do (each "
                        "widened to 1 - (1 - level) / their number), so one marked metric among many still counts; holm: "
                        "the same family-wise guarantee for the marks by Holm's step-down on the bootstrap p-values "
                        "(marks at least Bonferroni's), intervals each at --level")
    p.add_argument("--seed", type=int, default=0, help="the bootstrap's seed")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON instead of a table")


def _versions() -> str:
    """sessrec's version and those of what it trains and serves with, from the installed metadata
    (importing torch would cost the CLI's start a second)."""
    from importlib.metadata import PackageNotFoundError, version

    def of(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return f"sessrec {of('sessrec')} (torch {of('torch')}, torchserve {of('torchserve')})"


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (also how seed_sweep reads the train flags it passes on)."""
    import sys

    # `sessrec` is the console script pyproject.toml installs; usage lines then name it
    prog = "sessrec" if Path(sys.argv[0]).name == "sessrec" else "python -m trainer"
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=_versions())
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_prepare, _add_train, _add_evaluate, _add_compare, _add_export, _add_ensemble, _add_recipe,
                _add_baseline, add_serving):
        add(sub)
    return parser
