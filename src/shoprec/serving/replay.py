"""Streaming evaluation: the measured value of real time.

A test period's events are replayed in time order. Before each event the user's top-k list is computed
three ways, and the event's item is looked up in each:

    static              the trained model as it was: training vectors, training exclusions, training
                        popularity for users it never saw;
    static+exclusions   the same vectors, but items the user consumed earlier in the replay are excluded
                        (what a service gets from an event log alone, without recomputing vectors);
    live                the live loop: the user's vector is recomputed after every event (`LiveUsers`:
                        fold-in / user tower / sequence encoder), new users become personal after their
                        first event, and cold-start popularity counts the replayed events.

Only events whose item is new to the user at that moment count as targets (a repeat can never be
recommended while seen items are excluded); every event is still fed to the live loop. Ties rank
pessimistically. The replay is sequential by nature — each event changes the state the next one sees — so
the loop runs once per event, with one (n_items,) dot product per variant and one encoder call, on one
thread (work this small only loses to thread start-up and contention).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from shoprec.data.dataset import Dataset
from shoprec.exceptions import ConfigError, DataError
from shoprec.models.base import VectorRecommender
from shoprec.runtime import thread_limit
from shoprec.serving.live import LiveUsers

VARIANTS = ("static", "static+exclusions", "live")


@dataclass
class ReplayResult:
    """Per-variant mean HR@k / NDCG@k / MRR over the target events, overall and for known vs new users."""

    k: int
    n_events: int
    n_targets: int
    n_users: int
    n_new_users: int
    metrics: dict[str, dict[str, float]]
    by_user_kind: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    targets_by_user_kind: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    observe_ms_median: float = float("nan")

    def to_dict(self) -> dict[str, object]:
        return {
            "k": self.k,
            "n_events": self.n_events,
            "n_targets": self.n_targets,
            "n_users": self.n_users,
            "n_new_users": self.n_new_users,
            "metrics": self.metrics,
            "by_user_kind": self.by_user_kind,
            "targets_by_user_kind": self.targets_by_user_kind,
            "seconds": round(self.seconds, 3),
            "observe_ms_median": round(self.observe_ms_median, 4),
        }


def _event_names(test: Dataset) -> list[str]:
    if test.interactions.events is None or not test.event_types:
        return ["interaction"] * len(test.interactions)
    return np.asarray(test.event_types, dtype=object)[test.interactions.events].tolist()


def _rank(scores: np.ndarray, excluded: np.ndarray, target: int) -> int:
    """0-based rank of `target` among items not excluded; ties count against it."""
    scores = scores.copy()
    scores[excluded] = -np.inf
    value = scores[target]
    return int((scores > value).sum() + (scores == value).sum() - 1)


def _summarise(ranks: np.ndarray, k: int) -> dict[str, float]:
    if len(ranks) == 0:
        return {f"hr@{k}": float("nan"), f"ndcg@{k}": float("nan"), "mrr": float("nan")}
    hit = ranks < k
    return {
        f"hr@{k}": float(hit.mean()),
        f"ndcg@{k}": float(np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0).mean()),
        "mrr": float((1.0 / (ranks + 1.0)).mean()),
    }


def replay(
    model: VectorRecommender,
    test: Dataset,
    *,
    k: int = 10,
    event_weights: Mapping[str, float] | None = None,
    max_events: int | None = None,
) -> ReplayResult:
    """Replay `test` (same vocabularies as the model's training data) through static and live scoring."""
    with thread_limit(1):
        if k <= 0:
            raise ConfigError(f"k must be > 0, got {k}")
        if (test.n_users, test.n_items) != (model.n_users_, model.n_items_):
            raise DataError(
                f"{test.name}: has {test.n_users} users and {test.n_items} items, "
                f"expected the model's {model.n_users_} and {model.n_items_} (use the same split)"
            )
        inter = test.interactions
        order = np.argsort(inter.timestamps, kind="stable") if inter.timestamps is not None else np.arange(len(inter))
        if max_events is not None:
            order = order[:max_events]
        names = _event_names(test)
        weights = dict(event_weights or {})
        for name in set(names) - weights.keys():
            weights[name] = 1.0
        live = LiveUsers(model, weights)
        item_vectors = np.ascontiguousarray(model.item_vectors(), dtype=np.float32)
        static_vectors = np.asarray(model.user_vectors(), dtype=np.float32)
        trained = np.diff(model.seen_.indptr) > 0
        train_popularity = np.log1p(model.item_popularity_.astype(np.float64))
        live_counts = model.item_popularity_.astype(np.float64).copy()
        seen_in_replay: dict[int, set[int]] = {}
        ranks: dict[str, list[int]] = {v: [] for v in VARIANTS}
        target_is_new_user: list[bool] = []
        observe_seconds: list[float] = []
        started = time.perf_counter()
        for position in order:
            user, item = int(inter.users[position]), int(inter.items[position])
            train_items = model.seen_.indices[model.seen_.indptr[user] : model.seen_.indptr[user + 1]]
            earlier = seen_in_replay.setdefault(user, set())
            if item not in earlier and item not in train_items:
                static = static_vectors[user] @ item_vectors.T if trained[user] else train_popularity
                both = np.concatenate([train_items, np.fromiter(earlier, dtype=np.int64, count=len(earlier))]).astype(
                    np.int64
                )
                ranks["static"].append(_rank(static, train_items, item))
                ranks["static+exclusions"].append(_rank(static, both, item))
                vector = live.vector(user)
                live_scores = item_vectors @ vector if vector is not None else np.log1p(live_counts)
                ranks["live"].append(_rank(live_scores, both, item))
                target_is_new_user.append(not trained[user])
            tick = time.perf_counter()
            live.observe(user, np.array([item]), [names[position]])
            observe_seconds.append(time.perf_counter() - tick)
            earlier.add(item)
            live_counts[item] += 1.0
        new_user = np.asarray(target_is_new_user, dtype=bool)
        arrays = {v: np.asarray(r, dtype=np.float64) for v, r in ranks.items()}
        replayed_users = np.unique(inter.users[order])
        return ReplayResult(
            k=k,
            n_events=len(order),
            n_targets=len(new_user),
            n_users=len(replayed_users),
            n_new_users=int((~trained[replayed_users]).sum()),
            metrics={v: _summarise(a, k) for v, a in arrays.items()},
            by_user_kind={
                kind: {v: _summarise(a[mask], k) for v, a in arrays.items()}
                for kind, mask in (("known", ~new_user), ("new", new_user))
            },
            targets_by_user_kind={"known": int((~new_user).sum()), "new": int(new_user.sum())},
            seconds=time.perf_counter() - started,
            observe_ms_median=float(np.median(observe_seconds) * 1000.0) if observe_seconds else float("nan"),
        )
