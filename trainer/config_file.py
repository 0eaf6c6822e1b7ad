"""Training settings from a file: `train --config FILE`, JSON or YAML.

A finished run's config.json is such a file as it stands, so a run can be repeated on other data or
another machine; a hand-written file may set any part of the settings, by their TrainConfig names or
their flag spellings (`hidden_dim` or `hidden-dim`), model settings flat or under `model:`.
The layers, lowest first: TrainConfig's defaults, `--preset`, the file, the flags given.

A file is checked whole before anything trains: a setting sessrec does not know (with the nearest known
name), a value of the wrong type, or a baseline's config is a ConfigError naming the file and the key.
Three keys are read and dropped: `data` (the data is always `--data`), `init_from` (a run starts from
another's weights only with `--init-from`: repeating a retrained run's settings on other data must not
silently start from its weights) and `model.vocab_size` (counted from the training split's vocabulary).
"""

from __future__ import annotations

import difflib
import json
import math
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any

from .config import ModelConfig, TrainConfig
from .errors import ConfigError

#: Read and dropped: the data is --data, the starting weights --init-from, and the vocabulary size is counted
#: from the training split.
DROPPED = {"data", "init_from", "vocab_size"}
SUFFIXES = (".json", ".yaml", ".yml")


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings `path` gives, checked and typed, as a partial TrainConfig dict.

    Args:
        path: a .json, .yaml or .yml file holding one mapping.
    Returns:
        Only the keys the file sets (never `data`), TrainConfig's names; model settings under "model".
    Raises:
        ConfigError: the file is missing or unreadable, not one mapping, or sets an unknown key or a
            value of the wrong type (the message names the file and the key).
    """
    path = Path(path)
    raw = _parse(path)
    train_types, model_types = typing.get_type_hints(TrainConfig), typing.get_type_hints(ModelConfig)
    out: dict[str, Any] = {"model": {}}
    nested = raw.pop("model", None)
    if nested is not None and not isinstance(nested, dict):
        raise ConfigError(f"{path}: model must be a mapping of model settings, got {_show(nested)}")
    for where, items in (("", raw.items()), ("model.", (nested or {}).items())):
        for key, value in items:
            name = str(key).replace("-", "_")
            if name in DROPPED:
                continue
            if name in model_types:
                _set(out["model"], path, where + str(key), name, _typed(path, where + str(key), value, model_types[name]))
            elif name in train_types and name != "model" and not where:
                out[name] = _typed(path, str(key), value, train_types[name])
            else:
                raise ConfigError(f"{path}: unknown setting {where}{key}{_nearest(name, where)}")
    if out.get("kind", "gru") != "gru":
        raise ConfigError(f"{path}: kind {out['kind']!r} is a baseline's config, and train fits the GRU; "
                          f"use `python -m trainer baseline --name {out['kind']}`")
    return out


def _parse(path: Path) -> dict[str, Any]:
    if path.suffix.lower() not in SUFFIXES:
        raise ConfigError(f"{path}: a config file must end in {', '.join(SUFFIXES)}, got {path.suffix or 'no suffix'!r}")
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem}" if mark else str(exc)
            raise ConfigError(f"{path}: not valid YAML ({where})") from None
    if data is None:
        raise ConfigError(f"{path}: the config file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file holds one mapping of settings, got {_show(data)}")
    return data


def _typed(path: Path, key: str, value: Any, hint: Any) -> Any:
    """`value` as the setting's type: ints and numeric strings are taken for floats (finite ones),
    bools never for numbers."""
    ok = {bool: isinstance(value, bool),
          int: isinstance(value, int) and not isinstance(value, bool),
          float: isinstance(value, (int, float)) and not isinstance(value, bool),
          str: isinstance(value, str)}.get(hint)
    if ok is None and typing.get_origin(hint) is list:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        if ok:
            return list(value)
        raise ConfigError(f"{path}: {key} must be a list of strings, got {_show(value)}")
    if hint is float and isinstance(value, str):
        # PyYAML reads `1e-3` as a string (YAML 1.1 wants `1.0e-3`); a number written so is taken.
        try:
            value, ok = float(value), True
        except ValueError:
            pass
    if ok and hint is float and not math.isfinite(value):
        ok = False
    if not ok:
        raise ConfigError(f"{path}: {key} must be {_TYPE_WORDS[hint]}, got {_show(value)}")
    return float(value) if hint is float else value


_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}


def _set(model: dict[str, Any], path: Path, key: str, name: str, value: Any) -> None:
    # Flat and nested spellings of one model setting may both appear, but must agree.
    if name in model and model[name] != value:
        raise ConfigError(f"{path}: {key} is {value!r} here and {model[name]!r} elsewhere in the file")
    model[name] = value


def _nearest(name: str, where: str) -> str:
    known = [f.name for f in fields(ModelConfig)]
    if not where:
        known += [f.name for f in fields(TrainConfig) if f.name != "model"]
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {where}{close[0]}?)" if close else ""


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"
