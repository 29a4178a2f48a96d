"""GET /recommendations/{user_id} answered before the framework: the request a shop sends on every page view.

Starlette's middleware stack, routing and request objects cost more per request than the index search they
wrap (measured on the 1M x 1M benchmark pipeline: docs/serving/performance.md). `answer` reads the ASGI scope
directly — path, API key and query string — and checks them with the same pydantic models and key check as the
declared route (`routers.recommendations`), whose body builder it shares. It only ever produces a 200:
anything else (a missing or wrong key, a bad parameter, a request with a body, an unknown category, an
unexpected error) returns None and the request goes on to the app, whose route answers it with the canonical
4xx or logged 5xx. The request only reads, so the second attempt repeats nothing that matters.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from shoprec.serving.routers.direct import query_from_pairs
from shoprec.serving.routers.recommendations import ROUTE, USER_ID, recommendations_json
from shoprec.serving.schemas import RecommendationQuery
from shoprec.serving.security import Role, authorize

PREFIX = ROUTE.removesuffix("{user_id}")
_KEY_HEADER = b"x-api-key"
_BODY_HEADERS = (b"content-length", b"transfer-encoding")
_JSON_HEADERS = [(b"content-type", b"application/json")]


class ShoprecAPI(FastAPI):
    """The FastAPI app, with well-formed recommendation requests answered by `answer` ahead of it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].startswith(PREFIX):
            started = time.perf_counter()
            body = answer(self, scope)
            if body is not None:
                headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                self.state.metrics.observe("GET", ROUTE, 200, time.perf_counter() - started)
                return
        await super().__call__(scope, receive, send)


def answer(app: FastAPI, scope: Scope) -> bytes | None:
    """The JSON body of a valid, authorized recommendations request without a body; None for any other."""
    user_id = scope["path"][len(PREFIX) :]  # may hold "/": ids are data (the route takes `{user_id:path}`)
    if scope.get("root_path"):
        return None
    key = None
    for name, value in scope["headers"]:
        if name == _KEY_HEADER and key is None:  # the first one, as Starlette's Headers.get
            key = value.decode("latin-1")
        elif name in _BODY_HEADERS and value != b"0":
            return None
    try:
        authorize(app.state.api_keys, key, Role.READ)
        USER_ID.validate_python(user_id)
        pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        query = query_from_pairs(RecommendationQuery, pairs)
        return recommendations_json(app.state.service, user_id, query)
    except Exception:  # every failure is answered by the route, which maps or logs it
        return None
