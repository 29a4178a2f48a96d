"""The generic training loop and its parts: losses, batching, optimizers, early stopping, checkpoints, DDP.

See `shoprec.training.trainer` for the contract between a model (`TrainTask`) and the `Trainer`.
"""

from shoprec.training.batching import Batch, batch_bounds, iterate_batches
from shoprec.training.candidates import candidate_epochs, candidate_objective, candidate_task
from shoprec.training.checkpoint import load_checkpoint, save_checkpoint
from shoprec.training.distributed import DistContext
from shoprec.training.early_stopping import EarlyStopping
from shoprec.training.losses import (
    CANDIDATE_LOSSES,
    bce_loss,
    bpr_loss,
    candidate_loss,
    full_softmax_loss,
    in_batch_softmax_loss,
    l2_penalty,
    mse_loss,
    sampled_softmax_loss,
)
from shoprec.training.optim import OPTIMIZERS, OptimizerGroup, build_optimizer
from shoprec.training.reporting import EpochRecord, read_log
from shoprec.training.trainer import Trainer, TrainerConfig, TrainResult, TrainTask, check_choices, epoch_seed
from shoprec.training.validation import ranking_validator, rating_validator

__all__ = [
    "CANDIDATE_LOSSES",
    "OPTIMIZERS",
    "Batch",
    "DistContext",
    "EarlyStopping",
    "EpochRecord",
    "OptimizerGroup",
    "TrainResult",
    "TrainTask",
    "Trainer",
    "TrainerConfig",
    "batch_bounds",
    "bce_loss",
    "bpr_loss",
    "build_optimizer",
    "candidate_epochs",
    "candidate_loss",
    "candidate_objective",
    "candidate_task",
    "check_choices",
    "epoch_seed",
    "full_softmax_loss",
    "in_batch_softmax_loss",
    "iterate_batches",
    "l2_penalty",
    "load_checkpoint",
    "mse_loss",
    "ranking_validator",
    "rating_validator",
    "read_log",
    "sampled_softmax_loss",
    "save_checkpoint",
]
