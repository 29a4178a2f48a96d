"""Marketing audiences over a ServingState: target vector, exclusions, frequency cap, recorded sends.

The scoring itself is `serving.audience` (chunked over all users); this module decides who may be picked:
never users without a vector (deleted, or no events), nor recent buyers of a target item, nor users
already sent `frequency_cap` campaigns in the window (counted across campaigns by the event store).
"""

from __future__ import annotations

import time

import numpy as np

from shoprec.exceptions import NotFoundError
from shoprec.serving.audience import audience, target_vector
from shoprec.serving.events import PURCHASE
from shoprec.serving.results import AudienceRequest
from shoprec.serving.state import ServingState
from shoprec.serving.store import EventStore

DAY = 86_400.0


def pick_audience(state: ServingState, store: EventStore, request: AudienceRequest) -> list[tuple[str, float]]:
    """(user id, score) best first; with a campaign the picked users are recorded as sent.

    Callers serialise calls, so that two campaigns never both pick a user just under the cap.
    """
    now = time.time()
    targets = target_items(state, request)
    excluded: set[str] = set()
    if request.exclude_purchased_days > 0:
        since = now - request.exclude_purchased_days * DAY
        excluded |= store.users_with_event(state.item_ids(targets), PURCHASE, since)
    if request.frequency_cap is not None:
        counts = store.send_counts(None, now - request.cap_window_days * DAY)
        excluded |= {user for user, sent in counts.items() if sent >= request.frequency_cap}
    blocked = state.users.indices(sorted(excluded))
    users, scores = audience(
        state.live.all_vectors(),
        target_vector(state.index.vectors(), targets),
        request.size,
        min_score=request.min_score,
        excluded=blocked[blocked >= 0],
    )
    ids = state.users.external(users)
    if request.campaign is not None and ids:
        store.record_sends(request.campaign, ids, now)
    return list(zip(ids, scores.tolist(), strict=True))


def target_items(state: ServingState, request: AudienceRequest) -> np.ndarray:
    """Item indices an audience targets: the request's items, or every item of its category."""
    if request.category is None:
        return np.array([state.item_index(item) for item in request.items], dtype=np.int64)
    names = state.catalog.category_names
    if request.category not in names:
        raise NotFoundError(f"unknown category {request.category!r}")
    items = np.flatnonzero(state.catalog.category == names.index(request.category))
    if len(items) == 0:
        raise NotFoundError(f"category {request.category!r} has no items")
    return items
