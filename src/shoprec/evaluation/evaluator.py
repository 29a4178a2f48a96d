"""The public entry point: evaluate a fitted model on a split and gather every number the CLI reports.

`evaluate` picks the protocol (full ranking unless the split or caller says otherwise), adds
beyond-accuracy metrics over the recommended lists, 95% intervals (see `confidence`) and the segment
breakdown (see `segments`), and times each phase.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shoprec.data.dataset import Dataset, Split
from shoprec.evaluation.beyond import exposure_counts, head_items, list_level, per_user_beyond
from shoprec.evaluation.confidence import (
    N_BOOTSTRAP,
    bootstrap_interval,
    bootstrap_weights,
    finite_mean,
    normal_interval,
)
from shoprec.evaluation.labelled import mae, rmse
from shoprec.evaluation.protocols import RankingRun, full_ranking, rating_predictions, sampled_ranking
from shoprec.evaluation.segments import history_segments, popularity_segments
from shoprec.evaluation.vectors import resolve_item_vectors
from shoprec.exceptions import ConfigError, DataError
from shoprec.models.base import Recommender

DEFAULT_KS = (1, 5, 10, 20, 50, 100)
PROTOCOLS = ("full", "sampled", "ratings")


@dataclass
class EvaluationResult:
    """Metrics (`name@k` and `auc`), their 95% intervals, segment breakdown, and seconds per phase."""

    metrics: dict[str, float]
    ci: dict[str, tuple[float, float]]
    segments: dict[str, dict[str, float]]
    n_users: int
    protocol: str
    timings: dict[str, float]
    #: Share of the held-out events whose item has no training event (misses for every model); 0 after
    #: `drop_unseen_items`, which the split's method then names ("+drop_unseen").
    unseen_share: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; NaN (undefined metrics) becomes None since JSON has no NaN."""
        return _json_safe(dataclasses.asdict(self))


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    return value


def evaluate(
    model: Recommender,
    split: Split,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    on: str = "test",
    protocol: str | None = None,
    beyond_accuracy: bool = True,
    segments: bool = True,
    ci: bool = True,
    item_vectors: np.ndarray | str | None = None,
    n_negatives: int = 100,
    seed: int = 0,
    unseen_items: str = "miss",
) -> EvaluationResult:
    """Evaluate `model` on `split.test` (or `split.valid` with on="valid").

    protocol: "full" (rank the whole catalog), "sampled" (rank each held-out item among the split's
    negatives, or `n_negatives` drawn with `seed` when it has none), "ratings" (RMSE/MAE); None takes
    `split.protocol`, where a data set's own name (e.g. "ncf") with test negatives means sampled.
    Metrics are means over users where defined; `ci` adds 95% intervals (normal approximation over
    per-user values, bootstrap spread over users around the estimate for coverage and Gini); `segments` adds the
    breakdown by history length and head/tail items. item_vectors: for intra-list diversity, see
    `resolve_item_vectors`. seed: for drawn negatives and the bootstrap. unseen_items (full ranking):
    held-out items never seen in training stay relevant and count as misses ("miss", the default: no model
    is credited for an item it never learned, nor flattered by dropping them), or are ranked on the model's
    scores ("rank": for models that embed new items from their features).
    """
    start = time.perf_counter()
    ks = _check_ks(ks)
    protocol = protocol or split.protocol or "full"
    kind = _protocol_kind(protocol, split)
    if unseen_items not in ("miss", "rank"):
        raise ConfigError(f"unseen_items must be 'miss' or 'rank', got {unseen_items!r}")
    if on not in ("test", "valid"):
        raise ConfigError(f"on must be 'test' or 'valid', got {on!r}")
    target = split.test if on == "test" else split.valid
    if target is None or len(target) == 0:
        raise DataError(f"nothing to evaluate: the split has no {on} interactions")
    if kind == "ratings":
        return _ratings_result(model, target, ci, start)
    if kind == "sampled":
        negative_users, negatives = _negatives(split, on, n_negatives, seed)
        run = sampled_ranking(model, target, negative_users, negatives, ks)
    else:
        unseen = split.train.item_popularity() == 0 if unseen_items == "miss" else None
        run = full_ranking(model, target, ks, exclude=split.valid if on == "test" else None, unseen=unseen)
    per_user, timings = dict(run.per_user), dict(run.timings)
    list_metrics: dict[str, float] = {}
    list_intervals: dict[str, tuple[float, float]] = {}
    if beyond_accuracy and run.recs is not None:
        phase = time.perf_counter()
        vectors = resolve_item_vectors(model, split.train, item_vectors)
        per_user.update(per_user_beyond(run.recs, ks, split.train.item_popularity(), vectors))
        list_metrics, list_intervals = _list_level(run.recs, split.train.n_items, ks, ci, seed)
        timings["beyond"] = time.perf_counter() - phase
    metrics = {name: finite_mean(values) for name, values in per_user.items()} | list_metrics
    intervals = ({name: normal_interval(values) for name, values in per_user.items()} | list_intervals) if ci else {}
    breakdown = _segments(run, split, per_user, ks) if segments else {}
    timings["total"] = time.perf_counter() - start
    unseen = _unseen_share(split.train, target)
    return EvaluationResult(metrics, intervals, breakdown, len(run.users), protocol, timings, unseen)


def _unseen_share(train: Dataset, target: Dataset) -> float:
    """Share of `target`'s events whose item never occurs in `train`."""
    return float(np.mean(train.item_popularity()[target.interactions.items] == 0))


def _list_level(
    recs: np.ndarray, n_items: int, ks: list[int], ci: bool, seed: int
) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    """Coverage and Gini of the lists, with bootstrap intervals over users (around the estimate) when `ci`."""
    metrics = {name: float(value) for name, value in list_level(exposure_counts(recs, n_items, ks)).items()}
    if not ci:
        return metrics, {}
    counts = {k: np.zeros((N_BOOTSTRAP, n_items)) for k in ks}
    for users, weights in bootstrap_weights(len(recs), seed=seed):
        for k, chunk_counts in exposure_counts(recs[users], n_items, ks, weights).items():
            counts[k] += chunk_counts
    return metrics, {name: bootstrap_interval(metrics[name], values) for name, values in list_level(counts).items()}


def _protocol_kind(protocol: str, split: Split) -> str:
    """One of PROTOCOLS; a data set's own protocol name (e.g. "ncf") with given test negatives is sampled."""
    if protocol in PROTOCOLS:
        return protocol
    if split.test_negatives is not None:
        return "sampled"
    raise ConfigError(f"protocol must be one of {PROTOCOLS} (or the split's own with test negatives), got {protocol!r}")


def _check_ks(ks: Sequence[int]) -> list[int]:
    values = sorted({int(k) for k in ks})
    if not values or values[0] <= 0:
        raise ConfigError(f"ks must be positive integers, got {list(ks)}")
    return values


def _negatives(split: Split, on: str, n_negatives: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The split's own test negatives, else `n_negatives` per user drawn by `sample_eval_negatives`."""
    if on == "test" and split.test_negatives is not None:
        if split.test_negative_users is None:
            raise DataError("the split has test_negatives but no test_negative_users", column="test_negative_users")
        return split.test_negative_users, split.test_negatives
    from shoprec.data.sampling import sample_eval_negatives

    part = split if on == "test" else dataclasses.replace(split, test=split.valid, valid=None)
    sampled = sample_eval_negatives(part, n=n_negatives, seed=seed)
    return sampled.test_negative_users, sampled.test_negatives


def _segments(
    run: RankingRun, split: Split, per_user: dict[str, np.ndarray], ks: list[int]
) -> dict[str, dict[str, float]]:
    """User-history segments of the headline metrics at k = 10 (or the largest k), plus head/tail recall."""
    k = 10 if 10 in ks else ks[-1]
    names = [n for n in (f"hr@{k}", f"recall@{k}", f"ndcg@{k}", "auc") if n in per_user]
    out = history_segments(split.train.user_activity()[run.users], per_user, names)
    if run.hit_items is not None and run.relevant is not None:
        out.update(popularity_segments(run.hit_items, run.relevant, head_items(split.train.item_popularity()), k))
    return out


def _ratings_result(model: Recommender, target: Dataset, ci: bool, start: float) -> EvaluationResult:
    """RMSE / MAE with normal intervals (the RMSE one is the square root of the MSE interval)."""
    truth, predicted = rating_predictions(model, target)
    squared = (predicted - truth) ** 2
    low, high = normal_interval(squared)
    metrics = {"rmse": rmse(truth, predicted), "mae": mae(truth, predicted)}
    intervals = {"rmse": (math.sqrt(max(low, 0.0)), math.sqrt(high)), "mae": normal_interval(np.sqrt(squared))}
    intervals = intervals if ci else {}
    n_users = len(np.unique(target.interactions.users))
    return EvaluationResult(metrics, intervals, {}, n_users, "ratings", {"total": time.perf_counter() - start})
