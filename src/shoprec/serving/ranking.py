"""Retrieval -> ranking -> re-ranking for one request, over a ServingState (no locking, no ids).

Personal lists search the index with the user's live vector; cold-start lists take the top of the
segment / context popularity. Both exclude the same items, honour the same filters and then run the
same re-rank steps (the pipeline's, with the request's diversity / long-tail knobs in place of theirs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from shoprec.exceptions import ConfigError
from shoprec.models.base import top_n
from shoprec.rerank import MMR, LongTailBoost, Reranker, RerankStep
from shoprec.serving.state import ServingState


def request_steps(steps: list[RerankStep], diversity: float | None, long_tail: float | None) -> list[RerankStep]:
    """The pipeline's steps with the request's knobs, each replacing a configured step of its kind (0: off).

    diversity in [0, 1] runs MMR with lambda = 1 - diversity (1: as different as possible from the items
    already listed); long_tail is the LongTailBoost weight. Score-changing steps run first, MMR last."""
    out = list(steps)
    if long_tail is not None:
        out = [s for s in out if not isinstance(s, LongTailBoost)]
        out = [LongTailBoost(long_tail), *out] if long_tail > 0 else out
    if diversity is not None:
        out = [s for s in out if not isinstance(s, MMR)]
        out = [*out, MMR(1.0 - diversity)] if diversity > 0 else out
    return out


@dataclass(frozen=True)
class ListSpec:
    """What one list must honour: its length `n`, the `allowed` items ((n_items,) bool, None: all), the
    item indices to `exclude`, and the re-rank `steps` (the pipeline's, with the request's knobs)."""

    n: int
    allowed: np.ndarray | None
    exclude: np.ndarray
    steps: list[RerankStep]


def candidate_count(state: ServingState, spec: ListSpec) -> int:
    """How many candidates retrieval returns: the ranker's `candidates`, n x overfetch before re-ranking, else n."""
    if state.ranker is not None:
        return max(state.config.candidates, spec.n)
    return spec.n * state.config.overfetch if spec.steps else spec.n


def personal(state: ServingState, user: int, vector: np.ndarray, spec: ListSpec) -> tuple[np.ndarray, np.ndarray]:
    """(items, scores), each (<= n,), for a user with a vector: index search, ranker, re-rank steps."""
    items, scores = state.index.search(vector[None, :], candidate_count(state, spec), spec.allowed, [spec.exclude])
    if state.ranker is not None:
        items, scores = _rank(state, user, items, scores)
    return finish(state, items, scores, spec)


def cold_start(
    state: ServingState, ranked: tuple[np.ndarray, np.ndarray], spec: ListSpec, all_scores: Callable[[], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """(items, scores) from a cold-start ranking (`ColdStart.ranked`: the best items, best first), with the same
    filters and exclusions; when those leave fewer than the list needs, from every item's score (`all_scores`)."""
    want = spec.n * state.config.overfetch if spec.steps else spec.n
    items, scores = ranked
    keep = np.ones(len(items), bool) if spec.allowed is None else spec.allowed[items]
    if len(spec.exclude):
        keep &= ~np.isin(items, spec.exclude)
    if np.count_nonzero(keep) >= want:
        return finish(state, items[keep][None, :want], scores[keep][None, :want], spec)
    masked = torch.from_numpy(np.array(all_scores(), dtype=np.float32)[None, :])
    if spec.allowed is not None:
        masked[0, torch.from_numpy(~spec.allowed)] = -torch.inf
    masked[0, torch.from_numpy(spec.exclude)] = -torch.inf
    items, top = top_n(masked, want)
    return finish(state, items, top, spec)


def finish(state: ServingState, items: np.ndarray, scores: np.ndarray, spec: ListSpec) -> tuple[np.ndarray, np.ndarray]:
    """Re-rank (1, k) candidates to n and drop the padding."""
    if spec.steps:
        items, scores = Reranker(spec.steps).apply(items, scores, state.context, spec.n)
    items, scores = items[0, : spec.n], scores[0, : spec.n]
    keep = items >= 0
    return items[keep], scores[keep]


def _rank(state: ServingState, user: int, items: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reorder (1, k) retrieval candidates by the ranker's scores. Items the ranker was not trained on
    (created while serving) keep their retrieval order below the ranked ones; users it never saw count as new."""
    ranker = state.ranker
    known = (items >= 0) & (items < ranker.n_items_)
    ranked = np.full(items.shape, -np.inf, dtype=np.float32)
    if known.any():
        who = np.array([user if user < ranker.n_users_ else -1])
        ranked[known] = ranker.rerank(who, items[known][None, :], scores[known][None, :])[0]
    new = (items >= 0) & ~known
    if new.any():
        floor = ranked[known].min() if known.any() else 0.0
        ranked[new] = floor - 1.0 - np.arange(new.sum(), dtype=np.float32)
    order = np.argsort(-ranked, axis=1, kind="stable")
    return np.take_along_axis(items, order, axis=1), np.take_along_axis(ranked, order, axis=1)


def check_request(n: int, diversity: float | None, long_tail: float | None) -> None:
    """ConfigError naming the parameter for out-of-range request knobs."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= 1000:
        raise ConfigError(f"n must be an integer in 1..1000, got {n!r}")
    if diversity is not None and not 0.0 <= diversity <= 1.0:
        raise ConfigError(f"diversity must be in [0, 1] (0 off, 1 most diverse), got {diversity!r}")
    if long_tail is not None and not 0.0 <= long_tail < float("inf"):
        raise ConfigError(f"long_tail (the long-tail boost weight) must be a finite number >= 0, got {long_tail!r}")
