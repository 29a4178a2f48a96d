"""Typed, JSON round-tripping configs shared by every model, and runtime options that are not hyperparameters.

Hyperparameter names are shared across models: `embedding_size`, `epochs`, `learning_rate`, `reg`,
`batch_size`, `seed`. Runtime settings (device, threads, progress) live in `TrainOptions`.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shoprec.exceptions import ConfigError

C = TypeVar("C", bound="ModelConfig")


@dataclass
class ModelConfig:
    """Base class of every model's config. Subclasses are plain dataclasses with defaults."""

    seed: int = 42

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any] | None) -> C:
        """Build from a dict (e.g. JSON or TOML), rejecting unknown keys and coercing simple types."""
        data = dict(data or {})
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown parameter(s) {unknown}; expected some of {sorted(fields)}")
        hints = typing.get_type_hints(cls)
        kwargs = {k: _coerce(cls.__name__, k, v, hints[k]) for k, v in data.items()}
        try:
            config = cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{cls.__name__}: {exc}") from exc
        config.validate()
        return config

    def validate(self) -> None:
        """Check value ranges; subclasses extend. Raises ConfigError naming the field."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            positive = ("embedding_size", "epochs", "batch_size", "factors", "iterations", "neighbors")
            if f.name in positive and isinstance(value, int) and value <= 0:
                raise ConfigError(f"{type(self).__name__}.{f.name} must be > 0, got {value}")
            if f.name in ("reg", "learning_rate", "alpha") and isinstance(value, int | float) and value < 0:
                raise ConfigError(f"{type(self).__name__}.{f.name} must be >= 0, got {value}")


def _coerce(owner: str, name: str, value: Any, hint: Any) -> Any:
    base = hint
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        base = args[0] if len(args) == 1 else None
    origin = typing.get_origin(base) or base
    try:
        if origin is bool and not isinstance(value, bool):
            if str(value).lower() in ("true", "1", "yes"):
                return True
            if str(value).lower() in ("false", "0", "no"):
                return False
            raise ValueError(value)
        if origin is int and not isinstance(value, bool):
            as_float = float(value)
            if as_float != int(as_float):
                raise ValueError(value)
            return int(as_float)
        if origin is float:
            return float(value)
        if origin in (tuple, list) and isinstance(value, list | tuple):
            item_type = (typing.get_args(base) or (Any,))[0]
            items = [_coerce(owner, name, v, item_type) if item_type is not Any else v for v in value]
            return origin(items)
        if origin is str:
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{owner}.{name}: expected {getattr(base, '__name__', base)}, got {value!r}") from None
    return value


@dataclass
class TrainOptions:
    """Runtime settings for `fit`: not hyperparameters, so they never change what a model learns on CPU."""

    device: str = "cpu"
    threads: int | None = None
    progress: bool = False
    log_path: str | None = None
    checkpoint_dir: str | None = None
    resume: bool = False
    #: Called with each epoch's `EpochRecord` (loss, validation metrics) on the main process, e.g. so that a
    #: hyperparameter search can prune a poor trial; an exception it raises ends training.
    on_epoch: Callable[[Any], None] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_env(cls, **overrides: Any) -> TrainOptions:
        """Defaults from SHOPREC_DEVICE / SHOPREC_THREADS, then explicit overrides."""
        opts = cls(
            device=os.environ.get("SHOPREC_DEVICE", "cpu"),
            threads=int(os.environ["SHOPREC_THREADS"]) if os.environ.get("SHOPREC_THREADS") else None,
        )
        return dataclasses.replace(opts, **{k: v for k, v in overrides.items() if v is not None})
