"""The serving half of the command line: `archive`, `serve`, `stop`, `request`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .errors import SessrecError

SERVING_COMMANDS = ("archive", "serve", "stop", "request")


def _add_archive(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("archive", help="package a run into a TorchServe .mar")
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("model_store"))
    p.add_argument("--name", default=None, help="model name, the URL path /predictions/NAME "
                   "(default: sessrec, or sessrec_sessions with --sessions)")
    p.add_argument("--version", default="1.0")
    p.add_argument("--sessions", action="store_true",
                   help="build the stateful archive (handler/model-config-sessions.yaml)")


def _add_server(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="start TorchServe detached with config.properties and wait for the model")
    p.add_argument("--config", type=Path, default=Path("config.properties"))
    p.add_argument("--models", nargs="+", default=["sessrec.mar"], help="archive(s) in the config's model_store")
    sub.add_parser("stop", help="stop TorchServe")
    p = sub.add_parser("request", help="send one recommendation request and print request and response")
    p.add_argument("--url", default="http://127.0.0.1:8080/predictions/sessrec")
    p.add_argument("--movies", type=int, nargs="*", help="watch history, oldest first")
    p.add_argument("--data", type=Path, help="take the history (train+validate) of --user from this data dir")
    p.add_argument("--user", type=int, help="user id in --data (default: the first test user)")
    p.add_argument("--k", type=int, default=10)


def _request(args: argparse.Namespace) -> None:
    from .server import http
    from .splits import history_for, load_data_dir

    if args.data is not None:
        splits = load_data_dir(args.data)
        user = args.user if args.user is not None else splits["test"].users[0]
        movies = history_for(splits, "test").get(user, [])
    else:
        movies = args.movies or []
    payload = {"movies": movies, "k": args.k}
    print(f"POST {args.url}\n{json.dumps(payload)}")
    try:
        status, body = http("POST", args.url, json.dumps(payload).encode())
    except OSError as exc:
        raise SessrecError(f"cannot reach {args.url} ({exc}); is the server running (make serve)?") from None
    print(f"HTTP {status}\n{json.dumps(body)}")
    if status != 200:
        raise SessrecError(f"server answered HTTP {status}")


def add_serving(sub: argparse._SubParsersAction) -> None:
    _add_archive(sub)
    _add_server(sub)


def run_serving(args: argparse.Namespace) -> None:
    """Run one of SERVING_COMMANDS; errors are SessrecErrors, reported by the caller."""
    if args.command == "archive":
        from .archive import HANDLER_DIR, SESSIONS_CONFIG, build_archive
        name = args.name or ("sessrec_sessions" if args.sessions else "sessrec")
        config = SESSIONS_CONFIG if args.sessions else HANDLER_DIR / "model-config.yaml"
        print(build_archive(args.run, args.out, name, args.version, model_config=config))
    elif args.command == "serve":
        from .server import serve
        url = serve(args.config, args.models, Path.cwd())
        names = [m.split("=")[0].removesuffix(".mar") for m in args.models]
        print(f"TorchServe ready: {', '.join(f'{url}/predictions/{n}' for n in names)} "
              "(logs in logs/, stop with `make stop`)")
    elif args.command == "stop":
        from .server import stop
        stop(Path.cwd())
    elif args.command == "request":
        _request(args)
