"""POST /events and /events/batch: acknowledged (202) only once durable in the store."""

from __future__ import annotations

from fastapi import APIRouter

from shoprec.serving.json_body import UniqueKeysRoute
from shoprec.serving.routers.deps import WRITE, ServiceDep, errors
from shoprec.serving.schemas import EventBatch, EventIn, EventsAccepted
from shoprec.serving.store import Event

router = APIRouter(
    tags=["events"], dependencies=[WRITE], responses=errors(401, 403, 404, 413), route_class=UniqueKeysRoute
)


def _ingest(service: ServiceDep, events: list[EventIn]) -> EventsAccepted:
    ids = service.ingest([Event(e.user, e.item, e.event, e.weight, e.timestamp) for e in events])
    return EventsAccepted(accepted=len(ids), ids=ids)


@router.post("/events", status_code=202)
def post_event(event: EventIn, service: ServiceDep) -> EventsAccepted:
    """One event; the user's next recommendations reflect it."""
    return _ingest(service, [event])


@router.post("/events/batch", status_code=202)
def post_events(batch: EventBatch, service: ServiceDep) -> EventsAccepted:
    """Up to 10,000 events, written in one transaction: all of them are acknowledged, or none."""
    return _ingest(service, batch.events)
