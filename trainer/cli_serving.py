"""The serving half of the command line: `archive`, `serve`, `stop`, `request`, and `recommend` (offline)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .errors import DataError, SessrecError

SERVING_COMMANDS = ("archive", "serve", "stop", "request", "recommend")
STATELESS_URL = "http://127.0.0.1:8080/predictions/sessrec"
SESSIONS_URL = "http://127.0.0.1:8080/predictions/sessrec_sessions"
USER_HELP = ("user id in --data (default: the first test user): the log's own id, text too when prepare numbered "
             "the users (--text-user-ids)")


def _add_archive(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("archive", help="package a run into a TorchServe .mar")
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("model_store"))
    p.add_argument("--name", default=None, help="model name, the URL path /predictions/NAME "
                   "(default: sessrec, or sessrec_sessions with --sessions)")
    p.add_argument("--version", default="1.0")
    p.add_argument("--sessions", action="store_true",
                   help="build the stateful archive (handler/model-config-sessions.yaml)")
    p.add_argument("--model-config", type=Path, default=None, metavar="FILE",
                   help="serving knobs to pack instead of handler/model-config.yaml (or -sessions.yaml with "
                        "--sessions), checked first; a stateful one (sequenceBatching: true) goes with --sessions")


def _add_server(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="start TorchServe detached with config.properties and wait for the model")
    p.add_argument("--config", type=Path, default=Path("config.properties"))
    p.add_argument("--models", nargs="+", default=["sessrec.mar"], help="archive(s) in the config's model_store")
    p = sub.add_parser("stop", help="stop the TorchServe started from this directory (make serve's)")
    p.add_argument("--any-dir", action="store_true",
                   help="stop this user's TorchServe wherever it was started (torchserve --stop)")
    p = sub.add_parser("request", help="send one recommendation request (or stream a session) and print the answers")
    p.add_argument("--url", default=None, help="the model's predictions URL (default: "
                   f"{STATELESS_URL}, or {SESSIONS_URL} with --session, on --config's inference_address)")
    p.add_argument("--movies", nargs="*", help="watch history, oldest first")
    p.add_argument("--data", type=Path, help="take the history (train+validate) of --user from this data dir")
    p.add_argument("--user", help=USER_HELP)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--exclude", nargs="*", default=None, metavar="ID", help="the request's \"exclude\"")
    p.add_argument("--candidates", nargs="*", default=None, metavar="ID",
                   help="the request's \"candidates\": rank only these movie ids")
    p.add_argument("--candidates-file", type=Path, default=None, metavar="FILE",
                   help="--candidates from a file (ids separated by spaces, commas or new lines; # comments)")
    p.add_argument("--text-ids", action="store_true", help="send the movie ids as JSON strings, for an archive "
                   "of text movie ids (prepare --text-movie-ids) whose ids look like numbers; ids that are no "
                   "int, and --data prepared so, are sent as strings without it")
    p.add_argument("--session", action="store_true", help="stream the history into the sessions archive: open "
                   "a session with all but its last --stream movies, send those one request each, then check "
                   "the last answer against one stateless request (--check-url) with the whole history")
    p.add_argument("--stream", type=int, default=None, metavar="N",
                   help="with --session: movies sent one at a time (default 5)")
    p.add_argument("--check-url", default=None,
                   help=f"with --session: the stateless model to check against (default {STATELESS_URL})")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="how long to wait for an answer (default 30; with --session 10 per try, 3 tries)")
    p.add_argument("--config", type=Path, default=None, metavar="PATH",
                   help="the config.properties TorchServe runs with: the default URLs use its inference_address "
                   "(default: ./config.properties when there is one, else 127.0.0.1:8080)")
    p.add_argument("--key-file", type=Path, default=None, metavar="PATH",
                   help="TorchServe's key_file.json, for a server with token authorization on (default: "
                   "./key_file.json when there is one, which TorchServe writes in the directory it starts from)")


def typed_ids(args: argparse.Namespace, text: bool) -> None:
    """`--movies`, `--exclude`, `--candidates` and `--candidates-file` as the model takes them: text ids
    as typed where `text` (a catalog whose log named movies by text: `prepare --text-movie-ids`), else
    ints, a token that is not one named with its flag (recommend and request take either list, not both)."""
    if args.candidates_file is not None:
        if args.candidates is not None:
            raise SessrecError("give --candidates or --candidates-file, not both")
        from .candidate_ids import read_id_file
        args.candidates = read_id_file(args.candidates_file, text)
    for flag in ("movies", "exclude", "candidates"):
        values = getattr(args, flag)
        if text or not values or (flag == "candidates" and args.candidates_file is not None):
            continue
        bad = next((v for v in values if not is_int_id(v)), None)
        if bad is not None:
            raise SessrecError(f"--{flag}: {bad[:40]!r} is not a movie id of this catalog (64-bit integers; a "
                               "catalog of text ids comes from prepare --text-movie-ids)")
        setattr(args, flag, [int(v) for v in values])


def is_int_id(token: str) -> bool:
    """Whether `token` reads as an int movie id, as the handler reads a numeric string."""
    from handler.request_parser import RequestError, parse_id

    try:
        parse_id(token, token)
    except RequestError:
        return False
    return True


def check_sources(args: argparse.Namespace) -> None:
    """One source of histories, and --user only with the --data it picks from (else it was ignored)."""
    sources = [flag for flag, given in (("--movies", args.movies is not None), ("--data", args.data is not None),
                                        ("--input", getattr(args, "input", None) is not None)) if given]
    if len(sources) > 1:
        also = " or --input" if hasattr(args, "input") else ""
        raise SessrecError(f"give one of --movies, --data (with --user{' or --all' if also else ''}){also}, "
                           f"not {' and '.join(sources)}")
    if args.user is not None and args.data is None:
        raise SessrecError("--user goes with --data (it picks that user's history from the data dir)")


def history_from_args(args: argparse.Namespace) -> list[int]:
    """`--movies`, or the train+validate history of `--user` (default: the first test user) in `--data`."""
    from .movie_ids import read_movies
    from .splits import history_for, load_data_dir
    from .user_ids import user_number

    if args.data is None:
        return args.movies or []
    splits = load_data_dir(args.data)
    names = read_movies(args.data)  # a log of text movie ids: the history as the log wrote it
    if args.user is None and not splits["test"].users:
        raise DataError(f"{args.data}/test.pkl has no users, so there is no first test user to take; "
                        "name one with --user")
    user = user_number(args.data, args.user) if args.user is not None else splits["test"].users[0]
    histories = history_for(splits, "test")
    if user not in histories:
        raise DataError(f"{args.data}: user {args.user if args.user is not None else user} has no training or "
                        "validation events")
    return histories[user] if names is None else [names[m] for m in histories[user]]


def _add_recommend(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recommend", help="a run's answers without a server (what the handler answers): one "
                       "history, or a JSON Lines file of them (--input), or every user of --data (--all)")
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--movies", nargs="*", help="watch history, oldest first")
    p.add_argument("--data", type=Path, help="take the history (train+validate) of --user from this data dir")
    p.add_argument("--user", help=USER_HELP)
    p.add_argument("--all", action="store_true", help="with --data: one answer line per user, by user id")
    p.add_argument("--input", type=Path, help='JSON Lines, one {"movies": [...]} per line (optional "user", "k", '
                   '"exclude", "candidates"): one answer line each, in input order; - reads standard input')
    p.add_argument("--out", type=Path, help="with --input or --all: write the answer lines to this file "
                   "(whole or not at all) instead of stdout (- : stdout)")
    p.add_argument("--k", type=int, default=20, help="list length (default: the handler's default_k; "
                   "a line's own \"k\" wins)")
    p.add_argument("--exclude", nargs="*", default=[], help="movie ids never to recommend")
    p.add_argument("--candidates", nargs="*", default=None, metavar="ID",
                   help="rank only these movie ids (an allow-list; ids the model does not know are left out); with "
                        "--input or --all, for every history (a line's own \"candidates\" wins)")
    p.add_argument("--candidates-file", type=Path, default=None, metavar="FILE",
                   help="--candidates from a file (ids separated by spaces, commas or new lines; # comments), "
                        "as evaluate --candidates reads it")


def _recommend(args: argparse.Namespace) -> None:
    """Print the answer as the HTTP answer's JSON object, or write one per line for --input / --all."""
    from .batch_recommend import answer_json, answer_lines, queries_from_data, read_queries, write_lines
    from .recommender import Recommender

    check_sources(args)
    if args.out is not None and str(args.out) == "-":  # stdout, as for --input -: where lines go without --out
        args.out = None
    batch = args.input is not None or args.all
    if args.all and (args.data is None or args.user is not None):
        raise SessrecError("--all goes with --data and without --user")
    if args.out is not None and not batch:
        raise SessrecError("--out goes with --input or --all (a single answer prints to stdout)")
    if batch and args.exclude:
        raise SessrecError('--exclude is for one history; in --input give each line its own "exclude"')
    if args.k < 1:
        raise SessrecError(f"--k must be a positive int, got {args.k}")
    if args.out is not None:
        from .output_file import check_output_file
        check_output_file(args.out, "--out", run=args.run, data=args.data,
                          inputs=[f for f in (args.input, args.candidates_file) if f is not None])
    recommender = Recommender.from_run(args.run)
    typed_ids(args, recommender.names is not None)  # the ids as this run's catalog names them
    if args.data is not None:
        from .data_identity import warn_if_other_data
        warn_if_other_data(args.run, args.data)
    if not batch:
        print(answer_json(recommender.recommend(history_from_args(args), args.k, args.exclude, args.candidates)))
        return
    queries = (read_queries(args.input, args.k, recommender.names is not None) if args.input is not None
               else queries_from_data(args.data, args.k))
    count = write_lines(answer_lines(recommender, queries, candidates=args.candidates), args.out)
    if args.out is not None:
        print(f"{count} answers -> {args.out}")


def add_serving(sub: argparse._SubParsersAction) -> None:
    _add_archive(sub)
    _add_server(sub)
    _add_recommend(sub)


def run_serving(args: argparse.Namespace) -> None:
    """Run one of SERVING_COMMANDS; errors are SessrecErrors, reported by the caller."""
    if args.command == "archive":
        from .archive import HANDLER_DIR, SESSIONS_CONFIG, build_archive, read_model_config
        name = args.name or ("sessrec_sessions" if args.sessions else "sessrec")
        config = args.model_config or (SESSIONS_CONFIG if args.sessions else HANDLER_DIR / "model-config.yaml")
        if bool(read_model_config(config).get("sequenceBatching")) != args.sessions:
            raise SessrecError(f"--model-config {config}: " + (
                "sets no sequenceBatching: true, which --sessions archives need" if args.sessions else
                "sets sequenceBatching: true (a sessions archive): add --sessions, which names it sessrec_sessions"))
        print(build_archive(args.run, args.out, name, args.version, model_config=config))
    elif args.command == "serve":
        import time

        from .server import serve
        from .server_tokens import KEY_FILE
        started = time.time()
        url = serve(args.config, args.models, Path.cwd())
        names = [m.split("=")[0].removesuffix(".mar") for m in args.models]
        print(f"TorchServe ready: {', '.join(f'{url}/predictions/{n}' for n in names)} "
              "(logs in logs/, stop with `make stop`)")
        if (key_file := Path.cwd() / KEY_FILE).is_file() and key_file.stat().st_mtime >= started - 1:
            print(f"token authorization is on: every call needs 'Authorization: Bearer <key>' with a key from "
                  f"{key_file} (`request` reads it from there)")
    elif args.command == "stop":
        from .server import stop_started_here
        print(stop_started_here(Path.cwd(), args.any_dir))
    elif args.command == "request":
        from .request_cli import request
        request(args)
    elif args.command == "recommend":
        _recommend(args)
