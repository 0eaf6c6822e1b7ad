"""`python -m trainer request`: a client of the running server, for a user to see what it answers."""

from __future__ import annotations

import argparse
import json
import urllib.parse
from pathlib import Path

from .cli_serving import SESSIONS_URL, STATELESS_URL, check_sources, history_from_args, is_int_id, typed_ids
from .movie_ids import text_movie_ids
from .errors import SessrecError
from .server import http
from .properties import read_properties
from .server_tokens import KEY_FILE, bearer, refused_token, token_advice
from .session_client import Post


def request(args: argparse.Namespace) -> None:
    """`request`: one stateless request, or (--session) a streamed session checked against one."""
    check_sources(args)
    if not args.session:
        _refuse_given((("--stream", args.stream), ("--check-url", args.check_url)), "with --session")
    # A catalog of text movie ids takes strings, as typed: --text-ids, a --data prepared with
    # --text-movie-ids, or a typed id that is no int says so; else ints, as the usual body holds them.
    typed = [v for values in (args.movies, args.exclude, args.candidates) for v in values or ()]
    typed_ids(args, text=bool(args.text_ids) or (args.data is not None and text_movie_ids(args.data))
              or not all(map(is_int_id, typed)))
    for flag, url in (("--url", args.url), ("--check-url", args.check_url)):
        if url is not None:
            _check_url(flag, url)
    if args.timeout is not None and not 0 < args.timeout < float("inf"):
        raise SessrecError(f"--timeout must be a number of seconds > 0, got {args.timeout:g}")
    key_file = _key_file(args.key_file)
    stateless_url, sessions_url = default_urls(args.config)
    movies = history_from_args(args)
    lists = {name: value for name, value in (("exclude", args.exclude), ("candidates", args.candidates))
             if value is not None}
    if args.session:
        return _request_session(args, movies, lists, key_file, sessions_url, stateless_url)
    url, timeout = args.url or stateless_url, args.timeout or 30.0
    payload = {"movies": movies, "k": args.k, **lists}
    print(f"POST {url}\n{json.dumps(payload)}")
    try:
        status, body = http("POST", url, json.dumps(payload).encode(), timeout=timeout,
                            headers=bearer(key_file, "inference"))
    except TimeoutError:  # connected, sent, then nothing: a server that is up
        raise SessrecError(f"{url} took the request but did not answer within {timeout:g} s (busy, or a worker died "
                           "with it and is being restarted); send it again") from None
    except OSError as exc:
        raise SessrecError(f"cannot reach {url} ({exc}); is the server running (make serve)?") from None
    print(f"HTTP {status}\n{json.dumps(body)}")
    if refused_token(status, body):
        raise SessrecError(token_advice(key_file))
    if status != 200:
        raise SessrecError(f"server answered HTTP {status}")


def _refuse_given(flags: tuple[tuple[str, object], ...], where: str) -> None:
    """A SessrecError naming the given flags (value not None) as belonging `where`."""
    given = [flag for flag, value in flags if value is not None]
    if given:
        raise SessrecError(f"{' and '.join(given)} {'go' if len(given) > 1 else 'goes'} {where}")


def default_urls(config: Path | None) -> tuple[str, str]:
    """The stateless and sessions URLs on the inference address of `config` (default
    ./config.properties, whose address `make serve` starts TorchServe on): a user who moved the
    server to another port kept sending to 8080. Without a config file: 127.0.0.1:8080."""
    if config is not None and not config.is_file():
        raise SessrecError(f"--config {config}: no such file")
    config = config if config is not None else Path("config.properties")
    if not config.is_file():
        return STATELESS_URL, SESSIONS_URL
    base = read_properties(config).get("inference_address", "").strip().rstrip("/")
    if not base:
        return STATELESS_URL, SESSIONS_URL
    # a server listening on every address is reached from here on loopback
    base = base.replace("//0.0.0.0", "//127.0.0.1", 1).replace("//[::]", "//[::1]", 1)
    return f"{base}/predictions/sessrec", f"{base}/predictions/sessrec_sessions"


def _key_file(given: Path | None) -> Path | None:
    """--key-file, which must exist, else ./key_file.json if TorchServe wrote one here, else none."""
    if given is not None:
        if not given.is_file():
            raise SessrecError(f"--key-file {given}: no such file (TorchServe writes key_file.json in the directory "
                               "it starts from, when token authorization is on)")
        return given
    here = Path(KEY_FILE)
    return here if here.is_file() else None


def _with_key(post: Post, key_file: Path | None) -> Post:
    """`post` sending the inference key, and naming a refused one instead of a bare 400."""
    auth = bearer(key_file, "inference")

    def authed(payload: dict, headers: dict, timeout: float) -> tuple[int, object]:
        status, body = post(payload, {**headers, **auth}, timeout)
        if refused_token(status, body):
            raise SessrecError(token_advice(key_file))
        return status, body
    return authed


def _request_session(args: argparse.Namespace, movies: list[int], lists: dict[str, list[int]], key_file: Path | None,
                     sessions_url: str, stateless_url: str) -> None:
    """Stream `movies` as a session (the client the session tests and benchmark use), print every
    answer, and fail unless the last one equals the stateless answer for the whole history. `lists`
    (exclude, candidates) go with every request, the stateless one too."""
    from .session_client import poster, stream_session

    stream = 5 if args.stream is None else args.stream
    if stream < 0:
        raise SessrecError(f"--stream must be >= 0, got {stream}")
    url, check_url = args.url or sessions_url, args.check_url or stateless_url
    # each event is resent on a timeout; the opening and the check are sent once, so they get longer
    timeout, once_timeout = args.timeout or 10.0, args.timeout or 30.0
    n = min(stream, len(movies))
    opening, events = movies[: len(movies) - n], movies[len(movies) - n:]
    print(f"POST {url}: open a session with {len(opening)} movies, then send {n} one request each")

    def show(request: dict, answer: dict) -> None:
        what = f"+ movie {request['movies'][0]}" if "after" in request else f"opened with {len(opening)} movies"
        print(f"step {answer['step']} ({what}): {answer['movies']}")
        if answer["step"] == 1:
            print(f"  session {answer['session']} (header ts_request_sequence_id)")

    check_post, stateless = _with_key(poster(check_url), key_file), {}

    def check(payload: dict, headers: dict, timeout: float) -> tuple[int, object]:
        print(f"POST {check_url}: the whole history ({len(payload['movies'])} movies) in one request")
        stateless["status"], stateless["body"] = check_post(payload, headers, timeout)
        return stateless["status"], stateless["body"]

    try:
        counts, last = stream_session(_with_key(poster(url), key_file), opening, events, lambda: 0.0,
                                      timeout=timeout, tries=3, k=args.k,
                                      check=check, on_answer=show, open_timeout=once_timeout, fields=lists)
    except TimeoutError:  # the opening or the check, which are sent once: the server is up
        raise SessrecError(f"the server took a request but did not answer within {once_timeout:g} s (busy, "
                           "or a worker died with it and is being restarted); send it again") from None
    except OSError as exc:
        raise SessrecError(f"cannot reach the server ({exc}); is it running (make serve)?") from None
    except RuntimeError as exc:  # a non-200 answer: its status and message say what was wrong
        raise SessrecError(str(exc)) from None
    if counts["lost"]:
        raise SessrecError(f"session {last['session']}: a request went unanswered in 3 tries of {timeout:g} s")
    if stateless["status"] != 200:
        raise SessrecError(f"{check_url} answered HTTP {stateless['status']}: {stateless['body']}")
    print(f"stateless: {stateless['body']['movies']}")
    if counts["wrong"]:
        raise SessrecError("the session's last answer differs from the stateless answer for the whole history")
    print("the session's last answer equals the stateless answer "
          f"({counts['timeouts'] + counts['store_busy']} requests resent)")


def _check_url(flag: str, url: str) -> None:
    """urllib would take 'localhost:8080/x' as a scheme and 'ftp://...' as a download, and raise
    ValueError tracebacks for a bad port or bracket."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (parsed on access: out of range or not a number raises)
    except ValueError as exc:
        raise SessrecError(f"{flag} {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SessrecError(f"{flag} must be an http:// or https:// URL with a host, got {url!r}")
