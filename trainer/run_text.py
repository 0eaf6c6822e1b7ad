"""Plain words for a training run in a benchmark table: its schedule, how it ended, its goals."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def lr_schedule_text(cfg: dict[str, Any]) -> str:
    schedule = cfg.get("lr_schedule", "constant")
    if schedule == "plateau":
        return f"lr x{cfg['lr_decay']} after {cfg['lr_patience'] + 1} epochs without a better validation map@20"
    return "cosine lr decay to lr/100" if schedule == "cosine" else "constant lr"


def loss_text(cfg: dict[str, Any]) -> str:
    """The training settings that are off by default, named only when a run used them."""
    parts = [f"label smoothing {cfg['label_smoothing']}"] if cfg.get("label_smoothing") else []
    parts += [f"weight average (ema) {cfg['ema']}"] if cfg.get("ema") else []
    parts += [f"tail average of {cfg['tail_average']} epochs"] if cfg.get("tail_average") else []
    parts += [f"popularity prior {cfg['pop_prior']} x log(1 + training count) added to the scores"] if cfg.get(
        "pop_prior") else []
    parts += [f"training windows reordered in blocks of {cfg['shuffle_window']} each epoch"] if cfg.get(
        "shuffle_window", 0) > 1 else []
    parts += [f"input movies left out with probability {cfg['item_dropout']} each epoch (item dropout)"] if cfg.get(
        "item_dropout") else []
    parts += ["each position trained on every movie still ahead in its window (target rest)"] if cfg.get(
        "target", "next") == "rest" else []
    parts += [f"each user's training window used round((n / max len) ** {cfg['user_weight']}) times an epoch for "
              "n training movies (user weight)"] if cfg.get("user_weight") else []
    parts += [f"sampled softmax, {cfg['negatives']} negatives a batch drawn by training count ** "
              f"{cfg['negative_alpha']}"] if cfg.get("negatives") else []
    if cfg.get("distill"):
        teachers = ", ".join(Path(t).name for t in cfg["distill"])
        parts.append(f"distilled from {teachers} (weight {cfg['distill_weight']}, top {cfg['distill_k']})")
    return "".join(", " + p for p in parts)


def stopped_text(gru: dict[str, Any], cfg: dict[str, Any]) -> str:
    """Say so when the run ended before early stopping or its epoch cap (interrupted, then --reuse)."""
    flat = gru["epochs_run"] - gru["best_epoch"]
    if flat < cfg["patience"] and gru["epochs_run"] < cfg["epochs"]:
        return f" (interrupted with {flat} of {cfg['patience']} patience epochs used; resumable)"
    return ""


def goal_text(bench: dict[str, Any], gru: dict[str, Any]) -> str:
    """The GRU's goal metrics unrounded, so a table's 4 digits cannot round a miss into a hit."""
    goal = bench.get("goal")
    if not goal:
        return ""
    parts = [f"{k} {gru['test'][k]:.5f} ({'met' if gru['test'][k] >= v else 'not met'}: goal >= {v})" for k, v in goal.items()]
    # One seed is one draw: the reader is pointed at the spread over seeds before judging the goal.
    return (" GRU test, unrounded: " + ", ".join(parts) + ". That is one seed; the mean over seeds and an "
            "ensemble of seeds are in the preset steps (CPU) and preset candidates (CUDA) sections below.")
