"""The training loop: one function, phases labelled, state resumable after a hard kill."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .atomic import write_text_atomic
from .batching import IGNORE_INDEX, epoch_batches, training_sequences
from .checkpoint import CKPT_FILE, append_history, load_checkpoint, rewrite_history, save_torch
from .config import TrainConfig
from .data_identity import DATA_FILE, LEARNED_FROM, data_record, holds, record_data, recorded
from .devices import check_amp, resolve_device
from .distill import check_teachers, soft_targets
from .errors import RunDirError, TrainingDiverged
from .evaluation import check_ranking_width, evaluate_scorer, protocol_cases
from .export import export_run
from .interrupted import raise_if_interrupted
from .losses import training_loss
from .model import SessionGRU
from .movie_ids import read_movies
from .optim import EpochAverage, WeightAverage, make_scheduler
from .plots import plot_curves
from .pop_prior import popularity_prior
from .run_kind import BEST_FILE, CONFIG_FILE
from .run_lock import claim_run_dir
from .splits import history_for, load_data_dir
from .thread_share import follow_share
from .vocab import VOCAB_FILE, Vocab
from .warm_start import check_catalogs, check_periods, check_source, warm_start

SHARE_EVERY = 50  # batches between looks at the run's share of the cores (a file read: ~20 us)


def train(cfg: TrainConfig, out_dir: Path, resume: bool = False, progress: bool | None = None) -> dict[str, Any]:
    """Train, early-stop on `cfg.select_metric` over validation, export the best epoch to `out_dir/model.pt`.

    Args:
        cfg: hyperparameters (on resume, the run's saved config is passed in by the caller).
        out_dir: the run directory.
        resume: continue from `out_dir/ckpt.pt` (or restart a run killed before its first epoch).
        progress: show a tqdm bar; None shows it only on a terminal.

    Returns:
        Summary with the best epoch and its validation metrics.
    """
    # ---- setup: validate, then claim the run directory ----
    cfg.validate()
    if cfg.distill:
        check_teachers(cfg.distill, Path(cfg.data))
    if _starts_from(cfg, Path(out_dir), resume):
        check_source(Path(cfg.init_from), Path(out_dir), cfg.model)
    device = resolve_device(cfg.device)
    if cfg.amp:  # before the run directory is touched
        check_amp(device, "train (or resume) with --no-amp")
    out_dir = Path(out_dir)
    with claim_run_dir(out_dir, resume):
        return _train_locked(cfg, out_dir, device, resume, progress)


def _starts_from(cfg: TrainConfig, out_dir: Path, resume: bool) -> bool:
    """Whether this start takes `cfg.init_from`'s weights: a resumed run with a checkpoint has later ones of its
    own (and goes on even if that run has since been deleted)."""
    return bool(cfg.init_from) and not (resume and (out_dir / CKPT_FILE).exists())


def _diverged(cfg: TrainConfig, out_dir: Path, epoch: int, what: str) -> TrainingDiverged:
    # Without a finished epoch, claim_run_dir removes what the run wrote: --out can be used again.
    where, kept = (("a new --out", f"; {out_dir} keeps its files from epochs 1-{epoch - 1}") if epoch > 1 else
                   ("the same --out", " (no epoch finished, so nothing of this run was kept)"))
    return TrainingDiverged(f"training diverged in epoch {epoch}: {what}. Train again into {where} with a "
                            f"lower --lr (this run: {cfg.lr:g}) or with --clip-norm (this run: {cfg.clip_norm:g}, "
                            f"0 = off){kept}")


def _validate(model: nn.Module, cases: Any, cfg: TrainConfig, vocab: Vocab, device: torch.device) -> dict[str, Any]:
    return evaluate_scorer(lambda m, l: model.predict_next(m.to(device), l.to(device)), cases, cfg.eval_k,
                           counts=vocab.counts)


def _train_locked(cfg: TrainConfig, out_dir: Path, device: torch.device, resume: bool,
                  progress: bool | None) -> dict[str, Any]:
    """`train` past its checks, with the run directory claimed for this process."""
    # ---- data and vocabulary (a resumed run keeps its own) ----
    splits = load_data_dir(Path(cfg.data))
    if _starts_from(cfg, out_dir, resume):  # before anything is written
        check_catalogs(Path(cfg.init_from), Path(cfg.data))
        check_periods(Path(cfg.init_from), splits, Path(cfg.data))
    started_on = recorded(out_dir) if resume else None
    if started_on is not None and not holds(started_on, cfg.data, splits):
        raise RunDirError(f"{cfg.data}: its {' and '.join(LEARNED_FROM)} differ from those {out_dir} started on "
                          f"({DATA_FILE}); resume it on that data, or train a new run on this one")
    if resume and (out_dir / VOCAB_FILE).exists():
        vocab = Vocab.load(out_dir / VOCAB_FILE)
    else:
        vocab = Vocab.build(splits["train"].movies, cfg.min_count, read_movies(Path(cfg.data)))
        check_ranking_width(cfg.eval_k, vocab.size - 1, "eval_k")  # (from a --config file) before anything is written
        vocab.save(out_dir / VOCAB_FILE)
        record_data(out_dir, cfg.data, data_record(cfg.data, splits))
    cfg.model.vocab_size = vocab.size
    write_text_atomic(out_dir / CONFIG_FILE, json.dumps(cfg.to_dict(), indent=2) + "\n")
    seqs = training_sequences(splits["train"].movies, vocab, cfg.max_len, cfg.windows, cfg.user_weight)
    val_cases = protocol_cases(cfg.select_protocol, history_for(splits, "validate"), splits["validate"], vocab,
                               cfg.max_len)
    if not val_cases.users:
        raise RunDirError(f"{cfg.data}/validate.pkl: no user has a validation target; early stopping needs some")
    metric_key = cfg.select_metric
    soft = soft_targets(cfg.distill, seqs, vocab, cfg.distill_k, device) if cfg.distill else None

    # ---- model, optimizer, random state (restored on resume) ----
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = SessionGRU(cfg.model).to(device)
    model.set_prior(popularity_prior(cfg.pop_prior, vocab.counts))  # before a weight average copies the model
    if _starts_from(cfg, out_dir, resume):
        print(warm_start(model, vocab, Path(cfg.init_from), cfg.init_keep))
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = make_scheduler(cfg, optimizer)
    loss_fn = training_loss(cfg, soft, device, model.output, vocab.counts)
    average = WeightAverage(model, cfg.ema) if cfg.ema > 0 else None
    judged = average.model if average is not None else model  # what validation, best.pt and the export hold
    tail = EpochAverage(model, cfg.tail_average) if cfg.tail_average else None  # judged beside `judged`
    history: list[dict[str, Any]] = []
    start_epoch, best_metric, best_epoch, bad_epochs = 1, -1.0, 0, 0
    ckpt = load_checkpoint(out_dir) if resume else None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and ckpt.get("scheduler") is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        if average is not None:
            average.load_state_dict(ckpt["average"])
        if tail is not None and ckpt.get("tail") is not None:
            tail.load_state_dict(ckpt["tail"])
        torch.set_rng_state(ckpt["torch_rng"])
        if device.type == "cuda" and ckpt.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(ckpt["cuda_rng"], device)  # without it: the current device, cuda:0
        rng.bit_generator.state = ckpt["numpy_rng"]
        history = ckpt["history"]
        start_epoch, best_metric, best_epoch, bad_epochs = (
            ckpt["epoch"] + 1, ckpt["best_metric"], ckpt["best_epoch"], ckpt["bad_epochs"])
        rewrite_history(out_dir, history)
        print(f"resuming {out_dir} after epoch {ckpt['epoch']} "
              f"(best {metric_key} {best_metric:.5f} at epoch {best_epoch})")
    elif resume:
        rewrite_history(out_dir, [])
    show = sys.stderr.isatty() if progress is None else progress
    print(f"training on {device}{' (bf16 autocast)' if cfg.amp else ''}: {len(seqs)} sequences, {vocab.size - 1} movies, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters, selecting on validation {metric_key}"
          + (" (next-event protocol)" if cfg.select_protocol == "next" else "")
          + (f", distilling from {', '.join(cfg.distill)} (weight {cfg.distill_weight}, top {cfg.distill_k})"
             if cfg.distill else "")
          + (f", sampled softmax ({cfg.negatives} negatives a batch, drawn by count ** {cfg.negative_alpha})"
             if cfg.negatives else ""))

    for epoch in range(start_epoch, cfg.epochs + 1):
        if bad_epochs >= cfg.patience:
            break
        # ---- train one epoch ----
        model.train()
        t0 = time.perf_counter()
        total_loss, total_tokens = 0.0, 0
        batches = epoch_batches(seqs, cfg.batch_size, rng, cfg.shuffle_window, cfg.item_dropout)
        for step, (inputs, targets, ids) in enumerate(tqdm(batches, desc=f"epoch {epoch}", disable=not show,
                                                           leave=False)):
            raise_if_interrupted()  # a Ctrl-C or SIGTERM whose exception was swallowed (interrupted.py)
            if step % SHARE_EVERY == 0:  # side by side with other runs: on this run's current share of the cores
                follow_share()
            inputs, targets = inputs.to(device), targets.to(device)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cfg.amp):
                outputs = model.features(inputs) if cfg.negatives else model(inputs)
            loss = loss_fn(outputs, targets, ids)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip_norm > 0:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            optimizer.step()
            if average is not None:
                average.update(model)
            n = int((targets != IGNORE_INDEX).sum())
            value = loss.item()
            if not math.isfinite(value):
                raise _diverged(cfg, out_dir, epoch, f"the loss of batch {step + 1} is {value}")
            total_loss += value * n
            total_tokens += n
        # The last step's update is judged by no loss of this epoch: a nan weight would rank nothing.
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            raise _diverged(cfg, out_dir, epoch, "a weight is no longer finite after its last batch")
        train_seconds = time.perf_counter() - t0
        lr_used = optimizer.param_groups[0]["lr"]
        if tail is not None and lr_used < cfg.lr:
            tail.add(model, epoch)

        # ---- validate: the same full-catalog evaluation as `evaluate` (and the tail average's) ----
        model.eval()
        t1 = time.perf_counter()
        val = _validate(judged, val_cases, cfg, vocab, device)
        val_tail = _validate(tail.model, val_cases, cfg, vocab, device) if tail is not None and tail.ready else None
        eval_seconds = time.perf_counter() - t1
        kept, chosen = ((tail.model, val_tail) if val_tail is not None and val_tail[metric_key] > val[metric_key]
                        else (judged, val))

        # ---- bookkeeping: best model, checkpoint, history, plot ----
        improved = chosen[metric_key] > best_metric
        if improved:
            best_metric, best_epoch, bad_epochs = chosen[metric_key], epoch, 0
            save_torch({"model": kept.state_dict(), "config": cfg.to_dict(), "epoch": epoch, "val": chosen},
                       out_dir / BEST_FILE)
        else:
            bad_epochs += 1
        # The schedule follows the weights it steers, not their average: with or without --tail-average the
        # training runs the same course epoch by epoch; only early stopping may come later, when the average
        # keeps improving.
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(val[metric_key])
        elif scheduler is not None:
            scheduler.step()
        row = {"epoch": epoch, "train_loss": total_loss / max(total_tokens, 1), "lr": lr_used,
               "train_seconds": round(train_seconds, 3),
               "eval_seconds": round(eval_seconds, 3), "val": chosen}
        if val_tail is not None:  # "val" is the better of the two: what best.pt would hold
            row.update(val_weights=val, val_average=val_tail, average_of=[tail.epochs[0], tail.epochs[-1]])
        history.append(row)
        save_torch({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                    "scheduler": scheduler.state_dict() if scheduler is not None else None,
                    "average": average.state_dict() if average is not None else None,
                    "tail": tail.state_dict() if tail is not None else None,
                    "torch_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                    "numpy_rng": rng.bit_generator.state, "history": history, "best_metric": best_metric,
                    "best_epoch": best_epoch, "bad_epochs": bad_epochs, "config": cfg.to_dict()},
                   out_dir / CKPT_FILE)
        append_history(out_dir, row)
        plot_curves(history, out_dir / "curves.png", metric_key, cfg.select_protocol)
        shown = dict.fromkeys([metric_key, "ndcg@10", "hr@10"])  # the selected metric first, never twice
        averaged = f"  (average of epochs {tail.epochs[0]}-{tail.epochs[-1]})" if chosen is val_tail else ""
        print(f"epoch {epoch:3d}  loss {row['train_loss']:.4f}  val "
              + "  ".join(f"{key} {chosen[key]:.5f}" for key in shown) + f"{averaged}  "
              f"({train_seconds:.1f}s train, {eval_seconds:.1f}s eval){'  *best' if improved else ''}", flush=True)
    if best_epoch and bad_epochs >= cfg.patience:
        print(f"early stop: no better {metric_key} for {cfg.patience} epochs")

    # ---- export the best epoch ----
    if not best_epoch:
        raise RunDirError(f"{out_dir}: no epoch was trained (epochs={cfg.epochs})")
    try:
        export_run(out_dir)
    except Exception as exc:
        # TorchScript compiles from the source files on disk: code updated under a running training (a
        # `git pull`) fails here, after the last epoch. The training itself is kept.
        exc.add_note(f"training finished and {out_dir / BEST_FILE} keeps its best epoch ({best_epoch}); "
                     f"`python -m trainer export --run {out_dir}` tries the export again")
        raise
    best_row = next(r for r in history if r["epoch"] == best_epoch)
    summary = {"best_epoch": best_epoch, "epochs_run": len(history),
               "selected_by": f"{metric_key} ({cfg.select_protocol})", "val": best_row["val"],
               "mean_train_seconds": round(float(np.mean([r["train_seconds"] for r in history])), 3),
               "model": str(out_dir / "model.pt")}
    print(json.dumps(summary))
    return summary
