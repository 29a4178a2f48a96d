"""The generic loop on a known-answer regression: convergence, repeatability, early stopping, logs, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from shoprec.config import TrainOptions
from shoprec.exceptions import ConfigError
from shoprec.training import Trainer, TrainerConfig, TrainTask, epoch_seed, read_log
from shoprec.training.batching import Batch


class Line(nn.Module):
    """y = w x + b with dropout on the input, so global RNG state matters for repeatability."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fit = nn.Linear(1, 1)
        self.drop = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fit(self.drop(x))


def line_task(module: Line, validate=None) -> TrainTask:
    x = torch.linspace(-1, 1, 64)[:, None]

    def epoch_data(epoch: int, seed: int) -> Batch:
        noise = torch.randn(64, 1, generator=torch.Generator().manual_seed(seed)) * 0.01
        return {"x": x, "y": 3 * x - 2 + noise}

    def loss(model: nn.Module, batch: Batch) -> torch.Tensor:
        return nn.functional.mse_loss(model(batch["x"]), batch["y"])

    return TrainTask(module, epoch_data, loss, validate=validate, monitor="score")


def config(**kw: object) -> TrainerConfig:
    return TrainerConfig(**{"epochs": 30, "batch_size": 16, "learning_rate": 0.05, "optimizer": "adam", **kw})  # type: ignore[arg-type]


def test_learns_the_known_line() -> None:
    module = Line()
    result = Trainer(config(epochs=60)).fit(line_task(module))
    # Dropout p on the input is ridge-like noise: E[(w x m / (1 - p) - y)^2] is minimised at w = 3 (1 - p).
    assert module.fit.weight.item() == pytest.approx(3.0 * 0.9, abs=0.1)
    assert module.fit.bias.item() == pytest.approx(-2.0, abs=0.1)
    losses = [r.loss for r in result.history]
    assert losses[-1] < 0.1 * losses[0]
    assert not module.training
    assert all(r.examples == 64 and r.examples_per_s > 0 for r in result.history)


def test_same_seed_same_weights_other_seed_differs() -> None:
    runs = []
    for seed in (1, 1, 2):
        module = Line()
        Trainer(config(epochs=3, seed=seed)).fit(line_task(module))
        runs.append(module.fit.weight.item())
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def scripted(values: list[float]):
    """A validation callback returning the given metric values in order."""
    it = iter(values)
    return lambda: {"score": next(it)}


def test_early_stopping_stops_after_patience_and_restores_best() -> None:
    module = Line()
    snapshots: list[float] = []

    def validate() -> dict[str, float]:
        snapshots.append(module.fit.weight.item())
        return {"score": [0.1, 0.5, 0.3, 0.2, 0.9][len(snapshots) - 1]}

    result = Trainer(config(epochs=5, patience=2)).fit(line_task(module, validate))
    assert [r.epoch for r in result.history] == [0, 1, 2, 3]  # epochs 2 and 3 did not improve on 0.5
    assert [r.improved for r in result.history] == [True, True, False, False]
    assert result.best_epoch == 1 and result.best_value == 0.5 and result.stopped_early
    assert module.fit.weight.item() == snapshots[1]


def test_min_mode_and_missing_metric() -> None:
    module = Line()
    task = line_task(module, scripted([3.0, 1.0, 2.0]))
    task.mode = "min"
    result = Trainer(config(epochs=3)).fit(task)
    assert result.best_epoch == 1 and result.best_value == 1.0
    bad = line_task(Line(), lambda: {"other": 1.0})
    with pytest.raises(ConfigError, match="'score' not among"):
        Trainer(config(epochs=1)).fit(bad)


def test_jsonl_log_has_one_record_per_epoch(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    Trainer(config(epochs=3), TrainOptions(log_path=str(log), progress=True)).fit(
        line_task(Line(), scripted([0.1, float("nan"), 0.3]))
    )
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [0, 1, 2]
    assert set(lines[0]) >= {"epoch", "loss", "metrics", "seconds", "examples", "examples_per_s"}
    assert lines[1]["metrics"]["score"] is None  # NaN written as null: strict JSON
    assert [r.epoch for r in read_log(log)] == [0, 1, 2]


def test_resume_continues_exactly_where_it_stopped(tmp_path: Path) -> None:
    straight = Line()
    Trainer(config(epochs=6)).fit(line_task(straight, scripted([1, 2, 3, 4, 5, 6])))

    ckpt = str(tmp_path / "ckpt")
    first = Line()
    Trainer(config(epochs=3), TrainOptions(checkpoint_dir=ckpt)).fit(line_task(first, scripted([1, 2, 3])))
    resumed = Line()  # fresh weights: everything must come from the checkpoint
    result = Trainer(config(epochs=6), TrainOptions(checkpoint_dir=ckpt, resume=True)).fit(
        line_task(resumed, scripted([4, 5, 6]))
    )
    assert [r.epoch for r in result.history] == [0, 1, 2, 3, 4, 5]
    assert torch.equal(resumed.fit.weight, straight.fit.weight)
    assert torch.equal(resumed.fit.bias, straight.fit.bias)
    assert result.best_epoch == 5


def test_epoch_seed_is_stable_and_distinct() -> None:
    assert epoch_seed(42, 3) == epoch_seed(42, 3)
    assert len({epoch_seed(42, e) for e in range(100)} | {epoch_seed(43, 0)}) == 101


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="epochs must be > 0"):
        TrainerConfig(epochs=0, batch_size=1, learning_rate=0.1)
