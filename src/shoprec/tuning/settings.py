"""The `[tune]` table of a tuning file: metric, budget, sampler, pruner, seed and the search space.

A tuning file is a `shoprec train` TOML plus `[tune]` and `[tune.space]`; `shoprec train` ignores the
extra tables, so the same file trains the experiment's default configuration.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from shoprec.exceptions import ConfigError
from shoprec.experiment import ExperimentSpec, read_toml
from shoprec.models.registry import get_model_class
from shoprec.tuning.space import Dimension, parse_space

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "none")
DIRECTIONS = ("maximize", "minimize")
#: Metrics where lower is better; everything else the evaluator reports (hr, ndcg, auc, ...) is maximised.
LOWER_IS_BETTER = frozenset({"rmse", "mae", "log_loss", "gini"})
_METRIC = re.compile(r"^[a-z_]+(@[1-9][0-9]*)?$")


@dataclass(frozen=True)
class TuneSettings:
    """What to optimise and how: validated by `from_dict`, so a search never starts on a bad setting."""

    space: tuple[Dimension, ...]
    metric: str = "ndcg@10"
    trials: int = 30
    timeout_minutes: float = 0.0
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int = 0
    direction: str = ""

    @classmethod
    def from_dict(cls, raw: dict[str, Any], spec: ExperimentSpec) -> TuneSettings:
        """Settings from a `[tune]` table for the spec's model; ConfigError names the offending key."""
        values = dict(raw)
        allowed = [f for f in cls.__dataclass_fields__ if f != "space"] + ["space"]
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ConfigError(f"tune: unknown setting(s) {unknown}; expected some of {allowed}")
        config_class = get_model_class(spec.model).config_class
        space = parse_space(values.pop("space", None), config_class, {"seed": spec.seed, **spec.params})
        settings = cls(space=space, **values)
        settings._check()
        if not settings.direction:
            name = settings.metric.split("@")[0]
            settings = replace(settings, direction="minimize" if name in LOWER_IS_BETTER else "maximize")
        return settings

    @property
    def k(self) -> int | None:
        """The cut-off of an `name@k` metric (None for e.g. auc or rmse)."""
        return int(self.metric.split("@")[1]) if "@" in self.metric else None

    @property
    def timeout_seconds(self) -> float | None:
        return self.timeout_minutes * 60.0 if self.timeout_minutes > 0 else None

    def _check(self) -> None:
        if not isinstance(self.metric, str) or not _METRIC.match(self.metric):
            raise ConfigError(f"tune.metric: expected a metric name like 'ndcg@10' or 'rmse', got {self.metric!r}")
        for key, value, low in (("trials", self.trials, 1), ("seed", self.seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"tune.{key}: expected an integer >= {low}, got {value!r}")
        timeout = self.timeout_minutes
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0 or math.isinf(timeout):
            raise ConfigError(f"tune.timeout_minutes: expected a number >= 0 (0 = no limit), got {timeout!r}")
        for key, value, choices in (("sampler", self.sampler, SAMPLERS), ("pruner", self.pruner, PRUNERS)):
            if value not in choices:
                raise ConfigError(f"tune.{key}: expected one of {list(choices)}, got {value!r}")
        if self.direction not in ("", *DIRECTIONS):
            raise ConfigError(f"tune.direction: expected one of {list(DIRECTIONS)}, got {self.direction!r}")
        if self.sampler == "grid":
            for dim in self.space:
                dim.grid_values()


def read_tune_file(path: str | Path, **overrides: Any) -> tuple[ExperimentSpec, TuneSettings]:
    """The experiment and the tuning settings of one TOML file; `overrides` (e.g. trials=5) replace `[tune]` keys."""
    raw = read_toml(path)
    spec = ExperimentSpec.from_toml(path)
    spec.validate()
    tune = raw.get("tune")
    if not isinstance(tune, dict):
        raise ConfigError(f"{path}: no [tune] table; add one with a metric and a [tune.space] (see docs/tuning.md)")
    tune.update({k: v for k, v in overrides.items() if v is not None})
    return spec, TuneSettings.from_dict(tune, spec)
