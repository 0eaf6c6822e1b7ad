"""Text movie ids at the edges of serving: the log's ids in, the split files' numbers inside, the ids out.

A run trained on `prepare --text-movie-ids` data keeps each vocabulary movie's text id in vocab.json
("names"). Clients name movies by those ids; everything between (encoding, sessions, masking, top-k)
works on the numbers, exactly as for a log with int ids. The handler and `Recommender` both translate
with this one class, so both give the same answers.

An id the catalog does not know gets a number of its own, negative (no catalog movie has one) and
derived from its text alone, so every worker gives it the same one: it is left out of the input as
an unknown int id is, a session can still recognise a resent request by its numbers, and the answer's
`unknown` names it as the client wrote it.

Shipped in the archive beside the handler; standard library only.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

#: The longest text movie id a request may hold, in characters (a bound on what one id costs to hash).
MAX_TEXT_ID = 256


def unknown_number(text: str) -> int:
    """A number for a text id outside the catalog: in -2**63..-1, the same for the same text everywhere."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return -1 - (int.from_bytes(digest, "big") >> 1)


class MovieNames:
    """The catalog's text ids and their numbers (`names[i]` is `numbers[i]`'s text id)."""

    def __init__(self, names: Sequence[str], numbers: Sequence[int]) -> None:
        self.names = list(names)
        self.number_of = dict(zip(self.names, numbers))

    def numbers(self, texts: Iterable[str]) -> list[int]:
        """The numbers of `texts`, in order: a catalog movie's own, or `unknown_number` for the others."""
        numbers = list(map(self.number_of.get, texts))  # C-level: the usual request names only catalog movies
        if None in numbers:
            numbers = [unknown_number(t) if n is None else n for n, t in zip(numbers, texts)]
        return numbers
