"""Connections that cannot starve the service: read deadlines, a cap per client address, and 503s that count
requests in flight, not open sockets.

uvicorn on its own keeps a connection that sends nothing (or a byte every few seconds) open for ever, and counts
every open connection against `limit_concurrency`: three idle sockets made a server with a limit of 4 answer
every request with 503. `GuardedProtocol` is uvicorn's httptools protocol with:

- a head deadline: a request's line and headers must arrive within `header_timeout` seconds of the connection
  opening or of the previous response (so idle and slow-header clients are dropped), and at most
  `max_head_bytes` of them (431 otherwise);
- a body deadline: the whole body within `body_timeout` seconds of the head;
- a send deadline: a client that stops reading its response is dropped after `body_timeout` seconds;
- at most `per_client` open connections per client address (per worker process); the next one is answered
  503 and closed;
- `max_in_flight` requests being answered before new ones get 503 (uvicorn's `limit_concurrency`, counting
  requests only), so sockets that wait cost no capacity.

Deadlines cost a request three clock reads: a sweep every `SWEEP_SECONDS` closes the connections past theirs,
rather than a timer armed and cancelled per request.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shoprec.exceptions import ConfigError

#: How often deadlines are checked: a connection is dropped at most this long after its deadline.
SWEEP_SECONDS = 0.25


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a client may take and how many connections it may hold (docs/serving/api.md)."""

    header_timeout: float = 5.0
    body_timeout: float = 30.0
    keep_alive: float = 5.0
    per_client: int = 128
    max_in_flight: int = 256
    max_head_bytes: int = 64 << 10

    def __post_init__(self) -> None:
        for name in ("header_timeout", "body_timeout", "keep_alive"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a number of seconds > 0, got {value!r}")
        for name in ("per_client", "max_in_flight", "max_head_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")


def _response(status: bytes, detail: str) -> bytes:
    body = json.dumps({"detail": detail}).encode()
    head = b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\nconnection: close\r\n"
    return head + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedProtocol]:
    """A GuardedProtocol class bound to `limits` (uvicorn's `http=`), with its own per-address counts."""
    return type("GuardedProtocol", (GuardedProtocol,), {"limits": limits, "by_client": {}, "live": set()})


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines, a per-address cap and in-flight 503s (module docstring)."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    by_client: ClassVar[dict[str, int]] = {}
    live: ClassVar[set[GuardedProtocol]] = set()
    sweeping: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.counted: str | None = None  # the client address this connection counts against
        self.deadline = math.inf  # loop time by which the awaited head (in_head) or body must be in
        self.write_deadline = math.inf  # loop time by which a stalled response must drain
        self.in_head = True  # waiting for a request's head: from connecting, and again after each response
        self.head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        cls = type(self)
        address = self.client[0] if self.client else ""
        held = cls.by_client.get(address, 0)
        if held >= self.limits.per_client:
            transport.write(_TOO_MANY)
            transport.close()
            return
        cls.by_client[address] = held + 1
        self.counted = address
        self.deadline = self.loop.time() + self.limits.header_timeout
        cls.live.add(self)
        if not cls.sweeping:
            cls.sweeping = True
            self.loop.call_later(SWEEP_SECONDS, cls.sweep, self.loop)

    def connection_lost(self, exc: Exception | None) -> None:
        cls = type(self)
        if self.counted is not None:
            held = cls.by_client[self.counted] - 1
            if held:
                cls.by_client[self.counted] = held
            else:
                del cls.by_client[self.counted]
            self.counted = None
            cls.live.discard(self)
        super().connection_lost(exc)

    # The methods below run on every request: they call the base class directly (cheaper than super()), and
    # only three are overridden; the sweep tells the phases apart by the request cycle's own state.

    def data_received(self, data: bytes) -> None:
        HttpToolsProtocol.data_received(self, data)
        if self.in_head:  # the head is still incomplete after this chunk
            self.head_bytes += len(data)
            if self.head_bytes > self.limits.max_head_bytes and not self.transport.is_closing():
                self.transport.write(_HEAD_TOO_LARGE)
                self.transport.close()

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.deadline = self.loop.time() + self.limits.body_timeout
        # uvicorn's own check counts open connections too; None here and 0 (= "over the limit") when too many
        # requests are in flight makes it count requests only.
        self.limit_concurrency = 0 if len(self.tasks) >= self.limits.max_in_flight else None
        HttpToolsProtocol.on_headers_complete(self)

    def on_response_complete(self) -> None:
        HttpToolsProtocol.on_response_complete(self)
        if not self.pipeline:  # else the next request is already in and has started
            self.in_head, self.head_bytes = True, 0
            self.deadline = self.loop.time() + self.limits.header_timeout

    def overdue(self, now: float) -> bool:
        """Past the deadline of what it is waiting for: a head, the rest of a body, or a stalled response to
        drain. A request whose body is in has no deadline while the app answers it."""
        if self.write_deadline < now:
            return True
        if self.deadline >= now:
            return False
        cycle = self.cycle
        return self.in_head or (cycle is not None and cycle.more_body and not cycle.response_complete)

    def pause_writing(self) -> None:
        self.write_deadline = self.loop.time() + self.limits.body_timeout
        super().pause_writing()

    def resume_writing(self) -> None:
        self.write_deadline = math.inf
        super().resume_writing()

    @classmethod
    def sweep(cls, loop: asyncio.AbstractEventLoop) -> None:
        """Drop every connection past a deadline; runs every SWEEP_SECONDS while any connection is open."""
        now = loop.time()
        for connection in [c for c in cls.live if c.overdue(now)]:
            cls.live.discard(connection)
            connection.transport.abort()
        if cls.live:
            loop.call_later(SWEEP_SECONDS, cls.sweep, loop)
        else:
            cls.sweeping = False


_TOO_MANY = _response(b"503 Service Unavailable", "too many open connections from this address")
_HEAD_TOO_LARGE = _response(b"431 Request Header Fields Too Large", "request line and headers too large")
