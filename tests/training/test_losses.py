"""Losses against hand-computed values and independent formulations."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from shoprec.exceptions import ConfigError
from shoprec.training.losses import (
    bce_loss,
    bpr_loss,
    candidate_loss,
    full_softmax_loss,
    in_batch_softmax_loss,
    l2_penalty,
    mse_loss,
    sampled_softmax_loss,
)


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_bpr_hand_computed() -> None:
    # Row 1: one negative, margin 2 -> log(1 + e^-2). Row 2: two negatives, margins 0 and -1.
    scores = torch.tensor([[2.0, 0.0, 0.0], [1.0, 1.0, 2.0]])
    row1 = 2 * softplus(-2.0)
    row2 = softplus(0.0) + softplus(1.0)
    assert bpr_loss(scores).item() == pytest.approx((row1 + row2) / 2, rel=1e-6)


def test_bce_hand_computed() -> None:
    scores = torch.tensor([[1.0, -1.0, 0.0]])
    expected = softplus(-1.0) + softplus(-1.0) + softplus(0.0)
    assert bce_loss(scores).item() == pytest.approx(expected, rel=1e-6)


def test_sampled_softmax_matches_cross_entropy_and_log_q_shifts_logits() -> None:
    scores = torch.tensor([[3.0, 1.0, 0.0], [0.5, 0.5, 2.0]])
    row = [3.0 - math.log(math.exp(3) + math.exp(1) + 1), 0.5 - math.log(2 * math.exp(0.5) + math.exp(2))]
    assert sampled_softmax_loss(scores).item() == pytest.approx(-sum(row) / 2, rel=1e-6)
    # A constant log Q cancels; a per-candidate log Q equals subtracting it from the logits.
    assert sampled_softmax_loss(scores, torch.full((3,), -2.0)).item() == pytest.approx(
        sampled_softmax_loss(scores).item()
    )
    log_q = torch.tensor([-1.0, -3.0, -0.5])
    assert sampled_softmax_loss(scores, log_q).item() == pytest.approx(sampled_softmax_loss(scores - log_q).item())


def test_in_batch_softmax_diagonal_positives() -> None:
    queries = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    items = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    # logits = [[2, 0], [0, 1]]; row 0 positive 2, row 1 positive 1.
    expected = -((2 - math.log(math.exp(2) + 1)) + (1 - math.log(1 + math.e))) / 2
    assert in_batch_softmax_loss(queries, items).item() == pytest.approx(expected, rel=1e-6)
    # log Q correction subtracts log_q[j] from column j.
    log_q = torch.tensor([math.log(0.75), math.log(0.25)])
    shifted = torch.tensor([[2.0, 0.0], [0.0, 1.0]]) - log_q
    assert in_batch_softmax_loss(queries, items, log_q).item() == pytest.approx(
        full_softmax_loss(shifted, torch.tensor([0, 1])).item(), rel=1e-6
    )


def test_full_softmax_and_mse() -> None:
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0]])
    assert full_softmax_loss(logits, torch.tensor([2])).item() == pytest.approx(math.log(4))
    assert mse_loss(torch.tensor([1.0, 3.0]), torch.tensor([2.0, 1.0])).item() == pytest.approx(2.5)


def test_l2_penalty_is_sum_of_squares_per_row() -> None:
    users = torch.tensor([[1.0, 2.0], [0.0, 1.0]])  # 5 + 1
    items = torch.tensor([[[1.0, 1.0], [3.0, 0.0]], [[0.0, 0.0], [0.0, 2.0]]])  # 2 + 9 + 0 + 4
    assert l2_penalty(users, items).item() == pytest.approx((6 + 15) / 2)


def test_candidate_loss_lookup() -> None:
    assert candidate_loss("bpr") is bpr_loss
    with pytest.raises(ConfigError, match="loss must be one of"):
        candidate_loss("hinge")


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-5, 5), min_size=2, max_size=6),
    st.floats(0.1, 3.0),
)
def test_raising_the_positive_lowers_every_ranking_loss(row: list[float], bump: float) -> None:
    scores = torch.tensor([row], dtype=torch.float64)
    better = scores.clone()
    better[0, 0] += bump
    for loss in (bpr_loss, bce_loss, sampled_softmax_loss):
        assert loss(better).item() < loss(scores).item()
        assert loss(scores).item() > 0
