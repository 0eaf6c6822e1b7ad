"""The one raw-movie-id <-> index map, built from the training split and reused everywhere.

Index 0 is the start token: every input sequence begins with it and it is never recommended.
Movies get indices 1..V-1 in order of descending training count (raw id breaks ties), so the
"lower index wins a score tie" rule of ranking also means "the more popular movie wins".
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .errors import DataError, RunDirError

START_INDEX = 0
VOCAB_FILE = "vocab.json"  # a run directory's vocabulary
VOCAB_FORMAT = "sessrec-vocab/1"


@dataclass
class Vocab:
    """Raw movie ids in index order (index = position + 1) and their training counts; `names`, for a
    log whose movie ids are text (`prepare --text-movie-ids`), each movie's id as the log wrote it,
    which clients send and get back (movie_names.py), while `movies` holds the split files' numbers."""

    movies: list[int]
    counts: list[int]
    names: list[str] | None = None
    index_of: dict[int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.index_of = {m: i + 1 for i, m in enumerate(self.movies)}

    @property
    def size(self) -> int:
        """Number of output classes, the start token included."""
        return len(self.movies) + 1

    def raw_id(self, index: int) -> int:
        if not 1 <= index < self.size:
            raise IndexError(f"index {index} is not a movie (valid: 1..{self.size - 1})")
        return self.movies[index - 1]

    def encode(self, raw_ids: Iterable[int]) -> list[int]:
        """Indices of the in-vocabulary ids, in order; unknown ids are dropped."""
        index_of = self.index_of
        return [index_of[m] for m in raw_ids if m in index_of]

    @classmethod
    def build(cls, sequences: Iterable[list[int]], min_count: int, names: dict[int, str] | None = None) -> "Vocab":
        """Keep movies seen at least `min_count` times in `sequences`; `names`: the data's number ->
        text id table (movies.tsv), for a log whose movie ids are text.

        Raises:
            DataError: no movie reaches `min_count`, or a kept movie has no name in `names`.
        """
        counts = Counter(m for seq in sequences for m in seq)
        kept = sorted((m for m, c in counts.items() if c >= min_count), key=lambda m: (-counts[m], m))
        if not kept:
            top = max(counts.values(), default=0)
            raise DataError(f"no movie has at least --min-count={min_count} training events "
                            f"(the most frequent has {top})")
        if names is not None:
            missing = [m for m in kept if m not in names]
            if missing:
                raise DataError(f"movie {missing[0]} of train.pkl has no text id in the data's movies table "
                                f"({len(missing)} such movies): prepare the data again")
        return cls(kept, [counts[m] for m in kept], None if names is None else [names[m] for m in kept])

    def save(self, path: Path) -> None:
        payload = {"format": VOCAB_FORMAT, "start_index": START_INDEX, "movies": self.movies, "counts": self.counts}
        if self.names is not None:
            payload["names"] = self.names
        Path(path).write_text(json.dumps(payload))

    @classmethod
    def load(cls, path: Path) -> "Vocab":
        try:
            payload = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise RunDirError(f"{path}: vocabulary not found") from None
        except json.JSONDecodeError as exc:
            raise RunDirError(f"{path}: not valid JSON ({exc})") from None
        if payload.get("format") != VOCAB_FORMAT:
            raise RunDirError(f"{path}: unknown vocabulary format {payload.get('format')!r}")
        names = payload.get("names")
        if names is not None and (not isinstance(names, list) or len(names) != len(payload["movies"])
                                  or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names)):
            raise RunDirError(f"{path}: 'names' must be one distinct text id per movie")
        return cls(list(payload["movies"]), list(payload["counts"]), names)
