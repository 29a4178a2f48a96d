"""RecommendationService: the one object the HTTP app and the CLI serve through.

Concurrency: reads (recommend, similar, audience scoring) run concurrently and share a read lock; writes
(ingest, upsert_item, delete_user, swap) are serialised by a writer mutex and take the read-write lock
exclusively only for their short in-memory update, after the durable store write. A swap loads the new
pipeline fully (replaying the store) while reads continue on the old state, then replaces the single state
reference.

Every in-memory change follows the store's change log: a write commits (events, item, deletion, each with a
change-log entry), publishes the log's end (`WorkerSync`) and then applies the log up to there. Several worker
processes over one store thus apply the same changes in the same order; a read first applies what other
workers wrote, so a client reads its own writes whichever worker answers.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from shoprec.exceptions import ConfigError, NotFoundError
from shoprec.serving.campaigns import pick_audience
from shoprec.serving.catalog import ItemFilter, check_attributes
from shoprec.serving.explain import because, label, popular_reason
from shoprec.serving.pipeline import PipelineConfig
from shoprec.serving.ranking import ListSpec, check_request, cold_start, personal, request_steps
from shoprec.serving.results import AudienceRequest, RecommendationList, Recommended
from shoprec.serving.rwlock import ReadWriteLock
from shoprec.serving.state import ServingState, load_state
from shoprec.serving.store import Event, EventStore
from shoprec.serving.sync import WorkerSync
from shoprec.serving.updates import apply_changes, segment_of


class RecommendationService:
    """Recommendations, similar items, events, items, profiles, audiences and deletion over one pipeline."""

    def __init__(self, state: ServingState, store: EventStore, sync: WorkerSync) -> None:
        """Use `open`; this only stores the parts."""
        self._state, self._store, self._sync = state, store, sync
        self._lock = ReadWriteLock()
        self._writer = threading.Lock()
        sync.publish(state.applied_change)

    @classmethod
    def open(cls, config: PipelineConfig, *, processes: int = 1) -> RecommendationService:
        """Verify every artifact (checksums), build the index and replay the store (ArtifactError if tampered).

        `processes` > 1: the service will be forked into that many worker processes (`serving.workers`)."""
        store = _open_store(config)
        try:
            return cls(load_state(config, store), store, WorkerSync(processes))
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
        self._catch_up()
        with self._lock.read():
            state = self._state
            user = state.users.index(user_id)
            vector = state.live.vector(user) if user >= 0 else None
            history = state.live.history(user) if user >= 0 else np.zeros(0, np.int64)
            spec = ListSpec(
                n=n,
                allowed=state.catalog.mask(filters),
                exclude=_exclusions(state, user, history),
                steps=request_steps(state.steps, diversity, long_tail),
            )
            if vector is not None:
                items, scores = personal(state, user, vector, spec)
                reasons = because(state.catalog, state.context.item_vectors, items, history)
                source = "personal"
            else:
                profile = self._store.profile(user_id)
                coldstart = state.coldstart
                ranked = coldstart.ranked(profile, context_category)
                items, scores = cold_start(state, ranked, spec, lambda: coldstart.scores(profile, context_category))
                reasons = [popular_reason(segment_of(state, profile), context_category)] * len(items)
                source = "cold_start"
            listed = _listed(state, items, scores, reasons)
        return RecommendationList(user=user_id, source=source, items=listed, version=state.version)

    def similar(self, item_id: str, n: int = 10, *, filters: ItemFilter | None = None) -> list[Recommended]:
        """Items closest to `item_id` by inner product of item vectors (never the item itself)."""
        check_request(n, None, None)
        self._catch_up()
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
        with self._sync.campaigns(), self._writer:
            self._apply_changes()
            with self._lock.read():
                return pick_audience(self._state, self._store, request)

    def health(self) -> dict[str, Any]:
        self._catch_up()
        state = self._state
        return {"status": "ok", "version": state.version, "items": state.index.size, "users": len(state.users)}

    def stats(self) -> dict[str, Any]:
        """Numbers for metrics: index size and kind, users, stored events, seconds since the last event."""
        self._catch_up()
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
            self._apply_changes()  # items other workers created are known before checking
            items = self._state.catalog.index_of([e.item for e in events])
            if (items < 0).any():
                position = int(np.flatnonzero(items < 0)[0])
                raise NotFoundError(f"events[{position}]: unknown item {events[position].item!r}")
            ids = self._store.append(events)  # durable before anything is served from it
            self._apply_changes(published=True)
        return ids

    def upsert_item(self, item_id: str, attributes: dict[str, Any]) -> tuple[int, bool]:
        """Create or update an item: validated by the catalog, stored, then searchable at once. (index, created)."""
        with self._writer:
            self._apply_changes()
            check_attributes(item_id, attributes)  # a rejected update stores nothing
            created = self._state.catalog.index_of([item_id])[0] < 0
            self._store.put_item(item_id, attributes)
            self._apply_changes(published=True)
            return int(self._state.catalog.index_of([item_id])[0]), bool(created)

    def put_profile(self, user_id: str, profile: dict[str, Any]) -> None:
        """Merge profile fields (e.g. segment) into the user's stored profile; cold start reads it."""
        with self._writer:
            self._store.put_profile(user_id, profile)

    def delete_user(self, user_id: str) -> dict[str, int]:
        """Remove a user's events, profile, campaign sends and served vector; says what was removed.

        Unknown user (never trained, no events, no profile): NotFoundError.
        """
        with self._writer:
            self._apply_changes()
            state = self._state
            user = state.users.index(user_id)
            if user < 0 and self._store.profile(user_id) is None and not self._store.history(user_id, limit=1):
                raise NotFoundError(f"unknown user {user_id!r}")
            had_vector = user >= 0 and state.live.vector(user) is not None
            removed = self._store.delete_user(user_id)
            self._apply_changes(published=True)
        return {**removed, "vector": int(had_vector)}

    def swap(self, config: PipelineConfig) -> str:
        """Load `config` fully (verifying artifacts, replaying the store), then switch to it; returns its version.

        Reads continue on the old pipeline meanwhile; a broken artifact leaves the old one serving, and an event
        store the refused swap created is removed again (a refused swap leaves nothing on disk).
        """
        if self._sync.processes > 1:
            raise ConfigError(
                f"swap: this server runs {self._sync.processes} worker processes, and a swap would reach only "
                "one; restart it with the new pipeline (or serve with --workers 1 to swap live)"
            )
        with self._writer:
            same_store = config.store.resolve() == self._store.path.resolve()
            created = not same_store and not config.store.exists()
            try:
                store = self._store if same_store else _open_store(config)
                try:
                    state = load_state(config, store)
                except BaseException:
                    if not same_store:
                        store.close()
                    raise
            except BaseException:
                if created:
                    _remove_store(config.store)
                raise
            with self._lock.write():
                old, self._state, self._store = self._store, state, store
            if not same_store:
                old.close()
        return state.version

    # ------------------------------------------------------- the change log
    def _catch_up(self) -> None:
        """Before a read: apply what other workers wrote, when the published log end is past this state's."""
        if self._sync.latest > self._state.applied_change:
            with self._writer:
                self._apply_changes()

    def _apply_changes(self, *, published: bool = False) -> None:
        """Apply the store's changes this state has not applied yet, in order (the caller holds the writer
        lock). `published`: after a write of ours, first publish the log's new end to the other workers."""
        if published:
            self._sync.publish(self._store.latest_change())
        state = self._state
        changes = self._store.changes_since(state.applied_change)
        if changes:
            with self._lock.write():
                apply_changes(state, self._store, changes)
                state.applied_change = changes[-1][0]

    def release_store(self) -> None:
        """Close the store's connections (before forking workers: SQLite connections must not cross a fork)."""
        self._store.close()

    def reopen_store(self) -> None:
        """A fresh store connection pool for this process (a forked worker, after `release_store`)."""
        self._store = _open_store(self._state.config)

    def close(self) -> None:
        """Close the event store; the service must not be used afterwards."""
        with self._writer, self._lock.write():
            self._store.close()

    def __enter__(self) -> RecommendationService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _exclusions(state: ServingState, user: int, history: np.ndarray) -> np.ndarray:
    """Items never to show this user: their `history` and the new items they saw (exclude_seen) and their
    purchases (exclude_purchased); all held in memory (`exclusions`), so no store query per request."""
    if user < 0:
        return history
    parts = []
    if state.config.exclude_seen:
        parts += [history, state.seen_new_items.of(user)]
    if state.config.exclude_purchased:
        parts.append(state.purchased.of(user))
    parts = [part for part in parts if len(part)]
    if len(parts) <= 1:  # most requests: one list, kept as it is (repeats are harmless to the search)
        return parts[0] if parts else np.zeros(0, np.int64)
    return np.unique(np.concatenate(parts))


def _open_store(config: PipelineConfig) -> EventStore:
    return EventStore(config.store, allowed_events=config.event_weights)


def _remove_store(path: Path) -> None:
    """Delete an event store file (and SQLite's WAL / shared-memory / journal files beside it)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _listed(state: ServingState, items: np.ndarray, scores: np.ndarray, reasons: list[str]) -> list[Recommended]:
    titles = [state.catalog.title[i] or None for i in items.tolist()]
    return [
        Recommended(item=item, score=float(score), reason=reason, title=title)
        for item, score, reason, title in zip(state.item_ids(items), scores.tolist(), reasons, titles, strict=True)
    ]
