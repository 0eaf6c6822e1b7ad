"""Command line: `python -m trainer COMMAND ...`, COMMAND one of prepare, train, evaluate, compare, export,
ensemble, recipe, baseline, archive, serve, stop, request, recommend."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from dataclasses import fields
from pathlib import Path

from .cli_parser import build_parser
from .cli_serving import SERVING_COMMANDS, run_serving  # archive, serve, stop, request, recommend
from .config import ModelConfig, TrainConfig
from .config_file import read_config_file
from .errors import ConfigError, SessrecError
from .interrupted import sigterm_as_interrupt
from .presets import PRESETS

# Flags whose value may change when a run is resumed; any other differing flag is an error. Device and
# precision say where and how the run computes (a CUDA run may go on on a CPU), not what it learns.
RESUMABLE_FLAGS = {"epochs", "patience", "device", "amp"}


def _train_config(args: argparse.Namespace) -> TrainConfig:
    given = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if v is not None}
    model_names = {f.name for f in fields(ModelConfig)}
    for option in ("preset", "config"):
        if args.resume and getattr(args, option):
            raise ConfigError(f"--{option} cannot be combined with --resume; the run's config.json is used")
    if args.resume:
        cfg = TrainConfig.load(args.out / "config.json")
        if given["data"] != cfg.data and _same_data_elsewhere(args.out, args.data):
            given["data"] = cfg.data = str(args.data)  # the same files by another path: the run goes on
        changed = sorted(k for k, v in given.items()
                         if k not in RESUMABLE_FLAGS and k in {f.name for f in fields(TrainConfig)} | model_names
                         and v != (getattr(cfg.model, k) if k in model_names else getattr(cfg, k)))
        if changed:
            raise ConfigError(f"cannot change {', '.join('--' + c.replace('_', '-') for c in changed)} "
                              f"when resuming {args.out}; its config.json is used")
        for k in RESUMABLE_FLAGS & given.keys():
            setattr(cfg, k, given[k])
        return cfg
    # Layers, lowest first: the defaults, the preset, the config file, then the flags given (below).
    preset = PRESETS.get(args.preset or "", {})
    from_file = read_config_file(args.config) if args.config else {"model": {}}
    cfg = TrainConfig.from_dict({**TrainConfig().to_dict(), **preset, **from_file, "data": str(args.data),
                                 "model": {**ModelConfig().__dict__, **preset.get("model", {}), **from_file["model"]}})
    for k, v in given.items():
        if k in model_names:
            setattr(cfg.model, k, v)
        elif k in {f.name for f in fields(TrainConfig)} and k != "data":
            setattr(cfg, k, v)
    if not cfg.distill and {"distill_weight", "distill_k"} & given.keys():
        raise ConfigError("--distill-weight and --distill-k need --distill RUN [RUN ...] (the teachers)")
    if not cfg.init_from and "init_keep" in given:
        raise ConfigError("--init-keep shapes the start from --init-from RUN; without it there is nothing to keep")
    if not cfg.negatives and "negative_alpha" in given:
        raise ConfigError("--negative-alpha shapes the draws of --negatives N; with the full softmax it would be ignored")
    if cfg.lr_schedule != "plateau" and {"lr_decay", "lr_patience"} & given.keys():  # else read by nothing
        raise ConfigError(f"--lr-decay and --lr-patience shape --lr-schedule plateau; with {cfg.lr_schedule!r} "
                          "they would be ignored")
    return cfg


def _same_data_elsewhere(run_dir: Path, data_dir: Path) -> bool:
    """Whether `data_dir` holds the very files `run_dir` recorded learning from (data.json): a data
    directory moved, or named by another path, is still the run's data."""
    from .data_identity import learned_from

    try:
        return learned_from(run_dir, data_dir) is True
    except OSError:  # no split files there: the "cannot change --data" error says what to do
        return False


def _dispatch(args: argparse.Namespace) -> None:
    """Run the command `args` names."""
    if args.command == "prepare":
        from .cli_prepare import prepare
        prepare(args)
    elif args.command == "train":
        from .train import train
        train(_train_config(args), args.out, resume=args.resume, progress=args.progress)
    elif args.command == "evaluate":
        from .candidate_ids import read_id_file
        from .evaluate import evaluate_run
        from .movie_ids import text_movie_ids
        given = [args.candidates] if args.candidates is not None else []
        print(json.dumps(evaluate_run(args.data, args.run, args.split, args.k, args.test_history,
                                      per_user_file=args.per_user, protocol=args.protocol,
                                      candidates=read_id_file(given[0], text_movie_ids(args.data)) if given else None,
                                      read_files=given)))
    elif args.command == "compare":
        from .candidate_ids import read_id_file
        from .compare import compare_runs, comparison_table
        from .movie_ids import text_movie_ids
        result = compare_runs(args.data, args.runs, args.split, args.metrics, args.k, args.test_history,
                              args.resamples, args.level, args.seed, args.protocol, args.adjust,
                              None if args.candidates is None else read_id_file(args.candidates, text_movie_ids(args.data)))
        print(json.dumps(result) if args.json else comparison_table(result))
    elif args.command == "ensemble":
        from .ensemble import build_ensemble
        print(build_ensemble(args.runs, args.out))
    elif args.command == "recipe":
        from .recipes import run_recipe
        summary = run_recipe(args.name, args.data, args.out, args.student_seed, args.epochs, args.device, args.jobs,
                             args.amp)
        print(json.dumps(summary))
        print(f"next: python -m trainer evaluate --data {args.data} --run {summary['model']}", file=sys.stderr)
    elif args.command == "baseline":
        from .baseline_run import run_baseline
        run_baseline(args.name, args.data, args.out, args.min_count, args.max_len)
    elif args.command in SERVING_COMMANDS:
        run_serving(args)
    elif args.command == "export":
        from .export import export_run
        from .run_lock import run_lock
        with run_lock(args.run):
            print(export_run(args.run))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with sigterm_as_interrupt():  # kill/timeout/preemption end a command as Ctrl-C does
            _dispatch(args)
    except SessrecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as exc:
        # torch reports a failed allocation as RuntimeError ("DefaultCPUAllocator: can't allocate
        # memory", CUDA's OutOfMemoryError): say so in one line; any other RuntimeError is a bug to show
        if not isinstance(exc, MemoryError) and type(exc).__name__ != "OutOfMemoryError" \
                and "can't allocate memory" not in str(exc):
            raise
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = ("; a smaller --batch-size, --hidden-dim, --emb-dim, --layers or --max-len needs less"
                if args.command == "train" else "")
        print(f"error: out of memory ({detail}){hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (Terminated)
        from .interrupted import exit_status, stopped_message
        print(stopped_message(args, exc), file=sys.stderr)
        return exit_status(exc)  # the shell's status for a process ended by that signal
    except BrokenPipeError:
        # The reader of stdout has gone (`recommend --all | head`): it had all it wanted, which is no
        # error to report; end as a Unix tool ends on SIGPIPE, with stdout pointed where the
        # interpreter's last flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except OSError as exc:
        # A file where a directory should be, a permission, a full disk: the system names the path, and
        # every writer here is atomic, so the failed command has changed nothing.
        print(f"error: {exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else f"error: {exc}",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
