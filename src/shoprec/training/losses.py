"""Training losses for recommenders, as pure functions of scores (logits) and targets.

Shapes follow one layout used by every model: a batch row is one user (or query) with `c` candidate
items, column 0 the positive and columns 1.. the sampled negatives, so `scores` is (b, c).
Every loss returns a scalar: the mean over batch rows, summed over a row's negatives, which is the
per-positive objective of Rendle et al. 2020 and of NCF with sampled negatives.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional

from shoprec.exceptions import ConfigError


def bpr_loss(scores: torch.Tensor) -> torch.Tensor:
    """Bayesian personalised ranking: -log σ(s_pos - s_neg), summed over negatives. scores (b, 1+k)."""
    return -functional.logsigmoid(scores[:, :1] - scores[:, 1:]).sum(dim=1).mean()


def bce_loss(scores: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with sampled negatives: positive labelled 1, negatives 0. scores (b, 1+k)."""
    return (functional.softplus(-scores[:, 0]) + functional.softplus(scores[:, 1:]).sum(dim=1)).mean()


def sampled_softmax_loss(scores: torch.Tensor, log_q: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over the positive and its sampled negatives, with the log-Q correction.

    scores (b, 1+k); log_q (b, 1+k) or (1+k,) log-probability with which each candidate was sampled.
    Subtracting log Q makes the sampled softmax an unbiased estimate of the full softmax (Bengio & Senécal
    2008; Yi et al. 2019), which matters when negatives are drawn by popularity.
    """
    logits = scores if log_q is None else scores - log_q
    return functional.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=logits.device))


def in_batch_softmax_loss(
    queries: torch.Tensor, items: torch.Tensor, log_q: torch.Tensor | None = None, temperature: float = 1.0
) -> torch.Tensor:
    """Softmax where the other rows' positives are the negatives (two-tower training).

    queries (b, d), items (b, d): row r's positive is items[r]; log_q (b,) log sampling probability of each
    item, i.e. its share of the batch positives (popular items appear more often as in-batch negatives).
    """
    logits = queries @ items.T / temperature
    if log_q is not None:
        logits = logits - log_q[None, :]
    return functional.cross_entropy(logits, torch.arange(len(logits), device=logits.device))


def full_softmax_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the whole catalog. logits (b, n_items), targets (b,) item indices."""
    return functional.cross_entropy(logits, targets)


def mse_loss(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Squared error of explicit ratings. predictions and targets (b,)."""
    return functional.mse_loss(predictions, targets)


#: Pairwise/pointwise losses over (b, 1+k) candidate scores, selectable by name in a model config.
CANDIDATE_LOSSES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "bpr": bpr_loss,
    "bce": bce_loss,
    "softmax": sampled_softmax_loss,
}


def candidate_loss(name: str, parameter: str = "loss") -> Callable[[torch.Tensor], torch.Tensor]:
    """The candidate loss called `name`; ConfigError naming `parameter` when unknown."""
    try:
        return CANDIDATE_LOSSES[name]
    except KeyError:
        raise ConfigError(f"{parameter} must be one of {sorted(CANDIDATE_LOSSES)}, got {name!r}") from None


def l2_penalty(*rows: torch.Tensor) -> torch.Tensor:
    """Mean over batch rows of the squared norms of the embedding rows a batch touched.

    Each tensor is (b, ..., d); the result is Σ‖row‖² / b. This is the lazy, row-wise form of L2
    regularisation (as in per-example SGD): only rows in the batch are pulled towards zero, which keeps
    sparse embedding updates sparse.
    """
    b = rows[0].shape[0]
    return sum(r.square().sum() for r in rows) / b  # type: ignore[return-value]
