"""Prometheus metrics of one app: request counts and latency per route, plus the service's live state.

Every app gets its own CollectorRegistry, so several apps in one process (tests) never share or clash.
With several worker processes (`shoprec serve --workers N`) the request counts and latencies go through
prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set before prometheus_client is imported), so
a scrape, whichever worker answers it, sums every worker's; the state gauges come from the answering worker,
whose state follows the same event store as the others.

Route labels are the route templates (`/recommendations/{user_id}`), never raw paths, so label cardinality
stays bounded whatever clients send; requests that match no route count under "unmatched".
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Latency buckets (seconds) around the 10 ms p99 target.
BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
UNMATCHED = "unmatched"

_HELP = {
    "index_size": "Items in the retrieval index",
    "users": "Users the service holds a live vector for",
    "events": "Events in the store",
    "event_lag_seconds": "Seconds since the last event was ingested",
}


class StateCollector(Collector):
    """Gauges read from `stats()` at scrape time (index size, users, events, event lag): never stale."""

    def __init__(self, stats: Callable[[], Mapping[str, Any]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for key, value in self._stats().items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            name = "shoprec_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)
            yield GaugeMetricFamily(name, _HELP.get(key, f"Service statistic {key!r}"), value=float(value))


class HttpMetrics:
    """The registry of one app and the instruments the middleware feeds."""

    def __init__(self, stats: Callable[[], Mapping[str, Any]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "shoprec_http_requests",
            "HTTP requests by method, route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "shoprec_http_request_duration_seconds",
            "Time from request to the end of the response, by method and route template",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._state = StateCollector(stats)
        self.registry.register(self._state)

    @staticmethod
    def shared_across_processes() -> bool:
        """True when prometheus_client was imported in multiprocess mode (values kept in shared files)."""
        return "PROMETHEUS_MULTIPROC_DIR" in os.environ and values.ValueClass is not values.MutexValue

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        if not self.shared_across_processes():
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        registry.register(self._state)
        return generate_latest(registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Pure ASGI middleware (no body buffering): times each HTTP request and records its final status."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client sees if the app raises before answering

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = getattr(scope.get("route"), "path_format", UNMATCHED)  # "{user_id}", not "{user_id:path}"
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - start)
