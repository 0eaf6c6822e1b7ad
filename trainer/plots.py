"""Learning-curve plot of a run: training loss and validation metrics per epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .checkpoint import best_row


def _pyplot():  # type: ignore[no-untyped-def]
    # Imported on first plot, not with the trainer: it is the slowest import of a CLI start.
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history: list[dict[str, Any]], path: Path, metric: str = "map@20", protocol: str = "set") -> None:
    """Write a two-panel PNG: loss per epoch, and validation `metric` (the one the best epoch is chosen by),
    ndcg@10 and hr@10, as scored under `protocol`."""
    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [row["train_loss"] for row in history], marker="o")
    ax_loss.set(xlabel="epoch", ylabel="train cross-entropy", title="training loss")
    for key in dict.fromkeys([metric, "ndcg@10", "hr@10"]):
        ax_val.plot(epochs, [row["val"][key] for row in history], marker="o", label=key)
    best = best_row(history, metric)
    ax_val.axvline(best["epoch"], color="grey", linestyle=":", label=f"best epoch {best['epoch']}")
    ax_val.set(xlabel="epoch", title="validation (full catalog, seen masked"
               + (", event by event)" if protocol == "next" else ")"))
    ax_val.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_benchmark_curves(histories: dict[str, list[dict[str, Any]]], path: Path) -> None:
    """Validation ndcg@10 and hr@10 per epoch of each benchmark's GRU run, one panel per data set."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(histories), figsize=(5 * len(histories), 4), squeeze=False)
    for ax, (name, history) in zip(axes[0], histories.items()):
        epochs = [row["epoch"] for row in history]
        for key in ("hr@10", "ndcg@10", "map@20"):
            ax.plot(epochs, [row["val"][key] for row in history], label=key)
        ax.set(title=f"{name}: GRU validation", xlabel="epoch")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
