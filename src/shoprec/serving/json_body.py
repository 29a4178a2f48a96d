"""JSON request bodies with unique keys: `{"price": 1, "price": 2}` is a 422 naming the key, not a silent "2".

A duplicated key is ambiguous (parsers disagree on which value wins), so a body that has one is refused. The
check is part of the one parse FastAPI does anyway (`object_pairs_hook`), so a body is still decoded once;
routers opt in with `APIRouter(route_class=UniqueKeysRoute)`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`object_pairs_hook`: the object as a dict, or a 422 naming the first key given twice."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise HTTPException(422, detail=f"body: duplicate JSON key {duplicate!r} (each key may appear once per object)")
    return document


class UniqueKeysRequest(Request):
    """A request whose `json()` refuses duplicate keys."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), object_pairs_hook=unique_keys)
        return self._json


class UniqueKeysRoute(APIRoute):
    """An APIRoute whose JSON body is parsed by `UniqueKeysRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            return await handler(UniqueKeysRequest(request.scope, request.receive))

        return handle
