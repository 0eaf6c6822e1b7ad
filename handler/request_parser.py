"""Parsing and validating one recommendation request body.

Shipped in the archive beside the handler; depends on the standard library only. Every problem
becomes a `RequestError` with a type and a message naming the field and the bad value, which
the handler returns as HTTP 400 for that request alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# Every 64-bit id (prepare's bound) as text: clients send ids past 2**53 as strings because JavaScript
# numbers cannot hold them. Longer strings are refused before int() parses them.
_NUMERIC = re.compile(r"-?[0-9]{1,19}")
ID_MIN, ID_MAX = -(2**63), 2**63 - 1
FIELDS = ("movies", "k", "exclude", "candidates", "after")
_INT_ONLY = {int}
_STR_ONLY = {str}


class RequestError(Exception):
    """A client error in one request: `kind` is a short type name, the message says what to fix."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Limits:
    """Request limits, read from the `handler:` section of model-config.yaml."""

    max_ids: int = 1000
    max_candidates: int = 5000  # an allow-list may be a good part of the catalog (a region's titles)
    max_k: int = 1000
    default_k: int = 20
    max_body_bytes: int = 65536

    @classmethod
    def from_config(cls, section: dict[str, Any] | None, others: tuple[str, ...] = ()) -> "Limits":
        """The limits under model-config.yaml's `handler:`; `others` are the section's keys read elsewhere.

        Raises:
            ValueError: a limit that is not a positive int, or a key nobody reads (a misspelt knob
                would otherwise leave its default in force without a word).
        """
        section = dict(section or {})
        known = {k: section.pop(k) for k in list(section) if k in cls.__dataclass_fields__}
        unknown = sorted(str(k) for k in section if k not in others)
        if unknown:
            raise ValueError(f"model-config.yaml handler: unknown setting(s) {unknown}; known: "
                             f"{', '.join([*others, *cls.__dataclass_fields__])}")
        limits = cls(**known)
        for name, value in known.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"model-config.yaml handler.{name} must be a positive int, got {value!r}")
        if not 1 <= limits.default_k <= limits.max_k:
            raise ValueError(f"model-config.yaml handler.default_k={limits.default_k} must be in 1..max_k={limits.max_k}")
        return limits


@dataclass(frozen=True)
class Request:
    movies: list[int]
    k: int
    exclude: list[int]
    after: int | None = None  # sessions: the `step` of the last answer the client received
    candidates: list[int] | None = None  # the only movies to rank (an allow-list); None: the whole catalog


def _short(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def parse_id(value: Any, where: str) -> int:
    """An int id, or a numeric string of at most 19 digits such as "42"; anything else is a RequestError."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _NUMERIC.fullmatch(value.strip()):
        return int(value)
    raise RequestError("InvalidId", f"{where} must be an integer movie id or a numeric string (at most 19 digits), "
                                    f"got {_short(value)}")


def _id_list(body: dict[str, Any], field: str, limit: int, advice: str, text_ids: int = 0) -> list[int] | list[str]:
    """`body[field]` as 64-bit int ids, at most `limit` of them (`advice`: what to do about more); with
    `text_ids` (the longest allowed), as text ids: a catalog whose log named its movies by text."""
    value = body.get(field)
    if value is None and field != "movies":  # optional: null is the same as leaving it out
        value = []
    if not isinstance(value, list):
        raise RequestError("InvalidField", f"'{field}' must be a list of movie ids, got {_short(value)}")
    if len(value) > limit:
        raise RequestError("TooManyIds", f"'{field}' has {len(value)} ids; the limit is {limit} ({advice})")
    if not value:
        return value
    if text_ids:
        return check_text_ids(value, field, text_ids)
    if set(map(type, value)) != _INT_ONLY:
        value = [parse_id(v, f"{field}[{i}]") for i, v in enumerate(value)]
    # Plain JSON integers, the usual body, skip the per-id path: types and range are checked in C-level
    # passes (bool's type is not int). The per-id path costs 35 us for 150 ids; these 3 and 2.
    return check_id_range(value, field)


def check_text_ids(ids: list[Any], field: str, longest: int) -> list[str]:
    """`ids` when every one is a string of 1..`longest` characters: this catalog's movie ids are the
    log's text ids, and a number would be another movie's id only by accident (`"007"` is not 7)."""
    # The usual body (strings of a sane length) passes in C-level passes: 3 vs 15 us for 150 ids.
    if set(map(type, ids)) == _STR_ONLY and 0 < min(map(len, ids)) and max(map(len, ids)) <= longest:
        return ids
    for i, v in enumerate(ids):
        if not isinstance(v, str) or not 0 < len(v) <= longest:
            what = "empty" if v == "" else f"longer than {longest} characters" if isinstance(v, str) else _short(v)
            raise RequestError("InvalidId", f"{field}[{i}]: this model's movie ids are text, as its log wrote them: "
                               f'send each as a JSON string such as "tt0114709"; got {what}')
    return ids


def check_id_range(ids: list[int], field: str) -> list[int]:
    """`ids` when every one is a 64-bit integer, the range of every catalog id (prepare's bound); a
    session keeps a request's ids as 64-bit integers to recognise its resending."""
    if ids and (min(ids) < ID_MIN or max(ids) > ID_MAX):
        i = next(i for i, v in enumerate(ids) if not ID_MIN <= v <= ID_MAX)
        raise RequestError("InvalidId", f"{field}[{i}] is outside the 64-bit range of movie ids, got {_short(ids[i])}")
    return ids


def decode_body(raw: Any, limits: Limits) -> Any:
    """The JSON value of a request body, whether TorchServe already decoded it or passed bytes."""
    # None: TorchServe found no body part; empty or blank: a GET, or a POST without -d
    if raw is None or (isinstance(raw, (bytes, bytearray, str)) and not raw.strip()):
        raise RequestError("MissingBody", 'no JSON body; send Content-Type: application/json with an object such as {"movies": [1, 2, 3]}')
    if isinstance(raw, (bytes, bytearray, str)):
        size = len(raw.encode() if isinstance(raw, str) else raw)
        if size > limits.max_body_bytes:
            raise RequestError("BodyTooLarge", f"body is {size} bytes; the limit is {limits.max_body_bytes}")
        try:
            # bytes with a byte-order mark parse as they are; text (a text/plain body TorchServe decoded) keeps it
            return json.loads(raw.removeprefix("\ufeff") if isinstance(raw, str) else raw)
        except RecursionError:
            raise RequestError("MalformedJSON", "body is nested too deeply") from None
        except (ValueError, UnicodeDecodeError) as exc:
            if isinstance(raw, (bytes, bytearray)) and raw[:2] == b"\x1f\x8b":  # gzip's magic number
                raise RequestError("MalformedJSON", "body is gzip-compressed (Content-Encoding: gzip?); "
                                   "TorchServe does not decompress request bodies: send the JSON uncompressed") from None
            raise RequestError("MalformedJSON", f"body is not valid JSON: {exc}") from None
    return raw


def parse_request(raw: Any, limits: Limits, text_ids: int = 0) -> Request:
    """Validate one request body.

    Args:
        raw: the body as TorchServe hands it over (decoded JSON, str, or bytes).
        limits: the handler's limits.
        text_ids: 0 for a catalog of int ids; else its ids are text, at most this many characters
            each, and the request's id lists hold strings.

    Returns:
        The validated request.

    Raises:
        RequestError: naming the problem.
    """
    body = decode_body(raw, limits)
    if not isinstance(body, dict):
        raise RequestError("InvalidBody", f"body must be a JSON object, got {type(body).__name__}")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise RequestError("UnknownField", f"unknown field(s) {unknown}; allowed: {list(FIELDS)}")
    if "movies" not in body:
        raise RequestError("MissingField", "'movies' is required: the watch history, oldest first (may be [])")
    # Optional fields may be null, as many clients' serializers write an unset field (Jackson, Gson):
    # the same as leaving them out. Only 'movies' is required, and null is not a history.
    k = body.get("k")
    if k is None:
        k = limits.default_k
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= limits.max_k:
        raise RequestError("InvalidField", f"'k' must be an integer in 1..{limits.max_k}, got {_short(k)}")
    after = body.get("after")
    if after is not None and (isinstance(after, bool) or not isinstance(after, int) or after < 0):
        raise RequestError("InvalidField", f"'after' must be the non-negative integer 'step' of the session's last "
                           f"answer, got {_short(after)}")
    # candidates: null or absent is the whole catalog; [] is a list that allows nothing (an empty answer)
    candidates = None if body.get("candidates") is None else _id_list(
        body, "candidates", limits.max_candidates, "handler.max_candidates in model-config.yaml", text_ids)
    recent = "send the most recent ones"
    return Request(movies=_id_list(body, "movies", limits.max_ids, recent, text_ids), k=k,
                   exclude=_id_list(body, "exclude", limits.max_ids, recent, text_ids), after=after,
                   candidates=candidates)
