"""`benchmarks.loadgen` against a real HTTP server (uvicorn in a thread on 127.0.0.1, a tiny ASGI app).

The load generator parses HTTP/1.1 by hand, so these tests check what it counts against what the server saw:
every request answered, statuses as the paths ask, the keep-alive pool used in turn, bodies read whole.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pytest
import uvicorn
import uvloop
from benchmarks import loadgen

OK_BODY = json.dumps({"items": ["a", "b", "c"]}).encode()
SPLIT_BODY = b'{"part": "one",' + b' "part2": "' + b"x" * 4000 + b'"}'


@dataclass
class Seen:
    """What the server received: request paths, client ports (one per connection) and API-key headers."""

    paths: Counter[str] = field(default_factory=Counter)
    ports: set[int] = field(default_factory=set)
    keys: set[bytes] = field(default_factory=set)
    requests: Counter[tuple[str, str, bytes]] = field(default_factory=Counter)  # (method, path, body)


class Shop:
    """ASGI app: /ok answers 200 with JSON, /split sends its body in two writes, anything else is a 404."""

    def __init__(self) -> None:
        self.seen = Seen()

    async def __call__(self, scope: dict, receive: object, send: object) -> None:
        assert scope["type"] == "http"
        path = scope["path"]
        self.seen.paths[path] += 1
        self.seen.ports.add(scope["client"][1])
        self.seen.keys.update(v for k, v in scope["headers"] if k == b"x-api-key")
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        self.seen.requests[scope["method"], path, body] += 1
        if path == "/split":
            await self._respond(send, 200, SPLIT_BODY[:10], SPLIT_BODY[10:])
        elif path == "/ok":
            await self._respond(send, 200, OK_BODY)
        else:
            await self._respond(send, 404, b'{"detail": "not found"}')

    @staticmethod
    async def _respond(send: object, status: int, *parts: bytes) -> None:
        length = str(sum(map(len, parts))).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", length)]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for i, part in enumerate(parts):
            if i:
                await asyncio.sleep(0.005)  # the first part leaves on its own before the rest is written
            await send({"type": "http.response.body", "body": part, "more_body": i < len(parts) - 1})


@dataclass
class Running:
    app: Shop
    port: int


@contextmanager
def serving(app: Shop, **options: object) -> Iterator[Running]:
    """uvicorn (with `options`) on a socket bound to 127.0.0.1:0, so no free-port race, in a thread; stopped
    on exit. The socket names IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets, and without it a
    reply's head and body (two writes) wait out the client's 40 ms delayed ACK."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, loop="asyncio", http="h11", lifespan="off", log_level="warning", **options)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not uv.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield Running(app, sock.getsockname()[1])
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serving(Shop()) as running:
        yield running


@pytest.fixture
def seen(server: Running) -> Seen:
    """A fresh record of the server's requests for one test."""
    server.app.seen = Seen()
    return server.app.seen


def test_counts_every_request_and_splits_statuses_by_path(server: Running, seen: Seen) -> None:
    requests, rate = 200, 2000.0
    result = uvloop.run(
        loadgen.run_load(
            "127.0.0.1",
            server.port,
            ["/ok", "/missing"],
            rate=rate,
            requests=requests,
            connections=4,
            headers={"X-API-Key": "key-0123456789abcdef"},
        )
    )
    assert result.errors == 0
    assert result.statuses == {200: 100, 404: 100}
    assert seen.paths == {"/ok": 100, "/missing": 100}
    assert len(seen.ports) == 4  # the pool hands its connections out in turn, each kept alive
    assert seen.keys == {b"key-0123456789abcdef"}

    assert len(result.latencies_ms) == requests
    assert np.isfinite(result.latencies_ms).all() and (result.latencies_ms >= 0).all()
    # open loop: the last request is due (requests - 1) / rate after the start, so the run cannot be shorter
    assert result.seconds >= (requests - 1) / rate
    summary = result.summary()
    assert summary["requests"] == requests
    assert rate / 10 < summary["achieved_rps"] <= rate * requests / (requests - 1)
    assert summary["p50_ms"] <= summary["p90_ms"] <= summary["p99_ms"] <= summary["max_ms"]


def test_sends_any_method_with_its_body_and_reports_each_answer(server: Running, seen: Seen) -> None:
    """run_requests (the soak's mixed load): request i is made when due, each answer reaches `on_done`."""
    sent = [("POST", "/ok", b'{"a": 1}'), ("PUT", "/ok", b'{"b": 2}'), ("DELETE", "/missing", b""), ("GET", "/ok", b"")]
    answers: list[tuple[int, int, float]] = []
    result = uvloop.run(
        loadgen.run_requests(
            "127.0.0.1",
            server.port,
            lambda i: sent[i % len(sent)],
            rate=500.0,
            requests=8,
            connections=2,
            on_done=lambda i, status, ms: answers.append((i, status, ms)),
        )
    )
    assert result.errors == 0
    assert result.statuses == {200: 6, 404: 2}
    assert seen.requests == {request: 2 for request in sent}  # bodies arrived whole (Content-Length sent)
    assert sorted(i for i, _, _ in answers) == list(range(8))
    assert all(status == (404 if i % 4 == 2 else 200) and ms >= 0 for i, status, ms in answers)


def test_body_split_across_writes_is_read_whole(server: Running, seen: Seen, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reply taken as done before its body ends would leave bytes that break the next reply's status line."""
    chunks: list[int] = []
    receive = loadgen._Connection.data_received

    def spy(self: loadgen._Connection, data: bytes) -> None:
        chunks.append(len(data))
        receive(self, data)

    monkeypatch.setattr(loadgen._Connection, "data_received", spy)
    result = asyncio.run(
        loadgen.run_load("127.0.0.1", server.port, ["/split", "/ok"], rate=200.0, requests=6, connections=1)
    )
    assert result.errors == 0
    assert result.statuses == {200: 6}
    assert seen.paths == {"/split": 3, "/ok": 3}
    assert len(seen.ports) == 1  # all six on one keep-alive connection
    assert len(chunks) > 6  # at least one reply did arrive in pieces


def test_survives_the_server_closing_idle_keep_alive_connections() -> None:
    """uvicorn closes a connection idle for `timeout_keep_alive` (5 s by default), so a run slower than
    connections / 5 s requests per second meets closed connections in its pool."""

    async def slow_load(port: int) -> loadgen.LoadResult:
        return await asyncio.wait_for(
            loadgen.run_load("127.0.0.1", port, ["/ok"], rate=4.0, requests=3, connections=1), timeout=5
        )

    with serving(Shop(), timeout_keep_alive=0.1) as running:
        result = uvloop.run(slow_load(running.port))
    assert result.statuses == {200: 3}


@pytest.mark.parametrize("host", ["10.0.0.1", "example.com", "0.0.0.0", ""])
def test_refuses_hosts_other_than_loopback(host: str) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        asyncio.run(loadgen.run_load(host, 80, ["/"], rate=10.0, requests=1))


@pytest.mark.parametrize("bad", [{"rate": 0.0}, {"requests": 0}, {"connections": 0}])
def test_refuses_non_positive_settings(bad: dict[str, float]) -> None:
    settings = {"rate": 10.0, "requests": 1, "connections": 1, **bad}
    with pytest.raises(ValueError, match="must be > 0"):
        asyncio.run(loadgen.run_load("127.0.0.1", 1, ["/"], **settings))
