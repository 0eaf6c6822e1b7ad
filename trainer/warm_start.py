"""`train --init-from RUN`: start a new run from a finished run's weights (a retrain on newer data).

A retrain on this week's log need not relearn what last week's model knew. The GRU's own weights
carry over whole; the movie rows (input embedding, output layer) are matched by raw movie id,
since the two vocabularies number movies by their own training counts. Movies new to the catalog
keep the fresh initialisation a cold run would give them (same seed), so their rows are learnt
from this run's data alone; movies the old run knew and this data lacks are dropped.

Started from the old weights as they are, a run stops early at a worse optimum than a cold one (warm
starts generalise worse, Ash & Adams 2020); their remedy, shrink and perturb, is `keep`: every carried
weight starts at keep x old + (1 - keep) x the fresh value. README gives the measurements behind 0.5.

Honest evaluation needs the old run to have learnt nothing of this run's validation and test
periods. Where the old run's split files can still be read, that is checked by user (by their id in
the log, through users.tsv for text ids): a user whose old training history is this run's training
history plus more has had those later movies, which this run holds out, trained into the weights,
and the start is refused.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from .config import ModelConfig, TrainConfig
from .data_identity import holds, recorded, recorded_dirs
from .errors import ConfigError, DataError, RunDirError
from .movie_ids import MOVIES_FILE, text_movie_ids
from .run_kind import BEST_FILE, CONFIG_FILE, not_a_trained_gru_run
from .splits import Split, load_data_dir
from .user_ids import USERS_FILE, read_users
from .vocab import VOCAB_FILE, Vocab

#: What must match for the old weights to fit the new network (the vocabulary size may differ).
ARCHITECTURE = ("emb_dim", "hidden_dim", "layers", "tied")
#: State-dict entries whose rows are movies (index 0, the start token, is matched to index 0).
MOVIE_ROWS = ("embedding.weight", "output.weight", "output.bias")


def check_source(run: Path, out_dir: Path, model: ModelConfig) -> None:
    """Check that `run` is a finished GRU run whose network has `model`'s shape, before anything is written.

    Raises:
        ConfigError: `run` is `out_dir`, is not a finished GRU run, or has another architecture.
    """
    run, flag = Path(run), f"--init-from {run}"
    if run.resolve() == Path(out_dir).resolve():
        raise ConfigError(f"{flag} names the run being trained (--out); give the finished run to start from")
    source = None
    try:
        problem = not_a_trained_gru_run(run)
        if problem is None:
            source = TrainConfig.load(run / CONFIG_FILE)
    except RunDirError as exc:  # an unreadable config.json
        problem = str(exc)
    if source is None:
        raise ConfigError(f"--init-from: {problem}; start from a trained GRU run")
    differ = [f"{name} {getattr(source.model, name)} (this run: {getattr(model, name)})" for name in ARCHITECTURE
              if getattr(source.model, name) != getattr(model, name)]
    if differ:
        raise ConfigError(f"{flag}: its network has {', '.join(differ)}; train with the settings it was trained "
                          f"with, --config {run / CONFIG_FILE} (flags given with it still win)")


def check_catalogs(run: Path, data_dir: Path) -> None:
    """Refuse an old run whose movies are named another way than this data's: text ids (movies.tsv)
    on one side and the log's ints on the other, whose numbers would match movies by accident.

    Raises:
        ConfigError: one catalog is text, the other numbers.
    """
    text_there = Vocab.load(Path(run) / VOCAB_FILE).names is not None
    if text_there != text_movie_ids(data_dir):
        raise ConfigError(f"--init-from {run}: " + ("its movies have text ids and this data's are ints" if text_there
                          else f"this data's movies have text ids ({MOVIES_FILE}) and its are ints")
                          + "; movies are matched by id, so start from a run of a log that names them the same way")


def check_periods(run: Path, splits: dict[str, Split], data_dir: Path) -> None:
    """Refuse an old run whose training split reaches into this data's (`splits`, read from `data_dir`)
    validation or test periods. Users are matched by their ids in the log: numbers, or the text ids of
    `prepare --text-user-ids` (whose numbers shift when a user joins), through each data's users.tsv.

    Raises:
        ConfigError: some users' old training histories continue past their training history here.
    """
    record = recorded(run)
    found = _recorded_splits(record) if record is not None else None
    if found is None:  # moved, deleted, or since re-prepared: not what the run learnt from
        named = record.get("data") if record is not None else None
        return _unchecked(run, f"the training data it recorded ({named or 'none'}) is not there as it was")
    old_dir, old_splits = found
    try:
        old_names, new_names = read_users(old_dir), read_users(data_dir)
    except (OSError, DataError) as exc:
        return _unchecked(run, f"the users' ids could not be read ({exc})")
    if (old_names is None) != (new_names is None):
        return _unchecked(run, f"one data set names its users with text ids ({USERS_FILE}) and the other with numbers")
    new = _by_log_id(splits["train"], new_names)
    users = events = shared = aligned = 0
    for user, movies in _by_log_id(old_splits["train"], old_names).items():
        mine = new.get(user)
        if mine is None:
            continue
        shared += 1
        n = min(len(movies), len(mine))
        aligned += movies[:n] == mine[:n]  # one history begins the other, as an earlier cut of one log does
        if len(movies) > len(mine) and movies[:n] == mine:
            users, events = users + 1, events + len(movies) - len(mine)
    if users:
        raise ConfigError(f"--init-from {run} learnt from {events:,} movies of {users:,} users that come after their "
                          f"training history here (its train.pkl, {old_dir}, goes on where this train.pkl stops): "
                          "this run would be validated and tested on movies its starting weights were trained on. "
                          "Start from a run trained on an earlier period")
    if not shared or aligned < shared / 2:  # another log, other filters, other ids: histories that cannot be compared
        _unchecked(run, f"only {aligned:,} of the {shared:,} users both data sets hold have histories where one "
                        f"begins the other ({old_dir} and {data_dir} are not cuts of one log)")


def _recorded_splits(record: dict) -> tuple[Path, dict[str, Split]] | None:
    """The first of the record's data directories that still holds the splits it recorded, with them."""
    for old_dir in recorded_dirs(record):
        try:
            old_splits = load_data_dir(old_dir)
        except (OSError, DataError):
            continue
        if holds(record, old_dir, old_splits):
            return old_dir, old_splits
    return None


def _unchecked(run: Path, why: str) -> None:
    """Say that the period check could not be made, and `why`."""
    print(f"warning: --init-from {run}: {why}, so whether it learnt from this run's validation or test period is "
          "not checked; start only from a run trained on an earlier period", file=sys.stderr)


def _by_log_id(split: Split, names: dict[int, str] | None) -> dict[int | str, list[int]]:
    """Each user's movies by the user's id in the log (`names`: users.tsv's number -> text id)."""
    return {names.get(u, u) if names else u: m for u, m in zip(split.users, split.movies)}


def warm_start(model: torch.nn.Module, vocab: Vocab, run: Path, keep: float = 1.0) -> str:
    """Start `model` (built for `vocab`, initialised as a cold run) from `run`'s best weights, movie rows
    matched by raw id (text id, for logs that name movies by text): each carried weight becomes keep x `run`'s + (1 - keep) x its fresh value. Returns
    a line saying what carried over."""
    state = torch.load(Path(run) / BEST_FILE, map_location="cpu", weights_only=True)["model"]
    old = Vocab.load(Path(run) / VOCAB_FILE)
    # rows to copy: new index <- old index, the start token included. Text ids (check_catalogs) match
    # by text: a movie new to the log shifts the numbers prepare gives those after it.
    old_index = {m: i + 1 for i, m in enumerate(old.names or old.movies)}
    pairs = [(0, 0)] + [(i + 1, old_index[m]) for i, m in enumerate(vocab.names or vocab.movies) if m in old_index]
    new_rows = torch.tensor([p[0] for p in pairs])
    old_rows = torch.tensor([p[1] for p in pairs])
    own = model.state_dict()
    if set(state) != set(own):
        raise ConfigError(f"--init-from {run}: its weights ({sorted(set(state) ^ set(own))} differ) do not fit this network")
    done: set[int] = set()
    with torch.no_grad():
        for name, value in state.items():
            target = own[name]
            if target.data_ptr() in done:  # tied: the output layer is the embedding, already started
                continue
            done.add(target.data_ptr())
            if name in MOVIE_ROWS:
                rows = new_rows.to(target.device)
                target[rows] = keep * value[old_rows].to(target.device, target.dtype) + (1 - keep) * target[rows]
            else:
                target.copy_(keep * value.to(target.device, target.dtype) + (1 - keep) * target)
    kept = len(pairs) - 1
    return (f"initialised from {run} (init_keep {keep:g}): {kept:,} of this vocabulary's {vocab.size - 1:,} movies "
            f"carried over ({vocab.size - 1 - kept:,} new, {old.size - 1 - kept:,} of its {old.size - 1:,} no longer in "
            "the vocabulary)")
