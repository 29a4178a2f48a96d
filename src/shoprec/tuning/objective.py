"""One trial: train on the train part, score on the validation part — the test part never reaches a trial.

`tuning_data` drops the test part of the split before any trial runs, so no code path of the search can
train or score on it. A split without a validation part gets one carved out of train the way the
evaluation holds out test (per user, the last event in time, or a seeded random one without timestamps).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shoprec.config import TrainOptions
from shoprec.data.dataset import Dataset, Split
from shoprec.data.split import drop_unseen_items, leave_one_out
from shoprec.evaluation import RANKING_METRICS, evaluate
from shoprec.exceptions import ConfigError, DataError
from shoprec.experiment import ExperimentSpec
from shoprec.models.registry import create_model
from shoprec.training import EpochRecord
from shoprec.tuning.settings import TuneSettings

#: Metrics computed without the beyond-accuracy pass (which costs time and is only needed to tune on it).
ACCURACY_METRICS = frozenset({*RANKING_METRICS, "auc", "rmse", "mae"})


@dataclass(frozen=True)
class TuningData:
    """What trials may see. `protocol` is how validation ranks ("full" or "sampled" with `n_negatives`)."""

    train: Dataset
    valid: Dataset
    protocol: str
    n_negatives: int
    carved: bool

    def as_split(self) -> Split:
        """The validation part as the evaluator's target; there is no test part to fall back on."""
        return Split(train=self.train, test=self.valid, valid=None, protocol=self.protocol, method="tuning")


def tuning_data(split: Split, spec: ExperimentSpec) -> TuningData:
    """Train and validation of `split` (test dropped); carves validation out of train when the split has none."""
    sampled = split.test_negatives is not None or split.protocol == "sampled"
    protocol = "sampled" if sampled else split.protocol
    n_negatives = split.test_negatives.shape[1] if split.test_negatives is not None else 99
    n_negatives = int(spec.split_options.get("negatives", n_negatives))
    if split.valid is not None and len(split.valid) > 0:
        return TuningData(split.train, split.valid, protocol, n_negatives, carved=False)
    by = "time" if split.train.has_timestamps else "random"
    inner = drop_unseen_items(leave_one_out(split.train, valid=False, by=by, seed=spec.seed))
    if len(inner.test) == 0:
        raise DataError(f"{spec.data}: no user has 2+ training events, so no validation part can be carved out")
    warnings.warn(
        f"{spec.data}: the split has no validation part; tuning validates on each user's last training event "
        f"(by {by}, {len(inner.test):,} events) and trains on the rest",
        stacklevel=2,
    )
    return TuningData(inner.train, inner.test, protocol, n_negatives, carved=True)


def pruning_hook(trial: Any, metric: str, pruned: type[Exception]) -> Callable[[EpochRecord], None]:
    """A `TrainOptions.on_epoch` callback: report the epoch's validation `metric` and stop a trial the pruner drops."""

    def report(record: EpochRecord) -> None:
        value = record.metrics.get(metric)
        if value is None or math.isnan(value):
            return
        trial.report(value, record.epoch)
        if trial.should_prune():
            raise pruned(f"pruned at epoch {record.epoch} with {metric}={value:.4f}")

    return report


class Objective:
    """Callable for `study.optimize`: the validation `settings.metric` of the spec's model with a trial's params."""

    def __init__(
        self,
        spec: ExperimentSpec,
        data: TuningData,
        settings: TuneSettings,
        options: TrainOptions,
        pruned: type[Exception],
    ) -> None:
        self.spec, self.data, self.settings, self.options, self.pruned = spec, data, settings, options, pruned

    def params(self, trial: Any) -> dict[str, Any]:
        """The spec's own params overridden by this trial's draw from the space."""
        return {**self.spec.params, **{dim.name: dim.suggest(trial) for dim in self.settings.space}}

    def __call__(self, trial: Any) -> float:
        metric = self.settings.metric
        model = create_model(self.spec.model, **{"seed": self.spec.seed, **self.params(trial)})
        hook = pruning_hook(trial, metric, self.pruned) if self.settings.pruner != "none" else None
        options = dataclasses.replace(self.options, on_epoch=hook)
        model.fit(self.data.train, valid=self.data.valid, options=options)
        result = evaluate(
            model,
            self.data.as_split(),
            ks=(self.settings.k,) if self.settings.k else self.spec.ks,
            protocol=self.data.protocol,
            n_negatives=self.data.n_negatives,
            seed=self.spec.seed,
            beyond_accuracy=metric.split("@")[0] not in ACCURACY_METRICS,
            segments=False,
            ci=False,
        )
        if metric not in result.metrics:
            raise ConfigError(
                f"tune.metric: {metric!r} is not reported on this protocol ({self.data.protocol}); "
                f"choose one of {sorted(result.metrics)}"
            )
        return float(result.metrics[metric])
