"""The search space of `[tune.space]`: one dimension per model hyperparameter, validated before any training.

Each entry is either `{ choices = [...] }` (categorical) or `{ low = .., high = .., log = .., step = .. }`
(a range: integer when the config field is an int, else float). Names must be fields of the model's
config, and every choice and both ends of every range must make a valid config, so a bad space fails
in seconds instead of after hours of trials.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass
from typing import Any

from shoprec.config import ModelConfig
from shoprec.exceptions import ConfigError

RANGE_KEYS = frozenset({"low", "high", "log", "step"})


@dataclass(frozen=True)
class Dimension:
    """One searched hyperparameter: `choices` (categorical) or low/high with optional log scale or step."""

    name: str
    choices: tuple[Any, ...] | None = None
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    integer: bool = False

    def suggest(self, trial: Any) -> Any:
        """This dimension's value for an Optuna trial (list choices travel as JSON strings, which Optuna stores)."""
        if self.choices is not None:
            encoded = [_encode(c) for c in self.choices]
            return self.choices[encoded.index(trial.suggest_categorical(self.name, encoded))]
        if self.integer:
            step = int(self.step or 1)
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=step, log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def grid_values(self) -> list[Any]:
        """The values a grid search visits (categorical dimensions only)."""
        if self.choices is None:
            raise ConfigError(f"tune.space.{self.name}: the grid sampler needs `choices`, not a range")
        return [_encode(c) for c in self.choices]

    def endpoints(self) -> list[Any]:
        """The values to check against the config: every choice, or both ends of the range."""
        if self.choices is not None:
            return list(self.choices)
        return [int(self.low), int(self.high)] if self.integer else [self.low, self.high]


def _encode(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list | dict) else value


def parse_space(raw: Any, config_class: type[ModelConfig], base: dict[str, Any] | None = None) -> tuple[Dimension, ...]:
    """Dimensions of a `[tune.space]` table for `config_class`, each checked with `base` params (ConfigError)."""
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(
            "tune.space: expected a table with at least one parameter, e.g. reg = { low = 1e-4, high = 1 }"
        )
    allowed = sorted(f.name for f in dataclasses.fields(config_class))
    hints = typing.get_type_hints(config_class)
    dims = []
    for name, entry in raw.items():
        if name not in allowed:
            raise ConfigError(
                f"tune.space.{name}: not a parameter of {config_class.__name__}; allowed names: {allowed}"
            )
        dim = _dimension(name, entry, integer=_is_int(hints[name]))
        _check_values(dim, config_class, dict(base or {}))
        dims.append(dim)
    return tuple(dims)


def _is_int(hint: Any) -> bool:
    """int or `int | None` (e.g. patience), whose ranges are searched as integers."""
    return hint is int or tuple(a for a in typing.get_args(hint) if a is not type(None)) == (int,)


def _dimension(name: str, entry: Any, *, integer: bool) -> Dimension:
    key = f"tune.space.{name}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{key}: expected a table like {{ choices = [...] }} or {{ low = .., high = .. }}")
    if "choices" in entry:
        extra = sorted(set(entry) - {"choices"})
        if extra:
            raise ConfigError(f"{key}: `choices` cannot be combined with {extra}")
        choices = entry["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{key}.choices: expected a non-empty list, got {choices!r}")
        return Dimension(name, choices=tuple(choices))
    unknown = sorted(set(entry) - RANGE_KEYS)
    if unknown or not {"low", "high"} <= set(entry):
        raise ConfigError(
            f"{key}: expected `choices` or `low` and `high` (with optional log, step); got {sorted(entry)}"
        )
    low, high = (_number(f"{key}.{k}", entry[k], integer) for k in ("low", "high"))
    log, step = entry.get("log", False), entry.get("step")
    if not isinstance(log, bool):
        raise ConfigError(f"{key}.log: expected true or false, got {log!r}")
    if low >= high:
        raise ConfigError(f"{key}: low must be < high, got low={low}, high={high}")
    if log and low <= 0:
        raise ConfigError(f"{key}.low: must be > 0 on a log scale, got {low}")
    if step is not None:
        step = _number(f"{key}.step", step, integer)
        if log:
            raise ConfigError(f"{key}: `step` and `log = true` cannot be combined")
        if step <= 0 or step > high - low:
            raise ConfigError(f"{key}.step: must be > 0 and at most high - low = {high - low}, got {step}")
    return Dimension(name, low=low, high=high, log=log, step=step, integer=integer)


def _number(key: str, value: Any, integer: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if integer and value != int(value):
        raise ConfigError(f"{key}: the parameter is an integer, got {value!r}")
    return float(value)


def _check_values(dim: Dimension, config_class: type[ModelConfig], base: dict[str, Any]) -> None:
    """Every choice / both range ends must build a valid config together with the base params."""
    for value in dim.endpoints():
        try:
            config_class.from_dict({**base, dim.name: value})
        except ConfigError as exc:
            raise ConfigError(f"tune.space.{dim.name}: value {value!r} is invalid ({exc})") from None
