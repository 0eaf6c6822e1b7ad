"""Recommendations from a finished run without a server: what the handler would answer, in Python.

For a notebook (`Recommender.from_run("runs/latest").recommend([1, 2, 3])`) and for
`python -m trainer recommend`. It reads the run's exported model.pt, as `evaluate` and the archive
do, and goes through recommend.py's encoding, masking, top-k and decoding, the code the handler
ships: for the same history, k and exclusions it returns the served movies, in the served order.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from handler.request_parser import ID_MAX, ID_MIN

from .devices import resolve_device
from .errors import ConfigError, DataError
from .movie_names import MAX_TEXT_ID, MovieNames
from .recommend import encode_history, pad_batch, recommend, to_raw, unknown_ids
from .vocab import Vocab

DEFAULT_K = 20  # the handler's default_k (handler/model-config.yaml)


@dataclass(frozen=True)
class Recommendation:
    """One answer, as the HTTP answer's JSON: movies best first, their scores, and the history's
    ids that are not in the run's vocabulary (ignored)."""

    movies: list[int] | list[str]
    scores: list[float]
    unknown: list[int] | list[str]


def movie_ids(values: Sequence[Any], what: str, any_order: bool = False, text: bool = False) -> list[int] | list[str]:
    """`values` as a list of int movie ids (a list, tuple or numpy array of ints, or a set where
    `any_order`: exclusions have no order, histories do), or with `text` (a catalog of text ids) of
    strings; a DataError names `what` and the first bad value otherwise."""
    kind = "text" if text else "int"
    if any_order and isinstance(values, Set):
        values = list(values)
    if isinstance(values, (str, bytes)) or not (isinstance(values, Sequence) or hasattr(values, "tolist")):
        hint = " (a set has no order; a history is oldest first)" if isinstance(values, Set) else ""
        raise DataError(f"{what} must be a sequence of {kind} movie ids, got {type(values).__name__}{hint}")
    out = []
    for i, v in enumerate(values.tolist() if hasattr(values, "tolist") else values):
        if text:
            if not isinstance(v, str) or not 0 < len(v) <= MAX_TEXT_ID:  # as the handler refuses it
                raise DataError(f"{what}[{i}] must be a text movie id of 1..{MAX_TEXT_ID} characters (this run's "
                                f"log named its movies by text), got {repr(v)[:40]}")
            out.append(v)
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise DataError(f"{what}[{i}] must be an int movie id, got {repr(v)[:40]}")
        if not ID_MIN <= v <= ID_MAX:  # as the handler refuses it
            raise DataError(f"{what}[{i}] is outside the 64-bit range of movie ids, got {v}")
        out.append(int(v))
    return out


class Recommender:
    """A run's exported model with the serving path around it.

    Args:
        model: the TorchScript model (`predict_next(movies, lens)`).
        vocab: the run's vocabulary (raw id <-> index).
        max_len: the longest input the model reads (the run's max_len; all ids are still masked).
        device: where the model scores ("cpu", "cuda", "cuda:N" or "auto"); masking and top-k run on
            CPU, as in serving.
    """

    def __init__(self, model: torch.jit.ScriptModule, vocab: Vocab, max_len: int, device: str = "cpu") -> None:
        self.device = resolve_device(device, "device")
        self.model = model.to(self.device).eval()
        self.vocab = vocab
        self.max_len = max_len
        # a log with text movie ids: histories and answers use them, the model the numbers (as served)
        self.names = MovieNames(vocab.names, vocab.movies) if vocab.names else None

    @classmethod
    def from_run(cls, run_dir: str | Path, device: str = "cpu") -> "Recommender":
        """Load a finished run (model.pt, vocab.json, config.json); RunDirError names what is missing,
        ConfigError a device this machine lacks."""
        from .evaluate import load_exported

        resolve_device(device, "device")  # before the load

        model, vocab, cfg = load_exported(Path(run_dir))
        return cls(model, vocab, cfg.max_len, device)

    def recommend(self, movies: Sequence[int], k: int = DEFAULT_K, exclude: Iterable[int] = (),
                  candidates: Iterable[int] | None = None) -> Recommendation:
        """The top `k` movies after the history `movies` (raw ids, oldest first), none of them in
        the history or in `exclude` (a sequence or a set), and with `candidates`, only movies among
        those (ids the model does not know are left out). Fewer than k come back when fewer movies
        are left."""
        return self.recommend_batch([movies], k, [exclude], candidates=None if candidates is None else [candidates])[0]

    def recommend_batch(self, histories: Iterable[Sequence[int]], k: int = DEFAULT_K,
                        excludes: Iterable[Iterable[int]] | None = None,
                        batch_size: int = 256,
                        candidates: Iterable[Iterable[int] | None] | None = None) -> list[Recommendation]:
        """`recommend` for many histories at once (scored `batch_size` at a time), in input order.

        Args:
            histories: raw-id histories, oldest first: a list, a generator, a pandas Series (its
                values, in its order); not a dict, whose keys would be taken for histories.
            k: answers per history (an int, numpy's included).
            excludes: per history, ids never to return (sequences or sets), or None.
            batch_size: histories scored together.
            candidates: per history, the only ids it may return (a sequence or set, or None: the whole
                catalog), or None for all; the serving request's `candidates`.

        Raises:
            ConfigError: `k` or `batch_size` is not a positive int, `histories`, `excludes` or
                `candidates` is a dict, or `excludes` or `candidates` has another length.
            DataError: a history, exclusion or candidate list is not a sequence of int ids (the
                message names it).
        """
        k, batch_size = _positive_int("k", k), _positive_int("batch_size", batch_size)
        histories = _listed("histories", histories)
        excludes = [()] * len(histories) if excludes is None else _listed("excludes", excludes)
        if len(excludes) != len(histories):
            raise ConfigError(f"excludes has {len(excludes)} entries for {len(histories)} histories")
        candidates = [None] * len(histories) if candidates is None else _listed("candidates", candidates)
        if len(candidates) != len(histories):
            raise ConfigError(f"candidates has {len(candidates)} entries for {len(histories)} histories")
        text = self.names is not None
        asked = [movie_ids(h, f"histories[{i}]", text=text) for i, h in enumerate(histories)]
        skip = [movie_ids(e, f"excludes[{i}]", any_order=True, text=text) for i, e in enumerate(excludes)]
        only = [None if c is None else movie_ids(c, f"candidates[{i}]", any_order=True, text=text)
                for i, c in enumerate(candidates)]
        number_of, answer_ids = self.vocab.index_of, self.vocab.movies
        if text:
            raw, skip = [self.names.numbers(h) for h in asked], [self.names.numbers(e) for e in skip]
            only = [None if c is None else self.names.numbers(c) for c in only]
            number_of, answer_ids = self.names.number_of, self.names.names
        else:
            raw = asked
        only = [None if c is None else self.vocab.encode(c) for c in only]
        answers: list[Recommendation] = []
        # No answer is longer than the catalog: ranking k columns would cost k-sized tensors for
        # nothing (k = 10**9 asked for 16 GB; k past 2**63 overflowed in torch).
        k = min(k, self.vocab.size)
        with torch.inference_mode():
            for start in range(0, len(raw), batch_size):
                chunk = range(start, min(start + batch_size, len(raw)))
                encoded = [encode_history(raw[i], self.vocab.index_of, self.max_len) for i in chunk]
                movies, lens = pad_batch([inputs for inputs, _ in encoded])
                scores = self.model.predict_next(movies.to(self.device), lens.to(self.device)).cpu()
                masks = [seen + self.vocab.encode(skip[i]) for (_, seen), i in zip(encoded, chunk)]
                indices, values = recommend(scores, masks, k, [only[i] for i in chunk])
                for i, idx, val in zip(chunk, indices.tolist(), values.tolist()):
                    answers.append(Recommendation(*to_raw(idx, val, k, answer_ids), unknown_ids(asked[i], number_of)))
        return answers


def _positive_int(name: str, value: Any) -> int:
    """`value` as an int if it is a positive integer (numpy's too: a notebook's k often is one)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _listed(name: str, values: Any) -> list[Any]:
    """`values` as a list, refusing a dict: iterating one gives its keys, which would be read as
    histories (a user -> history dict is a notebook's usual shape)."""
    if isinstance(values, Mapping):
        raise ConfigError(f"{name} is a {type(values).__name__}; pass list({name}.values()) "
                          "(answers come back in that order)")
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ConfigError(f"{name} must be a list of movie-id lists, got {type(values).__name__}")
    return list(values)
