"""Everything one pipeline version serves, built from verified artifacts plus a replay of the event store.

`load_state` is the slow part of opening or swapping (checksums, index build, replay); the service then
holds one `ServingState` reference and swaps it whole. A state's live parts (user vectors, the index,
the catalog) are updated in place by the service's writes, under its lock.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shoprec.artifacts import read_manifest
from shoprec.exceptions import ArtifactError, NotFoundError
from shoprec.models.base import Recommender, VectorRecommender
from shoprec.rerank import RerankContext, RerankStep, build_steps
from shoprec.serving.bundle import CATALOG_DIR, COLDSTART_DIR, load_bundle
from shoprec.serving.catalog import Catalog
from shoprec.serving.coldstart import ColdStart
from shoprec.serving.exclusions import UserItems
from shoprec.serving.index import ItemIndex
from shoprec.serving.live import LiveUsers
from shoprec.serving.pipeline import PipelineConfig
from shoprec.serving.store import EventStore
from shoprec.serving.users import UserIds


@dataclass
class ServingState:
    """One loaded pipeline: model, optional ranker, catalog, index, live users, cold start, re-rank steps, and
    per user the purchased items and the items created while serving they interacted with (`exclusions`)."""

    config: PipelineConfig
    version: str
    model: VectorRecommender
    ranker: Recommender | None
    catalog: Catalog
    index: ItemIndex
    live: LiveUsers
    coldstart: ColdStart
    users: UserIds
    steps: list[RerankStep]
    context: RerankContext
    purchased: UserItems = field(default_factory=UserItems)
    seen_new_items: UserItems = field(default_factory=UserItems)
    last_event: float | None = None
    applied_change: int = 0  # the store's change log is applied up to this seq
    stats: dict[str, Any] = field(default_factory=dict)

    def item_index(self, item_id: str) -> int:
        """Index of a known item; NotFoundError for an unknown one."""
        item = int(self.catalog.index_of([item_id])[0])
        if item < 0:
            raise NotFoundError(f"unknown item {item_id!r}")
        return item

    def item_ids(self, items: np.ndarray) -> list[str]:
        """External ids of item indices."""
        return [self.catalog.ids[i] for i in np.asarray(items, dtype=np.int64).tolist()]


def load_state(config: PipelineConfig, store: EventStore) -> ServingState:
    """Verify and load every artifact the config names, build the index and replay the store."""
    started = time.perf_counter()
    model = _load_model(config.retrieval)
    ranker = None
    if config.ranker is not None:
        ranker = Recommender.load(config.ranker)
        if not hasattr(ranker, "rerank"):
            raise ArtifactError(f"{config.ranker}: a {ranker.name!r} model cannot rank candidates (expected DeepFM)")
        ranker.attach_retrieval(model)
    catalog, coldstart = load_bundle(config.bundle, model)
    index, calibration = build_index(model, config.index)
    state = ServingState(
        config=config,
        version=pipeline_version(config),
        model=model,
        ranker=ranker,
        catalog=catalog,
        index=index,
        live=LiveUsers(model, config.event_weights),
        coldstart=coldstart,
        users=UserIds(model.user_vocab_),
        steps=build_steps(config.rerank),
        context=rerank_context(catalog, index, model.item_popularity_),
    )
    from shoprec.serving.updates import replay  # updates builds on this module

    # Read before the replay: nothing writes meanwhile (a server opens or swaps before or under its writer lock).
    state.applied_change = store.latest_change()
    state.stats.update(replay(state, store), **calibration, load_seconds=round(time.perf_counter() - started, 3))
    return state


#: Target recall@10 of the served index against exact search, unless the pipeline fixes `nprobe` on its own.
DEFAULT_TARGET_RECALL = 0.95
#: Trained users whose vectors calibrate the index (a seeded sample): queries like the ones it will serve.
CALIBRATION_USERS = 256


def build_index(model: VectorRecommender, options: dict[str, float]) -> tuple[ItemIndex, dict[str, float]]:
    """The item index of `options` ([index] of the pipeline) and what calibration measured.

    An IVF index gets the smallest nprobe reaching `target_recall` (default 0.95) on a sample of the model's own
    user vectors; a pipeline that sets `nprobe` without `target_recall` keeps that nprobe as it is."""
    options = dict(options)
    target = options.pop("target_recall", None)
    index = ItemIndex.build(model.item_vectors(), **{k: int(v) for k, v in options.items()})
    if index.kind == "exact":
        return index, {}
    if target is None and "nprobe" in options:
        return index, {"index_nprobe": index.nprobe}
    users = np.random.default_rng(0).permutation(model.n_users_)[:CALIBRATION_USERS]
    queries = model.user_vectors(np.sort(users))
    queries = queries[np.abs(queries).sum(axis=1) > 0]
    recall = index.calibrate(queries, target_recall=DEFAULT_TARGET_RECALL if target is None else target)
    return index, {"index_nprobe": index.nprobe, "index_calibration_recall": round(recall, 4)}


def _load_model(path: Path) -> VectorRecommender:
    model = Recommender.load(path)
    if not isinstance(model, VectorRecommender):
        raise ArtifactError(f"{path}: a {model.name!r} model has no user/item vectors; retrieval needs one that does")
    return model


def rerank_context(catalog: Catalog, index: ItemIndex, popularity: np.ndarray) -> RerankContext:
    """Per-item arrays for the re-rank steps, over the whole (possibly grown) catalog."""
    pop = np.zeros(catalog.n, dtype=np.float64)
    pop[: len(popularity)] = popularity
    return RerankContext(
        item_vectors=index.vectors(),  # a read-only view, no copy
        item_popularity=pop,
        item_category=catalog.category,
        item_brand=catalog.brand,
    )


def pipeline_version(config: PipelineConfig) -> str:
    """A short content hash of the artifacts' checksums and the serving settings: equal pipelines, equal version."""
    parts: dict[str, Any] = {
        "rerank": config.rerank,
        "candidates": config.candidates,
        "overfetch": config.overfetch,
        "event_weights": config.event_weights,
        "exclude": [config.exclude_purchased, config.exclude_seen],
    }
    artifacts = [config.retrieval, config.ranker]
    if config.bundle is not None:
        artifacts += [config.bundle / CATALOG_DIR, config.bundle / COLDSTART_DIR]
    for path in artifacts:
        if path is not None:
            parts[str(path)] = read_manifest(path).get("files", {})
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return digest[:12]
