"""A small open-loop HTTP/1.1 load generator for the serving benchmark (loopback only, bounded request counts).

Open loop: request i is due at t0 + i / rate whatever happened to earlier ones, and its latency is measured
from that due time, so a server that falls behind shows it in the tail instead of silently slowing the client
down (coordinated omission). Requests go over a fixed pool of keep-alive connections with hand-written
HTTP/1.1 on asyncio streams: a general-purpose client (httpx, requests) spends more CPU per request than the
server under test, and on 2 cores that would measure the client.

    python -m benchmarks.loadgen --port 8000 --rate 1000 --requests 10000 --paths paths.txt
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import uvloop

ALLOWED_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass
class LoadResult:
    """Latencies (ms, from each request's due time) and counts of one load run."""

    latencies_ms: np.ndarray
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, float | int | dict[int, int]]:
        lat = self.latencies_ms
        done = len(lat)
        return {
            "requests": done,
            "seconds": round(self.seconds, 3),
            "achieved_rps": round(done / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(float(np.percentile(lat, 50)), 3) if done else float("nan"),
            "p90_ms": round(float(np.percentile(lat, 90)), 3) if done else float("nan"),
            "p99_ms": round(float(np.percentile(lat, 99)), 3) if done else float("nan"),
            "max_ms": round(float(lat.max()), 3) if done else float("nan"),
            "statuses": self.statuses,
            "errors": self.errors,
        }


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: `get` sends a GET and resolves to the status once the whole body
    (Content-Length) has arrived. A protocol rather than asyncio streams: the client must cost far less per
    request than the server under test, since both share the machine's cores."""

    def __init__(self, host: str, headers: str) -> None:
        self.host, self.headers = host, headers
        self.transport: asyncio.Transport | None = None
        self._buffer = b""
        self._status = self._length = -1
        self._waiter: asyncio.Future[int] | None = None

    @classmethod
    async def open(cls, host: str, port: int, headers: dict[str, str]) -> _Connection:
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(lambda: cls(host, extra), host, port)
        return connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get(self, path: str) -> asyncio.Future[int]:
        return self.send("GET", path)

    def send(self, method: str, path: str, body: bytes = b"") -> asyncio.Future[int]:
        """Send one request (a non-empty `body` goes as JSON); resolves to the reply's status."""
        self._waiter = asyncio.get_running_loop().create_future()
        length = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n" if body else ""
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.headers}{length}\r\n"
        self.transport.write(head.encode() + body)
        return self._waiter

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._status < 0:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buffer[:end].lower()
            self._status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            self._length = int(head[at + 17 : head.find(b"\r\n", at + 2)]) if at >= 0 else 0
            self._buffer = self._buffer[end + 4 :]
        if len(self._buffer) >= self._length and self._waiter is not None:
            self._waiter.set_result(self._status)
            self._buffer, self._status, self._length, self._waiter = b"", -1, -1, None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("the server closed the connection"))

    def close(self) -> None:
        self.transport.close()


Request = tuple[str, str, bytes]
"""(method, path, JSON body or b"") of one request."""
Done = Callable[[int, int, float], None]
"""Called with (request number, status or 0 when the connection failed, ms from the due time) per answer."""


async def run_load(
    host: str,
    port: int,
    paths: list[str],
    *,
    rate: float,
    requests: int,
    connections: int = 32,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """Issue `requests` GETs (cycling through `paths`) at `rate` per second; return latencies from due times."""
    return await run_requests(
        host,
        port,
        lambda i: ("GET", paths[i % len(paths)], b""),
        rate=rate,
        requests=requests,
        connections=connections,
        headers=headers,
    )


async def run_requests(
    host: str,
    port: int,
    request: Callable[[int], Request],
    *,
    rate: float,
    requests: int,
    connections: int = 32,
    headers: dict[str, str] | None = None,
    on_done: Done | None = None,
) -> LoadResult:
    """Issue `requests` requests at `rate` per second, request i being `request(i)`, called when it is due (so
    it may depend on earlier answers); return latencies from due times, and report each answer to `on_done`.

    Times come from `time.perf_counter` (uvloop's loop clock has millisecond resolution)."""
    if host not in ALLOWED_HOSTS:
        raise ValueError(f"load tests talk to loopback only, got host {host!r}")
    if rate <= 0 or requests <= 0 or connections <= 0:
        raise ValueError("rate, requests and connections must be > 0")
    pool: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await _Connection.open(host, port, headers or {}))
    latencies = np.full(requests, np.nan)
    statuses: dict[int, int] = {}
    errors = 0
    start = time.perf_counter()

    async def one(i: int, due: float, method: str, path: str, body: bytes) -> None:
        nonlocal errors
        conn = await pool.get()
        if conn.transport.is_closing():  # the server closed it while it sat idle (keep-alive timeout)
            conn = await _Connection.open(host, port, headers or {})
        try:
            status = await conn.send(method, path, body)
            statuses[status] = statuses.get(status, 0) + 1
            latencies[i] = ms = (time.perf_counter() - due) * 1000.0
            pool.put_nowait(conn)
        except (OSError, ValueError, RuntimeError):
            status, ms = 0, (time.perf_counter() - due) * 1000.0
            errors += 1
            conn.close()
            pool.put_nowait(await _Connection.open(host, port, headers or {}))
        if on_done is not None:
            on_done(i, status, ms)

    pending: set[asyncio.Future[None]] = set()  # only the requests in flight: gathering every task at the
    for i in range(requests):  # end stalled the last responses' reading for tens of milliseconds
        due = start + i / rate
        while (delay := due - time.perf_counter()) > 0:  # uvloop's millisecond timers may wake a little early,
            await asyncio.sleep(delay)  # and a request sent before its due time would show a negative latency
        task = asyncio.ensure_future(one(i, due, *request(i)))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    seconds = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().close()
    return LoadResult(latencies[~np.isnan(latencies)], statuses, errors, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--paths", type=Path, required=True, help="file with one request path per line")
    parser.add_argument("--rate", type=float, default=1000.0, help="requests per second (open loop)")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--api-key", default="")
    args = parser.parse_args()
    paths = [line for line in args.paths.read_text().splitlines() if line]
    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    t0 = time.perf_counter()
    # No garbage collection during the run: a full collection over thousands of pending requests paused the
    # client for tens of milliseconds, which an open-loop measurement charges to the server. Memory stays
    # bounded by --requests.
    gc.freeze()
    gc.disable()
    result = uvloop.run(
        run_load(
            args.host,
            args.port,
            paths,
            rate=args.rate,
            requests=args.requests,
            connections=args.connections,
            headers=headers,
        )
    )
    print(json.dumps({**result.summary(), "wall_s": round(time.perf_counter() - t0, 3)}))


if __name__ == "__main__":
    main()
