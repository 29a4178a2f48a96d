"""Cleaning transforms on a `Dataset`: k-core filtering, compaction, de-duplication, explicit -> implicit.

All of them are whole-array numpy operations (bincount, lexsort, reduceat), so they handle tens of
millions of events; none loops over users or interactions in Python.

Compaction: `k_core` returns a *compacted* data set (users and items left without interactions are
dropped and the rest re-indexed densely, features re-aligned with `FeatureTable.take`), because a
k-core is usually the final catalog a model is trained on and empty rows only waste embedding memory.
`deduplicate` and `to_implicit` keep the vocabularies as they are (call `compact` when wanted), so their
outputs stay index-compatible with the input.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal, get_args

import numpy as np

from shoprec.data.dataset import Dataset
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import ConfigError, DataError

DedupPolicy = Literal["last", "first", "sum", "max", "keep"]
DEDUP_POLICIES: tuple[str, ...] = get_args(DedupPolicy)


def compact(dataset: Dataset) -> Dataset:
    """Drop users and items without any interaction and re-index the rest densely (order preserved).

    Surviving entities keep their relative order, so index i < j before means new index i' < j' after.
    """
    keep_users = dataset.user_activity() > 0
    keep_items = dataset.item_popularity() > 0
    if keep_users.all() and keep_items.all():
        return dataset
    user_map = np.cumsum(keep_users) - 1
    item_map = np.cumsum(keep_items) - 1
    inter = dataset.interactions
    remapped = replace(inter, users=user_map[inter.users], items=item_map[inter.items])
    user_rows = np.flatnonzero(keep_users)
    item_rows = np.flatnonzero(keep_items)
    return dataset.with_interactions(
        remapped,
        users=Vocabulary(dataset.users.ids[user_rows]),
        items=Vocabulary(dataset.items.ids[item_rows]),
        user_features=None if dataset.user_features is None else dataset.user_features.take(user_rows),
        item_features=None if dataset.item_features is None else dataset.item_features.take(item_rows),
    )


def k_core(dataset: Dataset, user_k: int = 5, item_k: int = 5) -> Dataset:
    """Keep the largest subset where every user has >= user_k and every item >= item_k events; compacted.

    Counts are events, not distinct items (call `deduplicate` first for distinct counts). Removing a user
    can push an item below its threshold and vice versa, so filtering repeats until nothing changes.
    """
    for name, k in (("user_k", user_k), ("item_k", item_k)):
        if not isinstance(k, int | np.integer) or k < 0:
            raise ConfigError(f"k_core: {name} must be an integer >= 0, got {k!r}")
    inter = dataset.interactions
    rows = np.arange(len(inter))
    users, items = inter.users, inter.items
    while True:
        ok = (np.bincount(users, minlength=dataset.n_users)[users] >= user_k) & (
            np.bincount(items, minlength=dataset.n_items)[items] >= item_k
        )
        if ok.all():
            break
        rows, users, items = rows[ok], users[ok], items[ok]
    return compact(dataset.with_interactions(inter.take(rows)))


def deduplicate(dataset: Dataset, policy: DedupPolicy = "last") -> tuple[Dataset, int]:
    """Collapse repeated (user, item) events to one row; returns the data set and how many rows were removed.

    - "last" / "first": keep the latest / earliest event (by timestamp, ties and untimed data by row order).
    - "max": keep the event with the largest weight (e.g. a purchase over a view); ties go to the latest.
    - "sum": keep the latest event with its weight replaced by the group's total weight, the usual
      confidence for implicit-feedback models (iALS) over repeated views or purchases.
    - "keep": change nothing (returns 0).
    Kept rows stay in their original relative order; vocabularies are unchanged.
    """
    if policy not in DEDUP_POLICIES:
        raise ConfigError(f"deduplicate: policy must be one of {list(DEDUP_POLICIES)}, got {policy!r}")
    inter = dataset.interactions
    if policy == "keep" or len(inter) == 0:
        return dataset, 0
    pair = inter.users * np.int64(dataset.n_items) + inter.items
    row = np.arange(len(inter))
    time = inter.timestamps if inter.timestamps is not None else row
    # Sort by pair, then by the policy's preference, so the chosen row of each pair sits at its end.
    keys = (row, time, inter.weights, pair) if policy == "max" else (row, time, pair)
    order = np.lexsort(keys)
    sorted_pair = pair[order]
    starts = np.flatnonzero(np.r_[True, sorted_pair[1:] != sorted_pair[:-1]])
    ends = np.r_[starts[1:], len(order)] - 1
    chosen = order[starts] if policy == "first" else order[ends]
    removed = len(inter) - len(chosen)
    if removed == 0:
        return dataset, 0
    position = np.argsort(chosen, kind="stable")
    result = inter.take(chosen[position])
    if policy == "sum":
        totals = np.add.reduceat(inter.weights[order].astype(np.float64), starts)[position]
        result = replace(result, weights=totals.astype(np.float32))
    return dataset.with_interactions(result), removed


def to_implicit(dataset: Dataset, threshold: float = 4.0) -> Dataset:
    """Keep explicit ratings >= threshold as positive events of weight 1 (ratings kept for reference).

    The usual conversion of rating data (e.g. MovieLens 4-5 stars) into implicit feedback; low ratings
    are dropped rather than treated as negatives. Vocabularies are unchanged (call `compact` if wanted).
    """
    inter = dataset.interactions
    if inter.ratings is None:
        raise DataError(f"{dataset.name}: to_implicit needs explicit ratings, but the data set has none")
    kept = inter.take(inter.ratings >= threshold)
    return dataset.with_interactions(replace(kept, weights=np.ones(len(kept), dtype=np.float32)))
