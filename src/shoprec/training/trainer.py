"""The one epoch loop every neural model trains with.

A model describes its training as a `TrainTask`:

    module      the `nn.Module` to train (built on CPU; the trainer moves it to the device)
    epoch_data  (epoch, seed) -> dict of tensors sharing their first dimension, one row per training
                example, e.g. {"users": (n,), "items": (n, 1+k)} with fresh negatives per epoch. Built
                vectorised from pre-computed arrays; `seed` is derived from (config seed, epoch), so an
                epoch's data is the same whether training ran straight through or resumed.
    loss        (module, batch) -> scalar tensor. Call `module(...)` exactly once per batch: under data
                parallel training `module` is the DDP wrapper and its forward is what synchronises gradients.
    validate    optional () -> {metric: value}, computed on validation data (never the test set) after an
                epoch with the module in eval mode and gradients off; drives early stopping on the metric
                `monitor` (`mode` "max" or "min"), and the best epoch's weights are restored at the end.
    examples_per_row  how many scored examples one row is (1 + negatives), for examples/s.

The trainer owns everything else: device placement, the optimizer (see `optim`), shuffled batches
(`batching`), early stopping with restoring the best weights, per-epoch checkpoints and resume
(`checkpoint`), the JSON-lines log and progress bar (`reporting`), and data parallelism (`distributed`).
CPU runs with the same seed and thread count repeat exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from shoprec.config import ModelConfig, TrainOptions
from shoprec.exceptions import ConfigError
from shoprec.runtime import thread_limit
from shoprec.training import distributed
from shoprec.training.batching import Batch, epoch_length, iterate_batches
from shoprec.training.checkpoint import has_checkpoint, load_checkpoint, save_checkpoint
from shoprec.training.early_stopping import EarlyStopping
from shoprec.training.optim import OptimizerGroup, build_optimizer
from shoprec.training.reporting import EpochRecord, append_record, progress_bar


@dataclass
class TrainerConfig:
    """Hyperparameters of the loop itself; models fill these from their own config."""

    epochs: int
    batch_size: int
    learning_rate: float
    optimizer: str = "adam"
    weight_decay: float = 0.0
    momentum: float = 0.0
    seed: int = 42
    patience: int | None = None
    #: Multiply the learning rate by this after every validated epoch that did not improve (1.0: never);
    #: 0.1 is FuxiCTR's reduce-on-plateau, which fine-tunes before early stopping ends the run.
    plateau_decay: float = 1.0

    @classmethod
    def from_model(cls, config: ModelConfig, **overrides: Any) -> TrainerConfig:
        """The loop settings a model config shares by name (epochs, batch_size, learning_rate, optimizer,
        momentum, seed, patience), then explicit overrides."""
        values = {f.name: getattr(config, f.name) for f in fields(cls) if hasattr(config, f.name)}
        return cls(**{**values, **overrides})

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 < self.plateau_decay <= 1.0:
            raise ConfigError(f"plateau_decay must be in (0, 1], got {self.plateau_decay}")


def check_choices(config: ModelConfig, **allowed: Collection[str]) -> None:
    """ConfigError naming `Config.field` when a field's value is not among its choices (e.g. loss=LOSSES)."""
    for name, choices in allowed.items():
        value = getattr(config, name)
        if value not in choices:
            raise ConfigError(f"{type(config).__name__}.{name} must be one of {sorted(choices)}, got {value!r}")


@dataclass
class TrainTask:
    """What a model supplies to the trainer (see the module docstring)."""

    module: nn.Module
    epoch_data: Callable[[int, int], Batch]
    loss: Callable[[nn.Module, Batch], torch.Tensor]
    validate: Callable[[], dict[str, float]] | None = None
    examples_per_row: int = 1
    monitor: str = "ndcg@10"
    mode: str = "max"


@dataclass
class TrainResult:
    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = -1
    best_value: float | None = None
    stopped_early: bool = False


def epoch_seed(seed: int, epoch: int) -> int:
    """A well-mixed 32-bit seed for one epoch, the same in a resumed run."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


class Trainer:
    """Runs a `TrainTask` for `config.epochs` epochs under the runtime `options`."""

    def __init__(self, config: TrainerConfig, options: TrainOptions | None = None) -> None:
        self.config = config
        self.options = options or TrainOptions()

    def fit(self, task: TrainTask) -> TrainResult:
        """Train `task.module` in place; on return it holds the best weights (when validated) in eval mode."""
        cfg, opts = self.config, self.options
        with thread_limit(opts.threads):
            ctx = distributed.setup(opts.device)
            module = task.module.to(ctx.device)
            model = distributed.wrap(module, ctx)
            optimizer = build_optimizer(
                module, cfg.optimizer, cfg.learning_rate, weight_decay=cfg.weight_decay, momentum=cfg.momentum
            )
            stopper = EarlyStopping(task.monitor, cfg.patience, task.mode)
            result, start = self._resume(module, optimizer, stopper)
            with progress_bar(opts.progress and ctx.is_main, total_steps=cfg.epochs, description="training") as bar:
                bar.advance(start)
                for epoch in range(start, cfg.epochs):
                    if stopper.should_stop:
                        result.stopped_early = True
                        break
                    record = self._epoch(epoch, task, model, optimizer, ctx)
                    record.metrics = self._validate(task, model, ctx)
                    record.improved = bool(record.metrics) and stopper.update(record.metrics, epoch, module)
                    if record.metrics and not record.improved and cfg.plateau_decay < 1.0:
                        for group in (g for opt in optimizer.optimizers for g in opt.param_groups):
                            group["lr"] *= cfg.plateau_decay
                    result.history.append(record)
                    if ctx.is_main:
                        append_record(opts.log_path, record)
                        self._checkpoint(module, optimizer, epoch, result, stopper)
                        if opts.on_epoch is not None:
                            opts.on_epoch(record)
                    bar.advance()
                    bar.epoch_done(record)
            stopper.restore_best(module)
            module.eval()
        result.best_epoch = stopper.best_epoch
        result.best_value = None if stopper.best_epoch < 0 else stopper.best
        result.stopped_early = result.stopped_early or (stopper.should_stop and len(result.history) < cfg.epochs)
        return result

    def _epoch(
        self, epoch: int, task: TrainTask, model: nn.Module, optimizer: OptimizerGroup, ctx: distributed.DistContext
    ) -> EpochRecord:
        """One pass over this epoch's data; loss and throughput are totals over all ranks."""
        seed = epoch_seed(self.config.seed, epoch)
        torch.manual_seed(seed)
        start = time.perf_counter()
        data = {k: v.to(ctx.device, non_blocking=True) for k, v in task.epoch_data(epoch, seed).items()}
        generator = torch.Generator().manual_seed(seed)
        model.train()
        total = torch.zeros((), device=ctx.device)
        steps = rows = 0
        for batch in iterate_batches(
            data, self.config.batch_size, generator=generator, rank=ctx.rank, world_size=ctx.world_size
        ):
            optimizer.zero_grad()
            loss = task.loss(model, batch)
            loss.backward()
            optimizer.step()
            total += loss.detach()
            steps += 1
            rows += epoch_length(batch)
        mean_loss = distributed.all_reduce_mean(total.item() / max(steps, 1), ctx)
        seconds = time.perf_counter() - start
        examples = rows * ctx.world_size * task.examples_per_row
        return EpochRecord(epoch, mean_loss, seconds=seconds, examples=examples, examples_per_s=examples / seconds)

    @staticmethod
    def _validate(task: TrainTask, model: nn.Module, ctx: distributed.DistContext) -> dict[str, float]:
        if task.validate is None:
            return {}
        model.eval()
        with torch.no_grad():
            metrics = {k: float(v) for k, v in task.validate().items()}
        return distributed.broadcast_metrics(metrics, sorted(metrics), ctx)

    def _resume(self, module: nn.Module, optimizer: OptimizerGroup, stopper: EarlyStopping) -> tuple[TrainResult, int]:
        """Continue from the last checkpoint when `options.resume` and one exists; else start fresh."""
        directory = self.options.checkpoint_dir
        if not (self.options.resume and has_checkpoint(directory)):
            return TrainResult(), 0
        saved = load_checkpoint(directory, module, optimizer)  # type: ignore[arg-type]
        stopper.load(saved.progress["early_stopping"], saved.best_state)
        history = [EpochRecord.from_dict(r) for r in saved.progress["history"]]
        return TrainResult(history=history), saved.epoch + 1

    def _checkpoint(
        self, module: nn.Module, optimizer: OptimizerGroup, epoch: int, result: TrainResult, stopper: EarlyStopping
    ) -> None:
        if self.options.checkpoint_dir is None:
            return
        progress = {
            "early_stopping": stopper.state(),
            "history": [r.to_dict() for r in result.history],
            "seed": self.config.seed,
            "rng": "every epoch reseeds torch and its data from epoch_seed(seed, epoch)",
        }
        save_checkpoint(
            self.options.checkpoint_dir,
            module,
            optimizer,
            epoch=epoch,
            progress=progress,
            best_state=stopper.best_state,
        )
