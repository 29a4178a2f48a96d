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
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

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


class _Connection:
    """One keep-alive HTTP/1.1 connection that sends a GET and reads the whole response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, headers: str) -> None:
        self.reader, self.writer, self.host, self.headers = reader, writer, host, headers

    @classmethod
    async def open(cls, host: str, port: int, headers: dict[str, str]) -> _Connection:
        reader, writer = await asyncio.open_connection(host, port)
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return cls(reader, writer, host, extra)

    async def get(self, path: str) -> int:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.headers}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


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
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def one(i: int, due: float) -> None:
        nonlocal errors
        conn = await pool.get()
        try:
            status = await conn.get(paths[i % len(paths)])
            statuses[status] = statuses.get(status, 0) + 1
            latencies[i] = (loop.time() - due) * 1000.0
            pool.put_nowait(conn)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            conn.close()
            pool.put_nowait(await _Connection.open(host, port, headers or {}))

    tasks = []
    for i in range(requests):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i, due)))
    await asyncio.gather(*tasks)
    seconds = loop.time() - start
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
    result = asyncio.run(
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
