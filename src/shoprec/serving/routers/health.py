"""GET /health (for load balancers: no key needed) and GET /metrics (Prometheus text)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from shoprec.serving.routers.deps import ServiceDep
from shoprec.serving.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/health")
def health(service: ServiceDep) -> Health:
    """Liveness and what is served: pipeline version, items in the index, users."""
    return Health(**service.health())


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    """Request counts, latency histograms and live-state gauges in the Prometheus text format."""
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)
