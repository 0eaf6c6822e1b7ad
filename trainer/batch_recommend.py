"""Recommendations for many histories in one command: JSON Lines in, one answer per line out.

`python -m trainer recommend --run RUN --input histories.jsonl --out recs.jsonl` reads one object
per line, `{"user": "anna", "movies": [601, 640, 254], "k": 10, "exclude": [50], "candidates": [...]}`
(only `movies` is required; `candidates`, the only movies to rank, defaults to `--candidates`; `user`,
any JSON value, is copied to the answer so lines can be joined back), and
writes `{"user": ..., "movies": [...], "scores": [...], "unknown": [...]}` per line, in input
order. `--data DIR --all` does the same for every user of a data directory, with the history
`evaluate` scores the test period from (train + validate).

Answers come from `Recommender.recommend_batch`, so each line is what the handler would serve.
The input is read and answered a chunk at a time (memory stays bounded for any file size), and
`--out` appears whole or not at all: a bad line stops the job with its line number, and no
partial file is left behind.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from handler.request_parser import RequestError, parse_id

from .atomic import open_text_atomic
from .errors import ConfigError, DataError
from .recommender import Recommendation, Recommender, movie_ids

FIELDS = ("user", "movies", "k", "exclude", "candidates")
CHUNK = 1024  # lines scored together: enough to keep the model's batches full, small in memory


@dataclass(frozen=True)
class Query:
    """One line of input: `user` is echoed (None when the line has none)."""

    user: Any
    movies: list[int]
    k: int
    exclude: list[int]
    candidates: list[int] | None = None  # None: the job's default (--candidates), else the whole catalog


def answer_json(answer: Recommendation, user: Any = None, with_user: bool = False) -> str:
    """The answer as the HTTP answer's JSON object (with `user` first when asked for)."""
    body = {"user": user} if with_user else {}
    body.update(asdict(answer))
    # 9 significant digits, as the server writes them: each still reads back as the float32 score
    body["scores"] = [float(f"{s:.9g}") for s in body["scores"]]
    return json.dumps(body)


def parse_query(line: str, where: str, default_k: int, text: bool = False) -> Query:
    """One input line; a DataError names `where` (FILE:LINE) and the problem (`text`: a catalog of text
    movie ids, whose lines hold strings)."""
    try:
        body = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise DataError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise DataError(f"{where}: expected a JSON object such as {{\"movies\": [1, 2, 3]}}, got {type(body).__name__}")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise DataError(f"{where}: unknown field(s) {unknown}; allowed: {list(FIELDS)}")
    if "movies" not in body:
        raise DataError(f"{where}: 'movies' is required (the watch history, oldest first; may be [])")
    k = default_k if body.get("k") is None else body["k"]  # null: left out, as the handler reads it
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise DataError(f"{where}: 'k' must be a positive int, got {json.dumps(k)[:40]}")
    return Query(body.get("user"), _line_ids(body["movies"], f"{where}: 'movies'", text), k,
                 _line_ids([] if body.get("exclude") is None else body["exclude"], f"{where}: 'exclude'", text),
                 None if body.get("candidates") is None else _line_ids(body["candidates"], f"{where}: 'candidates'", text))


def _line_ids(value: Any, what: str, text: bool = False) -> list[int] | list[str]:
    """A line's ids read as the handler reads a request body's: ints, or numeric strings (the form
    JavaScript clients send ids past 2**53 in), so a logged request body answers the same here; with
    `text`, strings as they are."""
    if text:
        return movie_ids(value, what, text=True)
    if isinstance(value, list) and not set(map(type, value)) <= {int}:  # plain ints: movie_ids checks them
        try:
            value = [parse_id(v, f"{what}[{i}]") for i, v in enumerate(value)]
        except RequestError as exc:
            raise DataError(str(exc)) from None
    return movie_ids(value, what)


def read_queries(path: Path, default_k: int, text: bool = False) -> Iterator[Query]:
    """The queries of a JSON Lines file (`-`: standard input), one per non-blank line, read lazily.

    UTF-8, with or without the byte-order mark Windows tools write, LF or CRLF line ends. Lines are
    decoded one by one, so a line that is not UTF-8 is named by its number."""
    path = Path(path)
    try:
        fh = sys.stdin.buffer if str(path) == "-" else path.open("rb")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    with contextlib.nullcontext(fh) if fh is sys.stdin.buffer else fh:
        for number, raw in enumerate(fh, 1):
            if number == 1:
                if raw[:2] == b"\x1f\x8b":  # gzip's magic number
                    raise DataError(f"{path}: gzip-compressed; decompress it first (gunzip -c {path} | ... --input -)")
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}:{number}: not UTF-8 text ({exc.reason} at byte {exc.start} of the line)") from None
            if line.strip():
                yield parse_query(line, f"{path}:{number}", default_k, text)


def queries_from_data(data_dir: Path, k: int) -> Iterator[Query]:
    """Every user of a data directory with a train+validate history, by user id (the log's text ids of
    users and movies when prepare numbered them: users.tsv, movies.tsv)."""
    from .movie_ids import read_movies
    from .splits import history_for, load_data_dir
    from .user_ids import read_users

    histories = history_for(load_data_dir(Path(data_dir)), "test")
    names, movies = read_users(Path(data_dir)) or {}, read_movies(Path(data_dir))
    for user in sorted(histories):
        history = histories[user] if movies is None else [movies[m] for m in histories[user]]
        yield Query(names.get(user, user), history, k, [])


def _chunks(queries: Iterable[Query], size: int) -> Iterator[list[Query]]:
    chunk: list[Query] = []
    for query in queries:
        chunk.append(query)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def answer_lines(recommender: Recommender, queries: Iterable[Query], chunk: int = CHUNK,
                 candidates: list[int] | None = None) -> Iterator[str]:
    """One JSON answer per query, in input order, scored `chunk` queries at a time; `candidates`: the
    allow-list of every query that brings none of its own."""
    for part in _chunks(queries, chunk):
        answers: list[Recommendation | None] = [None] * len(part)
        # one recommend_batch call per distinct k: each answer is then exactly the single request's
        for k in sorted({q.k for q in part}):
            rows = [i for i, q in enumerate(part) if q.k == k]
            got = recommender.recommend_batch([part[i].movies for i in rows], k, [part[i].exclude for i in rows],
                                              candidates=[candidates if part[i].candidates is None
                                                          else part[i].candidates for i in rows])
            for i, answer in zip(rows, got):
                answers[i] = answer
        for query, answer in zip(part, answers):
            yield answer_json(answer, query.user, with_user=True)


def write_lines(lines: Iterable[str], out: Path | None) -> int:
    """Write `lines` to `out` atomically (stdout when None); returns how many were written."""
    count = 0
    if out is None:
        for line in lines:
            print(line)
            count += 1
        return count
    out = Path(out)  # a directory, or a file the command reads, was refused before (output_file.py)
    out.parent.mkdir(parents=True, exist_ok=True)  # as evaluate --per-user does
    with open_text_atomic(out) as fh:
        for line in lines:
            fh.write(line + "\n")
            count += 1
    return count
