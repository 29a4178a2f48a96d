"""Typed, JSON round-tripping configs shared by every model, and runtime options that are not hyperparameters.

Hyperparameter names are shared across models: `embedding_size`, `epochs`, `learning_rate`, `reg`,
`batch_size`, `seed`. Runtime settings (device, threads, progress) live in `TrainOptions`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import os
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from shoprec.exceptions import ConfigError

C = TypeVar("C", bound="ModelConfig")


#: Integer hyperparameters that count something, so 0 is as wrong as a negative number.
COUNTS = frozenset(
    {
        "embedding_size",
        "epochs",
        "batch_size",
        "factors",
        "iterations",
        "neighbors",
        "cg_steps",
        "max_items",
        "max_len",
        "num_blocks",
        "num_heads",
        "field_size",
        "patience",
    }
)
#: Float hyperparameters that are probabilities of dropping something: in [0, 1).
FRACTIONS = frozenset({"dropout", "id_dropout"})
#: Devices a model trains on; `cuda:N` picks the N-th GPU.
DEVICES = ("cpu", "cuda", "cuda:N", "mps")
_DEVICE = re.compile(r"^(cpu|mps|cuda(:[0-9]+)?)$")


@dataclass
class ModelConfig:
    """Base class of every model's config. Subclasses are plain dataclasses with defaults."""

    seed: int = 42

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any] | None) -> C:
        """Build from a dict (e.g. JSON or TOML), rejecting unknown keys and values of the wrong type."""
        config = cls(**coerce_fields(cls, data or {}, what="parameter"))
        config.validate()
        return config

    def validate(self) -> None:
        """Check types and value ranges; subclasses extend. Raises ConfigError naming the field."""
        owner = type(self).__name__
        check_fields(self)
        for f in dataclasses.fields(self):
            value, where = getattr(self, f.name), f"{owner}.{f.name}"
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if f.name in COUNTS:
                check_range(where, value, low=1)
            elif f.name in FRACTIONS and not 0 <= value < 1:
                raise ConfigError(f"{where} must be in [0, 1), got {value}")
            else:  # seeds, rates, weights and sampled-negative counts: never negative
                check_range(where, value, low=0)


def coerce(where: str, value: Any, hint: Any) -> Any:
    """`value` as type `hint`, or ConfigError naming `where` and what is allowed.

    The one typed coercion for config fields (`-p key=value`, TOML values, keyword arguments), strict so that
    a typo never trains something else: int takes no bool, no fraction and no string; float is finite and
    takes no bool or string; bool and str take only themselves; tuples and lists are coerced item by item.
    """
    if hint is Any or isinstance(hint, TypeVar):
        return value
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(where, value, arg)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {describe(hint)}, got {value!r}")
    origin = typing.get_origin(hint) or hint
    if origin is typing.Literal:
        if value in typing.get_args(hint) and isinstance(value, str | int):
            return value
    elif origin is bool:
        if isinstance(value, bool):
            return value
    elif origin is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
    elif origin is float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif origin in (tuple, list):
        if isinstance(value, list | tuple):
            args = [a for a in typing.get_args(hint) if a is not Ellipsis] or [Any]
            return origin(coerce(f"{where}[{i}]", v, args[0]) for i, v in enumerate(value))
    elif origin is Path:
        if isinstance(value, str | os.PathLike) and str(value):
            return Path(value)
    elif isinstance(origin, type) and origin not in (object,):
        if isinstance(value, origin):
            return value
    else:
        return value
    raise ConfigError(f"{where}: expected {describe(hint)}, got {value!r}")


def describe(hint: Any) -> str:
    """`int | None` -> 'an integer or none': what a user may write, for error messages."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return " or ".join(describe(a) for a in typing.get_args(hint))
    origin = typing.get_origin(hint) or hint
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin in (tuple, list):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis] or [Any]
        return f"a list of {describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
    names = {
        bool: "true or false",
        int: "an integer",
        float: "a finite number",
        str: "a string",
        Path: "a path",
        dict: "a table",
        type(None): "none",
    }
    return names.get(origin, getattr(origin, "__name__", str(origin)))


def coerce_fields(cls: type, data: dict[str, Any], *, what: str = "setting") -> dict[str, Any]:
    """Keyword arguments for dataclass `cls` from `data`: unknown keys refused, every value `coerce`d."""
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__}: expected a table of {what}s, got {data!r}")
    fields = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(data) - set(fields), key=str)
    if unknown:
        raise ConfigError(f"{cls.__name__}: unknown {what}(s) {unknown}; expected some of {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    return {k: coerce(f"{cls.__name__}.{k}", v, hints[k]) for k, v in data.items()}


def check_fields(instance: Any) -> None:
    """ConfigError unless every field of a built dataclass has its declared type (catches direct construction)."""
    hints = typing.get_type_hints(type(instance))
    for f in dataclasses.fields(instance):
        coerce(f"{type(instance).__name__}.{f.name}", getattr(instance, f.name), hints[f.name])


def coerce_kwargs(owner: str, function: Callable[..., Any], options: dict[str, Any]) -> dict[str, Any]:
    """`options` for `function`, each one its parameter's annotation names `coerce`d (others left to `function`)."""
    if not isinstance(options, dict):
        raise ConfigError(f"{owner}: expected a table of options, got {options!r}")
    while isinstance(function, functools.partial):
        function = function.func
    hints = {k: v for k, v in typing.get_type_hints(function).items() if k != "return"}
    return {k: coerce(f"{owner}.{k}", v, hints[k]) if k in hints else v for k, v in options.items()}


def check_range(where: str, value: float, *, low: float) -> None:
    """ConfigError unless `value >= low` (1: a count, 0: never negative)."""
    if value < low:
        allowed = "> 0 (a count)" if low == 1 else f">= {low}"
        raise ConfigError(f"{where} must be {allowed}, got {value}")


def check_device(device: str) -> str:
    """`device` if it names a device this machine has: cpu, cuda, cuda:N or mps; else ConfigError."""
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    import torch

    if device.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            have = f"{count} CUDA device(s)" if count else "no CUDA device"
            raise ConfigError(f"device {device!r}: this machine has {have}; use device 'cpu'")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps': not available on this machine; use device 'cpu'")
    return device


@dataclass
class TrainOptions:
    """Runtime settings for `fit`: not hyperparameters, so they never change what a model learns on CPU."""

    device: str = "cpu"
    threads: int | None = None
    progress: bool = False
    log_path: str | Path | None = None
    checkpoint_dir: str | Path | None = None
    resume: bool = False
    #: Called with each epoch's `EpochRecord` (loss, validation metrics) on the main process, e.g. so that a
    #: hyperparameter search can prune a poor trial; an exception it raises ends training.
    on_epoch: Callable[[Any], None] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Refuse a bad runtime setting before any work (a thread count of 0 or an unknown device)."""
        check_fields(self)
        if self.threads is not None:
            check_range("TrainOptions.threads", self.threads, low=1)
        check_device(self.device)

    @classmethod
    def from_env(cls, **overrides: Any) -> TrainOptions:
        """Defaults from SHOPREC_DEVICE / SHOPREC_THREADS, then explicit overrides."""
        values: dict[str, Any] = {"device": os.environ.get("SHOPREC_DEVICE") or "cpu"}
        threads = os.environ.get("SHOPREC_THREADS") or None
        if threads is not None:
            if not threads.strip().isdigit():
                raise ConfigError(f"SHOPREC_THREADS must be a positive integer, got {threads!r}")
            values["threads"] = int(threads)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**coerce_fields(cls, values, what="option"))
