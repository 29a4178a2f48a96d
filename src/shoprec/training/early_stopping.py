"""Early stopping on a validation metric, keeping a copy of the best weights to restore at the end."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from shoprec.exceptions import ConfigError


@dataclass
class EarlyStopping:
    """Tracks `metric` (higher is better unless `mode="min"`); stops after `patience` epochs without
    an improvement larger than `min_delta`. `patience=None` never stops but still remembers the best epoch.
    """

    metric: str
    patience: int | None = None
    mode: str = "max"
    min_delta: float = 0.0
    best: float = field(default=math.nan, init=False)
    best_epoch: int = field(default=-1, init=False)
    bad_epochs: int = field(default=0, init=False)
    best_state: dict[str, torch.Tensor] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in ("max", "min"):
            raise ConfigError(f"early stopping mode must be 'max' or 'min', got {self.mode!r}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"patience must be >= 1 or None, got {self.patience}")

    def improved(self, value: float) -> bool:
        """Whether `value` beats the best so far by more than `min_delta` (NaN never does)."""
        if math.isnan(value):
            return False
        if math.isnan(self.best):
            return True
        gain = value - self.best if self.mode == "max" else self.best - value
        return gain > self.min_delta

    def update(self, metrics: dict[str, float], epoch: int, module: nn.Module) -> bool:
        """Record an epoch's metrics; snapshot `module` when it is the best so far. Returns improved."""
        if self.metric not in metrics:
            raise ConfigError(
                f"early stopping metric {self.metric!r} not among the validation metrics {sorted(metrics)}"
            )
        value = float(metrics[self.metric])
        if self.improved(value):
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            self.best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.bad_epochs >= self.patience

    def restore_best(self, module: nn.Module) -> bool:
        """Load the best snapshot into `module`; False when there is none (no validation ran)."""
        if self.best_state is None:
            return False
        module.load_state_dict(self.best_state)
        return True

    def state(self) -> dict[str, Any]:
        """JSON-able progress (the best weights are saved separately as tensors)."""
        return {
            "best": None if math.isnan(self.best) else self.best,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
        }

    def load(self, state: dict[str, Any], best_state: dict[str, torch.Tensor] | None) -> None:
        self.best = math.nan if state["best"] is None else float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.bad_epochs = int(state["bad_epochs"])
        self.best_state = best_state
