"""Run an Optuna study over a `TuneSettings` space and collect the result as plain data.

Optuna is an optional dependency (`shoprec[tune]`) imported only here, on first use. Seeds make the
sampler deterministic; with a storage URL (e.g. sqlite:///study.db) a study resumes where it stopped and
runs only the trials still missing to reach `settings.trials`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

from shoprec.config import TrainOptions
from shoprec.data.dataset import Split
from shoprec.exceptions import ConfigError
from shoprec.experiment import ExperimentSpec
from shoprec.tuning.objective import Objective, tuning_data
from shoprec.tuning.settings import TuneSettings


@dataclass(frozen=True)
class TrialRow:
    """One finished (or pruned, or failed) trial as written to trials.csv."""

    number: int
    params: dict[str, Any]
    value: float | None
    state: str
    seconds: float | None


@dataclass(frozen=True)
class TuneResult:
    """The best configuration as a ready-to-train spec, and every trial of the study."""

    spec: ExperimentSpec
    settings: TuneSettings
    best_value: float
    best_trial: int
    trials: tuple[TrialRow, ...]
    carved_validation: bool

    def top(self, n: int = 5) -> list[TrialRow]:
        """The `n` best completed trials, best first."""
        done = [t for t in self.trials if t.state == "COMPLETE" and t.value is not None and not math.isnan(t.value)]
        maximize = self.settings.direction == "maximize"
        return sorted(done, key=lambda t: t.value if t.value is not None else math.nan, reverse=maximize)[:n]


def import_optuna() -> ModuleType:
    """Optuna, or a ConfigError naming the extra that installs it."""
    try:
        import optuna
    except ModuleNotFoundError:
        raise ConfigError("shoprec tune needs Optuna: pip install 'shoprec[tune]'") from None
    return optuna


def _sampler(optuna: ModuleType, settings: TuneSettings) -> Any:
    if settings.sampler == "grid":
        grid = {dim.name: dim.grid_values() for dim in settings.space}
        return optuna.samplers.GridSampler(grid, seed=settings.seed)
    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=settings.seed)
    return optuna.samplers.TPESampler(seed=settings.seed)


def _pruner(optuna: ModuleType, settings: TuneSettings) -> Any:
    return optuna.pruners.MedianPruner() if settings.pruner == "median" else optuna.pruners.NopPruner()


def _row(trial: Any) -> TrialRow:
    seconds = trial.duration.total_seconds() if trial.duration is not None else None
    return TrialRow(trial.number, dict(trial.params), trial.value, trial.state.name, seconds)


def tune(
    spec: ExperimentSpec,
    split: Split,
    settings: TuneSettings,
    *,
    options: TrainOptions | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    on_trial: Callable[[TrialRow], None] | None = None,
) -> TuneResult:
    """Search `settings.space` for the spec's model on the split's validation part (never its test part)."""
    optuna = import_optuna()
    data = tuning_data(split, spec)
    study = optuna.create_study(
        storage=storage,
        sampler=_sampler(optuna, settings),
        pruner=_pruner(optuna, settings),
        study_name=study_name or f"shoprec-{spec.model}-{spec.data}",
        direction=settings.direction,
        load_if_exists=storage is not None,
    )
    objective = Objective(spec, data, settings, options or TrainOptions.from_env(), optuna.TrialPruned)
    finished = sum(t.state.is_finished() and t.state.name != "FAIL" for t in study.trials)
    callbacks = [lambda _study, trial: on_trial(_row(trial))] if on_trial else None
    remaining = settings.trials - finished
    if remaining > 0:
        study.optimize(objective, n_trials=remaining, timeout=settings.timeout_seconds, callbacks=callbacks)
    completed = [t for t in study.trials if t.state.name == "COMPLETE"]
    if not completed:
        raise ConfigError("tune: no trial completed (all pruned or failed); widen the space or raise tune.trials")
    best = study.best_trial
    best_params = {**spec.params, **{dim.name: dim.suggest(best) for dim in settings.space}}
    return TuneResult(
        spec=replace(spec, params=best_params),
        settings=settings,
        best_value=float(best.value),
        best_trial=best.number,
        trials=tuple(_row(t) for t in study.trials),
        carved_validation=data.carved,
    )
