"""RecommendationService: the one object the HTTP app and the CLI serve through.

Concurrency: reads (recommend, similar, audience scoring) run concurrently from a thread pool and share a
read lock; writes (ingest, upsert_item, delete_user, swap) are serialised by a writer mutex and take the
read-write lock exclusively only for their short in-memory update, after the durable store write. A swap
loads the new pipeline fully (replaying the store) while reads continue on the old state, then replaces
the single state reference.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

import numpy as np

from shoprec.exceptions import NotFoundError
from shoprec.serving.campaigns import pick_audience
from shoprec.serving.catalog import ItemFilter
from shoprec.serving.explain import because, label, popular_reason
from shoprec.serving.pipeline import PipelineConfig
from shoprec.serving.ranking import ListSpec, check_request, cold_start, personal, request_steps
from shoprec.serving.results import AudienceRequest, RecommendationList, Recommended
from shoprec.serving.rwlock import ReadWriteLock
from shoprec.serving.state import ServingState, load_state
from shoprec.serving.store import Event, EventStore
from shoprec.serving.updates import apply_events, apply_item, forget_user, segment_of


class RecommendationService:
    """Recommendations, similar items, events, items, profiles, audiences and deletion over one pipeline."""

    def __init__(self, state: ServingState, store: EventStore) -> None:
        """Use `open`; this only stores the parts."""
        self._state, self._store = state, store
        self._lock = ReadWriteLock()
        self._writer = threading.Lock()

    @classmethod
    def open(cls, config: PipelineConfig) -> RecommendationService:
        """Verify every artifact (checksums), build the index and replay the store (ArtifactError if tampered)."""
        store = _open_store(config)
        try:
            return cls(load_state(config, store), store)
        except BaseException:
            store.close()
            raise

    @property
    def version(self) -> str:
        return self._state.version

    # ------------------------------------------------------------------ reads
    def recommend(
        self,
        user_id: str,
        n: int = 10,
        *,
        filters: ItemFilter | None = None,
        diversity: float | None = None,
        long_tail: float | None = None,
        context_category: str | None = None,
    ) -> RecommendationList:
        """Top-n for a user: personal from their live vector, else cold start (segment / context popularity).

        diversity in [0, 1] (MMR, 0 off) and long_tail (popularity penalty weight, 0 off) override the
        pipeline's steps of those kinds for this request; context_category steers cold start.
        """
        check_request(n, diversity, long_tail)
        with self._lock.read():
            state = self._state
            user = state.users.index(user_id)
            vector = state.live.vector(user) if user >= 0 else None
            spec = ListSpec(
                n=n,
                allowed=state.catalog.mask(filters),
                exclude=_exclusions(state, user),
                steps=request_steps(state.steps, diversity, long_tail),
            )
            if vector is not None:
                items, scores = personal(state, user, vector, spec)
                reasons = because(state.catalog, state.context.item_vectors, items, state.live.history(user))
                source = "personal"
            else:
                profile = self._store.profile(user_id)
                popular = state.coldstart.scores(profile, context_category)
                items, scores = cold_start(state, popular, spec)
                reasons = [popular_reason(segment_of(state, profile), context_category)] * len(items)
                source = "cold_start"
            listed = _listed(state, items, scores, reasons)
        return RecommendationList(user=user_id, source=source, items=listed, version=state.version)

    def similar(self, item_id: str, n: int = 10, *, filters: ItemFilter | None = None) -> list[Recommended]:
        """Items closest to `item_id` by inner product of item vectors (never the item itself)."""
        check_request(n, None, None)
        with self._lock.read():
            state = self._state
            item = state.item_index(item_id)
            allowed = state.catalog.mask(filters)
            items, scores = state.index.search(state.index.vectors([item]), n, allowed, [np.array([item])])
            keep = items[0] >= 0
            reason = f"similar to {label(state.catalog, item)}"
            return _listed(state, items[0][keep], scores[0][keep], [reason] * int(keep.sum()))

    def audience(self, request: AudienceRequest) -> list[tuple[str, float]]:
        """The users most likely to want the request's items or category, best first, after exclusions and
        the frequency cap; with a campaign, the picked users are recorded as sent (atomically with the pick)."""
        with self._writer, self._lock.read():
            return pick_audience(self._state, self._store, request)

    def health(self) -> dict[str, Any]:
        state = self._state
        return {"status": "ok", "version": state.version, "items": state.index.size, "users": len(state.users)}

    def stats(self) -> dict[str, Any]:
        """Numbers for metrics: index size and kind, users, stored events, seconds since the last event."""
        state = self._state
        counts = self._store.counts()
        lag = None if state.last_event is None else max(time.time() - state.last_event, 0.0)
        return {
            "version": state.version,
            "index_size": state.index.size,
            "index_kind": state.index.kind,
            "users": len(state.users),
            "events": counts["events"],
            "deleted_users": counts["deleted"],
            "event_lag_seconds": lag,
            **state.stats,
        }

    # ----------------------------------------------------------------- writes
    def ingest(self, events: list[Event]) -> list[int]:
        """Store events durably, then update the users' vectors and cold-start counts; returns the row ids.

        An unknown item raises NotFoundError and nothing of the batch is stored; new users are created.
        """
        if not events:
            return []
        with self._writer:
            state = self._state
            items = state.catalog.index_of([e.item for e in events])
            if (items < 0).any():
                position = int(np.flatnonzero(items < 0)[0])
                raise NotFoundError(f"events[{position}]: unknown item {events[position].item!r}")
            ids = self._store.append(events)  # durable before anything is served from it
            groups = group_by_user([e.user for e in events], items.tolist(), [e.event for e in events])
            segments = {user: segment_of(state, self._store.profile(user)) for user in groups}
            with self._lock.write():
                for user, (user_items, names) in groups.items():
                    apply_events(state, user, np.asarray(user_items, dtype=np.int64), names, segments[user])
                latest = max(time.time() if e.timestamp is None else e.timestamp for e in events)
                state.last_event = latest if state.last_event is None else max(state.last_event, latest)
        return ids

    def upsert_item(self, item_id: str, attributes: dict[str, Any]) -> tuple[int, bool]:
        """Create or update an item: validated by the catalog, stored, then searchable at once. (index, created)."""
        with self._writer:
            state = self._state
            with self._lock.write():
                index, created = apply_item(state, item_id, attributes)
            self._store.put_item(item_id, attributes)
        return index, created

    def put_profile(self, user_id: str, profile: dict[str, Any]) -> None:
        """Merge profile fields (e.g. segment) into the user's stored profile; cold start reads it."""
        with self._writer:
            self._store.put_profile(user_id, profile)

    def delete_user(self, user_id: str) -> dict[str, int]:
        """Remove a user's events, profile, campaign sends and served vector; says what was removed.

        Unknown user (never trained, no events, no profile): NotFoundError.
        """
        with self._writer:
            state = self._state
            user = state.users.index(user_id)
            if user < 0 and self._store.profile(user_id) is None and not self._store.history(user_id, limit=1):
                raise NotFoundError(f"unknown user {user_id!r}")
            removed = self._store.delete_user(user_id)
            had_vector = user >= 0 and state.live.vector(user) is not None
            if user >= 0:
                with self._lock.write():
                    forget_user(state, user)
        return {**removed, "vector": int(had_vector)}

    def swap(self, config: PipelineConfig) -> str:
        """Load `config` fully (verifying artifacts, replaying the store), then switch to it; returns its version.

        Reads continue on the old pipeline meanwhile; a broken artifact leaves the old one serving.
        """
        with self._writer:
            same_store = config.store.resolve() == self._store.path.resolve()
            store = self._store if same_store else _open_store(config)
            try:
                state = load_state(config, store)
            except BaseException:
                if not same_store:
                    store.close()
                raise
            with self._lock.write():
                old, self._state, self._store = self._store, state, store
            if not same_store:
                old.close()
        return state.version

    def close(self) -> None:
        """Close the event store; the service must not be used afterwards."""
        with self._writer, self._lock.write():
            self._store.close()

    def __enter__(self) -> RecommendationService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _exclusions(state: ServingState, user: int) -> np.ndarray:
    """Items never to show this user: their history and the new items they saw (exclude_seen) and their
    purchases (exclude_purchased); all held in memory (`exclusions`), so no store query per request."""
    if user < 0:
        return np.zeros(0, np.int64)
    parts = [np.zeros(0, np.int64)]
    if state.config.exclude_seen:
        parts += [state.live.history(user), state.seen_new_items.of(user)]
    if state.config.exclude_purchased:
        parts.append(state.purchased.of(user))
    return np.unique(np.concatenate(parts))


def _open_store(config: PipelineConfig) -> EventStore:
    return EventStore(config.store, allowed_events=config.event_weights)


def _listed(state: ServingState, items: np.ndarray, scores: np.ndarray, reasons: list[str]) -> list[Recommended]:
    titles = [state.catalog.title[i] or None for i in items.tolist()]
    return [
        Recommended(item=item, score=float(score), reason=reason, title=title)
        for item, score, reason, title in zip(state.item_ids(items), scores.tolist(), reasons, titles, strict=True)
    ]


def group_by_user(users: list[str], *columns: list[Any]) -> dict[str, list[list[Any]]]:
    """Rows of parallel columns grouped per user, order kept (one live update per user and batch)."""
    groups: dict[str, list[list[Any]]] = defaultdict(lambda: [[] for _ in columns])
    for row, user in enumerate(users):
        for target, column in zip(groups[user], columns, strict=True):
            target.append(column[row])
    return dict(groups)
