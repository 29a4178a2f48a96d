"""Live updates of a ServingState, shared by the service's writes and by the replay on open / swap.

Because a restart replays the store through exactly these functions, a restarted service serves what
the running one did: items created while serving, every live event (per user, in time order) and the
deletions (tombstones) that keep a removed user's trained vector from coming back.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from typing import Any

import numpy as np

from shoprec.data.features import FeatureTable, NumericColumn, categorical
from shoprec.exceptions import ShoprecError
from shoprec.models.two_tower import TwoTower
from shoprec.serving.events import PURCHASE
from shoprec.serving.quarantine import log_quarantined
from shoprec.serving.state import ServingState, rerank_context
from shoprec.serving.store import Change, EventStore

log = logging.getLogger("shoprec.serving")


def segment_of(state: ServingState, profile: dict[str, Any] | None) -> str | None:
    """The user's cold-start segment from their stored profile (None when absent)."""
    field = state.coldstart.segment_field
    if not profile or field is None or profile.get(field) is None:
        return None
    return str(profile[field])


def apply_events(state: ServingState, user: str, items: np.ndarray, events: list[str], segment: str | None) -> int:
    """Feed one user's events (item indices, oldest first) to the live vectors and the cold-start counts.

    Items created while serving are unknown to the model, so they move no vector (they are still stored,
    counted for cold start and excluded once seen or purchased). Returns the user's index (created when new).
    """
    index = state.users.add(user, state.live)
    known = items < state.live.n_items
    if known.any():
        state.live.observe(index, items[known], [e for e, k in zip(events, known.tolist(), strict=True) if k])
    state.seen_new_items.add(index, items[~known])
    state.purchased.add(index, items[np.array(events) == PURCHASE])
    state.coldstart.observe(items, segment)
    return index


def forget_user(state: ServingState, index: int) -> None:
    """Deletion in memory: the user's vector, history and exclusion records (the store deletes its rows)."""
    state.live.forget(index)
    state.purchased.forget(index)
    state.seen_new_items.forget(index)


def apply_item(state: ServingState, item: str, attributes: dict[str, Any]) -> tuple[int, bool]:
    """Create or update an item in the catalog and the index; a new item is searchable on return.

    Trained items keep their learned vector (attributes such as price or stock change, not taste);
    items created while serving are (re-)embedded from their attributes.
    """
    index, created = state.catalog.upsert(item, attributes)
    if index >= state.model.n_items_:
        state.index.upsert(np.array([index]), embed_item(state, index)[None, :])
    if created:
        state.coldstart.grow(state.catalog.n, state.catalog.category[index : index + 1])
    state.context = rerank_context(state.catalog, state.index, state.model.item_popularity_)
    return index, created


def embed_item(state: ServingState, index: int) -> np.ndarray:
    """(d,) vector of an item from its attributes: the two-tower item tower when the model has one,
    else the mean vector of the trained items in its category (all trained items when it has none)."""
    catalog, model = state.catalog, state.model
    if isinstance(model, TwoTower):
        return model.embed_items(_feature_row(state, index))[0]
    trained = catalog.category[: model.n_items_]
    code = catalog.category[index]
    peers = np.flatnonzero(trained == code) if code >= 0 else np.zeros(0, np.int64)
    vectors = state.index.vectors()[: model.n_items_]
    return (vectors[peers] if len(peers) else vectors).mean(axis=0)


def _feature_row(state: ServingState, index: int) -> FeatureTable:
    """A one-row feature table of an item's catalog attributes (matched to the model's fields by name)."""
    catalog = state.catalog
    columns: dict = {"price": NumericColumn(np.array([catalog.price[index]], dtype=np.float32))}
    for name, codes, names in (
        ("category", catalog.category, catalog.category_names),
        ("brand", catalog.brand, catalog.brand_names),
    ):
        code = int(codes[index])
        columns[name] = categorical(np.array([names[code] if code >= 0 else None], dtype=object))
    return FeatureTable(1, columns)


def replay(state: ServingState, store: EventStore) -> dict[str, int]:
    """Bring a freshly loaded state up to the store: deletions, then items, then each user's events.

    Stored data never stops a start: rows that cannot be replayed are quarantined first (`serving.quarantine`),
    and an item or a user whose replay still fails is quarantined as well, with one log line each."""
    moved = store.quarantine_unreplayable()
    log_quarantined(moved)
    quarantined = len(moved)
    deleted = 0
    for user in store.deleted_users():  # first: a user deleted and back again starts from the new events
        index = state.users.index(user)
        if index >= 0:
            forget_user(state, index)
            deleted += 1
    items = store.items()
    for item, attributes in items.items():
        try:
            apply_item(state, item, attributes)
        except (ShoprecError, ValueError, TypeError) as exc:
            quarantined += _quarantine(store, "items", "item", item, exc)
    users = store.users_with_events()
    events = 0
    for user, rows in store.histories(users).items():
        if not rows:  # not found again by its id (which the quarantine should have caught): leave it
            continue
        ids, names, _, stamps = zip(*rows, strict=True)
        try:
            events += _apply_user_events(state, store, user, list(ids), list(names))
        except (ShoprecError, ValueError, TypeError, KeyError) as exc:
            quarantined += _quarantine(store, "events", "user", user, exc)
            continue
        _saw(state, max(stamps))
    return {
        "replayed_events": events,
        "replayed_users": len(users),
        "replayed_items": len(items),
        "deleted": deleted,
        "quarantined": quarantined,
    }


def _quarantine(store: EventStore, source: str, column: str, key: str, exc: Exception) -> int:
    """Quarantine the rows of `source` whose `column` is `key` after their replay failed with `exc`."""
    reason = f"replay failed: {type(exc).__name__}: {exc}"
    count = store.quarantine(source, column, key, reason)
    log.warning(
        "quarantined %d %s rows of %s %r: %s; the service starts without them", count, source, column, key, reason
    )
    return count


def apply_changes(state: ServingState, store: EventStore, changes: list[Change]) -> None:
    """Apply store changes (`EventStore.changes_since`), in order, exactly as the writes that made them did:
    event batches (events deleted since are gone from the store and skipped), item updates, deletions."""
    for _, kind, key, data in changes:
        if kind == "events":
            first, last = json.loads(data)
            apply_event_rows(state, store, store.events_between(first, last))
        elif kind == "item":
            apply_item(state, key, json.loads(data))
        elif kind == "delete":
            index = state.users.index(key)
            if index >= 0:
                forget_user(state, index)


def apply_event_rows(state: ServingState, store: EventStore, rows: list[tuple[str, str, str, float]]) -> None:
    """(user, item, event, timestamp) rows in arrival order: one live update per user, their events in order."""
    groups: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for user, item, event, _ in rows:
        groups[user][0].append(item)
        groups[user][1].append(event)
    for user, (items, names) in groups.items():
        _apply_user_events(state, store, user, items, names)
    if rows:
        _saw(state, max(row[3] for row in rows))


def _apply_user_events(state: ServingState, store: EventStore, user: str, items: list[str], names: list[str]) -> int:
    """One user's stored events (item ids, event names, oldest first) into the state; returns how many applied."""
    indices = state.catalog.index_of(items)
    known = indices >= 0  # a swapped-in model may lack items of old events
    names = [name for name, k in zip(names, known.tolist(), strict=True) if k]
    apply_events(state, user, indices[known], names, segment_of(state, store.profile(user)))
    return int(known.sum())


def _saw(state: ServingState, timestamp: float) -> None:
    state.last_event = timestamp if state.last_event is None else max(state.last_event, timestamp)
