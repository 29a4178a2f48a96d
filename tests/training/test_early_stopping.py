"""EarlyStopping bookkeeping by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from shoprec.exceptions import ConfigError
from shoprec.training.early_stopping import EarlyStopping


def test_patience_min_delta_and_restore() -> None:
    layer = nn.Linear(1, 1)
    stop = EarlyStopping("ndcg", patience=2, min_delta=0.01)
    history = []
    for epoch, value in enumerate([0.2, 0.3, 0.305, math.nan, 0.5]):
        with torch.no_grad():
            layer.weight.fill_(epoch)
        history.append(stop.update({"ndcg": value}, epoch, layer))
        if stop.should_stop:
            break
    # 0.305 is within min_delta of 0.3 and NaN never improves: two bad epochs after epoch 1.
    assert history == [True, True, False, False]
    assert (stop.best, stop.best_epoch, stop.bad_epochs) == (0.3, 1, 2)
    assert stop.restore_best(layer) and layer.weight.item() == 1.0


def test_state_round_trip_and_validation() -> None:
    stop = EarlyStopping("rmse", mode="min")
    stop.update({"rmse": 1.0}, 0, nn.Linear(1, 1))
    stop.update({"rmse": 1.5}, 1, nn.Linear(1, 1))
    again = EarlyStopping("rmse", mode="min")
    again.load(stop.state(), None)
    assert again.state() == {"best": 1.0, "best_epoch": 0, "bad_epochs": 1}
    assert not again.should_stop  # patience None never stops
    assert not EarlyStopping("x").restore_best(nn.Linear(1, 1))
    with pytest.raises(ConfigError, match="mode"):
        EarlyStopping("x", mode="up")
    with pytest.raises(ConfigError, match="patience"):
        EarlyStopping("x", patience=0)
