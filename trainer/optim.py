"""How the weights move: the learning-rate schedule and the moving average of the weights."""

from __future__ import annotations

import copy

import torch
from torch import nn

from .config import TrainConfig


def make_scheduler(cfg: TrainConfig, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler | \
        torch.optim.lr_scheduler.ReduceLROnPlateau | None:
    """The per-epoch learning-rate schedule named by `cfg.lr_schedule` (None for constant)."""
    if cfg.lr_schedule == "plateau":
        # threshold 0: any better validation value counts, exactly like early stopping's "improved".
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=cfg.lr_decay,
                                                          patience=cfg.lr_patience, threshold=0.0)
    if cfg.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs, eta_min=cfg.lr / 100)
    return None


def _frozen_copy(model: nn.Module) -> nn.Module:
    """A copy of `model` in eval mode that no optimizer step or backward pass touches."""
    frozen = copy.deepcopy(model).eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    return frozen


class WeightAverage:
    """Exponential moving average of a model's parameters, kept in a copy of the model.

    After update t the copy holds avg <- d_t * avg + (1 - d_t) * weights, with
    d_t = min(decay, (1 + t) / (10 + t)): the warm-up keeps the first, random weights from lingering
    in the average for ~1/(1 - decay) steps. The copy stays in eval mode; validation, the best
    checkpoint and the export use it, so what is served is the averaged model.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"weight-average decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.model = _frozen_copy(model)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the model's current weights into the average (call after each optimizer step)."""
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for avg, cur in zip(self.model.parameters(), model.parameters()):
            avg.lerp_(cur.detach(), 1.0 - d)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])


class EpochAverage:
    """Mean of the last `size` end-of-epoch weights that `add` was given, kept in a copy of the model.

    Training adds the epochs trained at a lowered learning rate (`--tail-average`): their weights sit near
    one optimum, and their mean can rank better than any one of them (Izmailov et al. 2018, SWA). The
    copy is judged by validation beside the model's own weights; it never feeds back into training.
    Only parameters are averaged (the popularity prior, a buffer, is copied once and stays exact).
    """

    def __init__(self, model: nn.Module, size: int) -> None:
        if size < 2:
            raise ValueError(f"an epoch average needs at least 2 epochs, got {size}")
        self.size = size
        self.kept: list[dict[str, torch.Tensor]] = []
        self.epochs: list[int] = []
        self.model = _frozen_copy(model)

    @torch.no_grad()
    def add(self, model: nn.Module, epoch: int) -> None:
        """Keep `model`'s current weights as epoch `epoch`'s, drop the oldest past `size`, and re-average."""
        self.kept.append({name: p.detach().to("cpu", copy=True) for name, p in model.named_parameters()})
        self.epochs.append(epoch)
        del self.kept[:-self.size], self.epochs[:-self.size]
        self._average()

    @torch.no_grad()
    def _average(self) -> None:
        for name, p in self.model.named_parameters():  # tied weights are one parameter, named once
            p.copy_(torch.stack([k[name] for k in self.kept]).mean(0))

    @property
    def ready(self) -> bool:
        """Whether the average differs from the last epoch's weights (it holds two or more)."""
        return len(self.kept) >= 2

    def state_dict(self) -> dict:
        return {"kept": self.kept, "epochs": self.epochs}

    def load_state_dict(self, state: dict) -> None:
        self.kept, self.epochs = list(state["kept"]), list(state["epochs"])
        if self.kept:
            self._average()
