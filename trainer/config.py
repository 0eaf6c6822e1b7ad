"""Typed hyperparameters, saved in every checkpoint and in `RUN_DIR/config.json`.

`ModelConfig` is everything needed to rebuild the network; `TrainConfig` is how it was trained.
Export and serving rebuild the model from these alone, never from the command line.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError, RunDirError

# --device names (devices.resolve_device turns one into a torch device where it runs)
DEVICE_NAME = re.compile(r"auto|cpu|cuda(?::[0-9]+)?")

#: Training windows per user: each user's "last" max_len positions, or "all" of the history.
WINDOWS = ("last", "all")
#: What each training position learns: the "next" movie, or the "rest" of its window (losses.py).
TARGETS = ("next", "rest")
#: How evaluation scores a split's movies: "set", all of them as one target set after the history (the
#: notebook's protocol); "next", each one from everything before it (evaluation.build_next_cases).
PROTOCOLS = ("set", "next")
#: How `compare` guards many differences at once: "none", each interval covers the level alone; "bonferroni",
#: all the intervals together do; "holm", the marks do, by Holm's step-down (intervals each at the level).
ADJUSTMENTS = ("none", "bonferroni", "holm")


def check_seed(seed: int, flag: str = "--seed") -> None:
    """Refuse a seed that numpy's generators (no negative seed) or torch's (none past 64 bits) would
    reject only once a run had started; `recipe` and `seed_sweep` check theirs before any run."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ConfigError(f"{flag} must be an int in 0..2**63-1, got {seed!r}")


def _finite_floats(cfg: Any) -> None:
    """Refuse nan and inf in every float field: range checks written as `x < 0` let nan through, and
    one nan hyperparameter (--weight-decay nan) turns every weight into nan at the first step."""
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"--{f.name.replace('_', '-')} must be a finite number, got {value}")


@dataclass
class ModelConfig:
    vocab_size: int = 0  # movies + start token; set from the vocabulary
    emb_dim: int = 128
    hidden_dim: int = 128
    layers: int = 1
    emb_dropout: float = 0.0  # dropout on input embeddings (Tan et al. 2016)
    dropout: float = 0.0  # on GRU outputs, and between layers
    tied: bool = False  # output layer shares the input embedding matrix

    def validate(self) -> None:
        _finite_floats(self)
        for name in ("emb_dim", "hidden_dim", "layers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        for name in ("emb_dropout", "dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"--{name.replace('_', '-')} must be in [0, 1), got {getattr(self, name)}")


@dataclass
class TrainConfig:
    kind: str = "gru"  # or a baseline name: pop, sr, sknn
    data: str = ""
    epochs: int = 30
    batch_size: int = 200
    lr: float = 1e-3
    lr_schedule: str = "constant"  # "plateau": times lr_decay after lr_patience+1 epochs without a better
    #   validation metric; "cosine": from lr down to lr/100 over `epochs`
    lr_decay: float = 0.5
    lr_patience: int = 1
    clip_norm: float = 0.0  # max gradient norm; 0 = no clipping
    weight_decay: float = 1e-4
    label_smoothing: float = 0.0  # share of each target's probability spread over all movies
    ema: float = 0.0  # decay of a moving average of the weights, which validation and export use; 0 = off
    # From the first epoch trained at a lowered lr on, validation also judges the mean of the last this many
    # end-of-epoch weights (those epochs only), and best.pt keeps whichever scored higher (optim.EpochAverage).
    # The lr schedule and the training itself follow the model's own weights; 0 = off.
    tail_average: int = 0
    # W x log(1 + training count) added to every movie's score wherever the model ranks, not in training
    # (pop_prior.py): it gives back the popularity that label smoothing spreads over the catalog; 0 = off.
    pop_prior: float = 0.0
    distill: list[str] = field(default_factory=list)  # teacher runs (distill.py); [] = off
    distill_weight: float = 0.5  # the teachers' share of the loss, with distill
    distill_k: int = 50  # teacher movies kept per training position
    init_from: str = ""  # a finished GRU run whose weights this run starts from (warm_start.py); "" = a cold start
    # With init_from: each weight starts as init_keep x the run's + (1 - init_keep) x a fresh initialisation
    # (shrink and perturb, Ash & Adams 2020); 1 = the old weights as they are. 0.5 measured best (README).
    init_keep: float = 0.5
    min_count: int = 5
    # The notebook fed 150; the last 50 measured better or level on MovieLens-1M, MovieLens-100k and
    # the built-in data (BENCHMARKS.md), and a served request then costs at most 50 GRU steps.
    max_len: int = 50
    windows: str = "last"  # training windows per user: "last" max_len positions, or "all" of the history
    # Reorder each training window's movies inside random blocks of this many positions, afresh every
    # epoch; 0 = keep the logged order. For logs whose order inside a sitting is not the viewing
    # order (MovieLens: the order in which a user rated, many at the same second).
    shuffle_window: int = 0
    # Each epoch, leave each training input movie out with this probability (its target stays), after
    # Tan, Xu & Liu (2016); 0 = off (batching.drop_items).
    item_dropout: float = 0.0
    target: str = "next"  # "rest": every movie still ahead in the window, one soft target (losses.py)
    # Train each position against this many movies drawn per batch instead of the whole catalog (sampled
    # softmax, sampled_softmax.py), drawn in proportion to training count ** negative_alpha; 0 = the full softmax.
    negatives: int = 0
    negative_alpha: float = 0.5
    # Each training window of a user with n (in-vocabulary) training movies is used round((n / max_len) **
    # user_weight) times an epoch, at least once; 0 = once. With windows "last" every user has one window
    # whatever they rated, so heavy raters count as much as a user with max_len movies unless this is > 0.
    user_weight: float = 0.0
    patience: int = 5  # epochs without a better validation select_metric before stopping
    # What early stopping, the best epoch and the plateau schedule judge by: a metric `evaluate` reports, on the
    # validation split scored under `select_protocol` ("next": each validation movie from all before it).
    select_metric: str = "map@20"
    select_protocol: str = "set"
    eval_k: int = 20
    device: str = "auto"
    amp: bool = False  # bf16 autocast: CUDA, or a CPU with native bf16 (AVX512-BF16 or AMX)
    seed: int = 42
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        # What a notebook writes: Path objects (json.dumps of config.json raised TypeError mid-start),
        # one teacher run instead of a list (iterated letter by letter), the model as a dict.
        if isinstance(self.data, os.PathLike):
            self.data = os.fspath(self.data)
        if isinstance(self.init_from, os.PathLike):
            self.init_from = os.fspath(self.init_from)
        if isinstance(self.distill, (str, os.PathLike)):
            self.distill = [self.distill]
        self.distill = [os.fspath(d) if isinstance(d, os.PathLike) else d for d in self.distill]
        if isinstance(self.model, dict):
            self.model = ModelConfig(**self.model)

    def validate(self) -> None:
        _finite_floats(self)
        positive = ("epochs", "batch_size", "min_count", "patience", "eval_k")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.max_len < 2:
            raise ConfigError(f"--max-len must be >= 2 (start token + one movie), got {self.max_len}")
        check_seed(self.seed)
        if not self.lr > 0:
            raise ConfigError(f"--lr must be > 0, got {self.lr}")
        if self.lr_schedule not in ("constant", "plateau", "cosine"):
            raise ConfigError(f"--lr-schedule must be constant, plateau or cosine, got {self.lr_schedule!r}")
        if not 0.0 < self.lr_decay < 1.0:
            raise ConfigError(f"--lr-decay must be in (0, 1), got {self.lr_decay}")
        if self.lr_patience < 0:
            raise ConfigError(f"--lr-patience must be >= 0, got {self.lr_patience}")
        if self.clip_norm < 0:
            raise ConfigError(f"--clip-norm must be >= 0 (0 = off), got {self.clip_norm}")
        if self.weight_decay < 0:
            raise ConfigError(f"--weight-decay must be >= 0, got {self.weight_decay}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.distill and not 0.0 < self.distill_weight <= 1.0:
            raise ConfigError(f"--distill-weight must be in (0, 1], got {self.distill_weight}")
        if self.distill_k < 1:
            raise ConfigError(f"--distill-k must be >= 1, got {self.distill_k}")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"--ema must be in [0, 1) (0 = off), got {self.ema}")
        if self.tail_average < 0 or self.tail_average == 1:
            raise ConfigError(f"--tail-average must be 0 (off) or >= 2 epochs, got {self.tail_average}")
        if self.tail_average and self.ema:
            # best.pt would have to choose between two averages of different kinds
            raise ConfigError(f"--tail-average {self.tail_average} cannot be combined with --ema {self.ema}: "
                              "choose one weight average")
        if self.tail_average and self.lr_schedule == "constant":
            raise ConfigError(f"--tail-average {self.tail_average} needs an lr that is lowered (--lr-schedule "
                              "plateau or cosine): it averages the epochs trained at a lowered lr")
        if self.shuffle_window < 0:
            raise ConfigError(f"--shuffle-window must be >= 0 (0 = keep the order), got {self.shuffle_window}")
        if self.shuffle_window > 1 and self.distill:
            # Soft targets are the teachers' predictions after each prefix in the logged order; a
            # reordered window has other prefixes, so they would teach the wrong positions.
            raise ConfigError(f"--shuffle-window {self.shuffle_window} cannot be combined with --distill: the "
                              "teachers' soft targets are computed for the logged order")
        if not 0.0 <= self.item_dropout < 1.0:
            raise ConfigError(f"--item-dropout must be in [0, 1) (0 = off), got {self.item_dropout}")
        if self.item_dropout > 0 and self.distill:
            # Soft targets are looked up by window position; a window with movies left out has others.
            raise ConfigError(f"--item-dropout {self.item_dropout} cannot be combined with --distill: the "
                              "teachers' soft targets are computed for every position of a window")
        if not 0.0 < self.init_keep <= 1.0:
            raise ConfigError(f"--init-keep must be in (0, 1] (1 = the old weights as they are), got {self.init_keep}")
        if not 0.0 <= self.user_weight <= 2.0:
            # beyond 2 a heavy rater's copies would swamp an epoch (a 700-movie user: 196 at 2)
            raise ConfigError(f"--user-weight must be in [0, 2] (0 = every window once), got {self.user_weight}")
        if self.target not in TARGETS:
            raise ConfigError(f"--target must be {' or '.join(TARGETS)}, got {self.target!r}")
        if self.target != "next" and self.distill:
            # The teachers' soft targets are next-movie distributions, mixed with the next-movie loss.
            raise ConfigError(f"--target {self.target} cannot be combined with --distill: distillation learns the "
                              "next movie, from the data and the teachers")
        if self.negatives < 0:
            raise ConfigError(f"--negatives must be >= 0 (0 = the full softmax), got {self.negatives}")
        if not 0.0 <= self.negative_alpha <= 1.0:
            raise ConfigError(f"--negative-alpha must be in [0, 1], got {self.negative_alpha}")
        if self.negatives and (self.target != "next" or self.distill):
            # Both need the whole catalog's distribution at every position, which a sampled loss never computes.
            other = f"--target {self.target}" if self.target != "next" else "--distill"
            raise ConfigError(f"--negatives {self.negatives} cannot be combined with {other}: it needs every "
                              "movie's score at every position")
        from .metrics import metric_names  # here, not at import: the config module stays free of torch

        if self.select_metric not in metric_names(self.eval_k):
            raise ConfigError(f"--select-metric must be one of {', '.join(metric_names(self.eval_k))}, "
                              f"got {self.select_metric!r}")
        if self.select_protocol not in PROTOCOLS:
            raise ConfigError(f"--select-protocol must be {' or '.join(PROTOCOLS)}, got {self.select_protocol!r}")
        if self.windows not in WINDOWS:
            raise ConfigError(f"--windows must be {' or '.join(WINDOWS)}, got {self.windows!r}")
        # the name only: whether this machine has the device is train()'s question, so a config written
        # on a GPU machine still loads (and resumes with another --device) on one without
        if not isinstance(self.device, str) or not DEVICE_NAME.fullmatch(self.device):
            raise ConfigError(f"--device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        self.model.validate()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        args = {k: v for k, v in payload.items() if k in known and k != "model"}
        model_known = {f.name for f in fields(ModelConfig)}
        model = ModelConfig(**{k: v for k, v in payload.get("model", {}).items() if k in model_known})
        return cls(model=model, **args)

    @classmethod
    def completed(cls, payload: dict[str, Any]) -> dict[str, Any]:
        """A saved config with every current setting: one saved before a setting existed had its default."""
        return cls.from_dict(payload).to_dict()

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "TrainConfig":
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except FileNotFoundError:
            raise RunDirError(f"{path}: config not found") from None
        except (json.JSONDecodeError, TypeError) as exc:
            raise RunDirError(f"{path}: not a valid sessrec config ({exc})") from None
