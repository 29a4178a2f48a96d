"""Serving: the live recommendation service (retrieval index, event store, live state, HTTP API).

The HTTP layer (`shoprec.serving.app`) needs the `serve` extra and is imported on its own; everything
re-exported here works in-process (e.g. from a notebook or a batch job).
"""

from shoprec.serving.catalog import Catalog, ItemFilter
from shoprec.serving.coldstart import ColdStart
from shoprec.serving.index import ItemIndex
from shoprec.serving.live import LiveUsers, history_encoder
from shoprec.serving.pipeline import PipelineConfig, write_pipeline
from shoprec.serving.replay import ReplayResult, replay
from shoprec.serving.results import AudienceRequest, RecommendationList, Recommended
from shoprec.serving.service import RecommendationService
from shoprec.serving.store import Event, EventStore

__all__ = [
    "AudienceRequest",
    "Catalog",
    "ColdStart",
    "Event",
    "EventStore",
    "ItemFilter",
    "ItemIndex",
    "LiveUsers",
    "PipelineConfig",
    "RecommendationList",
    "RecommendationService",
    "Recommended",
    "ReplayResult",
    "history_encoder",
    "replay",
    "write_pipeline",
]
