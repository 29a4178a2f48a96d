"""Training tasks built from interactions: candidate rows with sampled negatives, or explicit ratings.

A *candidate scorer* is an `nn.Module` whose forward takes users (b,) and items (b, c) and returns
`(scores (b, c), penalty)`: either the scalar `losses.l2_penalty` of the embedding rows it used, or the
tuple of those rows (e.g. (b, d) and (b, c, d)), which lets the objective skip the penalty when `reg` is 0.
MF, GMF, MLP and NeuMF are candidate scorers; any model that is one gets its training task here:

    implicit feedback: each training interaction is a row (user, [positive, k negatives]); negatives are
        drawn afresh every epoch by `shoprec.data.sampling.NegativeSampler`, excluding the user's positives.
    explicit ratings: each interaction is a row (user, [item]) with its rating, and the loss is MSE.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from shoprec.data.dataset import Dataset
from shoprec.data.sampling import NegativeSampler
from shoprec.models.base import Recommender
from shoprec.training.batching import Batch
from shoprec.training.losses import candidate_loss, l2_penalty, mse_loss
from shoprec.training.trainer import TrainTask
from shoprec.training.validation import ranking_validator, rating_validator


def candidate_epochs(train: Dataset, negatives: int) -> Callable[[int, int], Batch]:
    """epoch_data for the trainer: {"users": (n,), "items": (n, 1 + negatives)} with column 0 positive."""
    users = torch.from_numpy(train.interactions.users)
    positives = torch.from_numpy(train.interactions.items)[:, None]
    seen = train.to_csr(values="ones")

    def epoch_data(epoch: int, seed: int) -> Batch:
        # A sampler per epoch, seeded from (seed, epoch): a resumed run draws the very same negatives.
        sampled = NegativeSampler(seen, seed=seed).sample(users, negatives)
        return {"users": users, "items": torch.cat([positives, sampled], dim=1)}  # type: ignore[list-item]

    return epoch_data


def candidate_objective(loss: str, reg: float) -> Callable[[nn.Module, Batch], torch.Tensor]:
    """loss(module, batch) for candidate rows: the named candidate loss plus `reg` × the L2 penalty."""
    score_loss = candidate_loss(loss)

    def objective(module: nn.Module, batch: Batch) -> torch.Tensor:
        scores, penalty = module(batch["users"], batch["items"])
        return score_loss(scores) + reg * _penalty(penalty) if reg else score_loss(scores)

    return objective


def _penalty(value: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    """A scorer's penalty: given as a scalar, or as the embedding rows to penalise."""
    return l2_penalty(*value) if isinstance(value, tuple) else value


def rating_epochs(train: Dataset, offset: float) -> Callable[[int, int], Batch]:
    """epoch_data for explicit ratings: {"users", "items" (n, 1), "ratings" (n,) minus `offset`}."""
    inter = train.interactions
    batch = {
        "users": torch.from_numpy(inter.users),
        "items": torch.from_numpy(inter.items)[:, None],
        "ratings": torch.from_numpy(inter.ratings - np.float32(offset)),  # type: ignore[operator]
    }
    return lambda epoch, seed: batch


def rating_objective(reg: float) -> Callable[[nn.Module, Batch], torch.Tensor]:
    """loss(module, batch) for explicit ratings: MSE of the single candidate's score plus `reg` × penalty."""

    def objective(module: nn.Module, batch: Batch) -> torch.Tensor:
        scores, penalty = module(batch["users"], batch["items"])
        error = mse_loss(scores[:, 0], batch["ratings"])
        return error + reg * _penalty(penalty) if reg else error

    return objective


def candidate_task(
    model: Recommender,
    module: nn.Module,
    train: Dataset,
    valid: Dataset | None,
    *,
    loss: str,
    negatives: int,
    reg: float,
    offset: float = 0.0,
) -> TrainTask:
    """The TrainTask of a candidate scorer `module` fitted inside `model._fit`.

    `loss="mse"` trains on explicit ratings minus `offset` and validates RMSE; any candidate loss
    trains on sampled negatives and validates hr@10/ndcg@10 through `model.recommend`.
    """
    if loss == "mse":
        validate = None if valid is None else rating_validator(model, valid)
        return TrainTask(
            module, rating_epochs(train, offset), rating_objective(reg), validate, monitor="rmse", mode="min"
        )
    validate = None if valid is None else ranking_validator(model, valid)
    objective = candidate_objective(loss, reg)
    return TrainTask(module, candidate_epochs(train, negatives), objective, validate, examples_per_row=1 + negatives)
