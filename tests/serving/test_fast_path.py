"""`serving.fast_path`: recommendation requests answered ahead of FastAPI must answer exactly as the route does.

Each request goes through the whole app (fast path first) and through the FastAPI app alone (the declared
route, the reference); the two answers must be identical, byte for byte for the 200s. `answer` is also called
on the raw scope to show which requests the fast path takes and which it leaves to the route.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI
from tests.serving.shop import pipeline, trained_run

from shoprec.serving.app import ServerSettings, create_app
from shoprec.serving.fast_path import ShoprecAPI, answer
from shoprec.serving.metrics import UNMATCHED
from shoprec.serving.routers.recommendations import ROUTE
from shoprec.serving.security import ApiKeys
from shoprec.serving.service import RecommendationService

READ_KEY, WRITE_KEY = "read-key-0123456789", "write-key-0123456789"
KEYS = ApiKeys(read=READ_KEY, write=WRITE_KEY)


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> ShoprecAPI:
    config = pipeline(trained_run(tmp_path_factory.mktemp("run")), tmp_path_factory.mktemp("pipeline"))
    store: Path = tmp_path_factory.mktemp("store") / "events.sqlite"
    with RecommendationService.open(replace(config, store=store)) as service:
        yield create_app(service, ServerSettings(api_keys=KEYS))


def fetch(app: ShoprecAPI, url: str, *, key: str | None = READ_KEY, route_only: bool = False) -> httpx.Response:
    """GET `url` in process through the whole app, or only through FastAPI (`route_only`: no fast path)."""

    async def through_route(scope, receive, send) -> None:
        await FastAPI.__call__(app, scope, receive, send)

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=through_route if route_only else app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(url, headers={"X-API-Key": key} if key is not None else {})

    return asyncio.run(get())


def scope(path: str, query: str = "", headers: list[tuple[bytes, bytes]] | None = None) -> dict:
    """An ASGI HTTP scope as uvicorn builds it (decoded path, raw query string, lower-case header names)."""
    default = [(b"host", b"test"), (b"x-api-key", READ_KEY.encode())]
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query.encode(),
        "headers": default if headers is None else headers,
    }


VALID = [
    "/recommendations/u0001",
    "/recommendations/u0002?n=3",
    "/recommendations/u0003?n=7&diversity=0.5&long_tail=1.5",
    "/recommendations/u0004?category=c1&category=c2&in_stock=true",
    "/recommendations/u0005?price_min=1&price_max=50&n=2&n=4",  # a repeated scalar: the last one counts
    "/recommendations/somebody-new?context=c1",  # cold start
    "/recommendations/u0006?unknown=ignored",
    "/recommendations/shop/u0001",  # ids may hold "/" (sent as %2F, decoded before routing)
]


@pytest.mark.parametrize("url", VALID)
def test_valid_requests_are_answered_exactly_as_the_route_answers_them(app, url) -> None:
    path, _, query = url.partition("?")
    assert answer(app, scope(path, query)) is not None  # the fast path takes it
    fast, route = fetch(app, url), fetch(app, url, route_only=True)
    assert fast.status_code == route.status_code == 200
    assert fast.content == route.content
    assert fast.headers["content-type"] == route.headers["content-type"] == "application/json"
    assert fast.headers["content-length"] == route.headers["content-length"] == str(len(fast.content))
    assert fast.json()["items"]


INVALID = [
    ("/recommendations/u0001?n=0", READ_KEY, 422),
    ("/recommendations/u0001?n=abc", READ_KEY, 422),
    ("/recommendations/u0001?n=5000", READ_KEY, 422),
    ("/recommendations/u0001?diversity=2", READ_KEY, 422),
    ("/recommendations/u0001?price_min=9&price_max=1", READ_KEY, 422),
    ("/recommendations/u0001?context=no-such-category", READ_KEY, 422),
    ("/recommendations/" + "u" * 257, READ_KEY, 422),
    ("/recommendations/u0001", None, 401),
    ("/recommendations/u0001", "not-a-key-0123456789", 403),
    ("/recommendations/", READ_KEY, 422),
    ("/recommendations/bob%00", READ_KEY, 422),  # the id policy: no control characters
    ("/recommendations/\ufffd\ufffd", READ_KEY, 422),  # what %FF%FE decodes to: refused, not another id
]


@pytest.mark.parametrize(("url", "key", "status"), INVALID)
def test_other_requests_are_left_to_the_route_and_get_its_error(app, url, key, status) -> None:
    path, _, query = url.partition("?")
    headers = [(b"host", b"test")] + ([(b"x-api-key", key.encode())] if key else [])
    assert answer(app, scope(unquote(path), query, headers)) is None  # uvicorn decodes %XX (errors: U+FFFD)
    fast, route = fetch(app, url, key=key), fetch(app, url, key=key, route_only=True)
    assert fast.status_code == route.status_code == status
    assert fast.json() == route.json() and fast.json()["detail"]


def test_a_request_with_a_body_is_left_to_the_route(app) -> None:
    with_body = [(b"x-api-key", READ_KEY.encode()), (b"content-length", b"12")]
    chunked = [(b"x-api-key", READ_KEY.encode()), (b"transfer-encoding", b"chunked")]
    empty = [(b"x-api-key", READ_KEY.encode()), (b"content-length", b"0")]
    assert answer(app, scope("/recommendations/u0001", headers=with_body)) is None
    assert answer(app, scope("/recommendations/u0001", headers=chunked)) is None
    assert answer(app, scope("/recommendations/u0001", headers=empty)) is not None


def test_a_write_key_opens_it_and_the_first_key_header_counts(app) -> None:
    assert answer(app, scope("/recommendations/u0001", headers=[(b"x-api-key", WRITE_KEY.encode())])) is not None
    twice = [(b"x-api-key", b"wrong-key-0123456789"), (b"x-api-key", READ_KEY.encode())]
    assert answer(app, scope("/recommendations/u0001", headers=twice)) is None
    assert fetch(app, "/recommendations/u0001", key="wrong-key-0123456789").status_code == 403


def test_metrics_count_fast_path_answers_under_the_route(app) -> None:
    def count(status: str) -> float:
        value = app.state.metrics.registry.get_sample_value(
            "shoprec_http_requests_total", {"method": "GET", "route": ROUTE, "status": status}
        )
        return value or 0.0

    ok, bad = count("200"), count("422")
    for user in ("u0001", "u0002", "u0003"):
        assert fetch(app, f"/recommendations/{user}?n=2").status_code == 200
    assert fetch(app, "/recommendations/u0001?n=0").status_code == 422
    assert count("200") == ok + 3 and count("422") == bad + 1
    unmatched = {"method": "GET", "route": UNMATCHED, "status": "404"}
    before = app.state.metrics.registry.get_sample_value("shoprec_http_requests_total", unmatched) or 0.0
    assert fetch(app, "/recommendation/u0001").status_code == 404
    assert app.state.metrics.registry.get_sample_value("shoprec_http_requests_total", unmatched) == before + 1
