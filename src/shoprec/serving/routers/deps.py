"""Dependencies shared by the routers: the service, key checks, item filters and list-size parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request

from shoprec.ids import MAX_ID_LENGTH
from shoprec.serving.catalog import ItemFilter
from shoprec.serving.results import Recommended
from shoprec.serving.schemas import ID_RULE, ErrorBody, ListQuery, RecommendedItem
from shoprec.serving.security import Role, require
from shoprec.serving.service import RecommendationService


async def get_service(request: Request) -> RecommendationService:
    """The service the app was created with (swaps replace its state, never the object).

    Dependencies that only read the request are `async def`: FastAPI runs a plain `def` dependency in its
    thread pool, and that hop per dependency cost more than the whole search (measured)."""
    return request.app.state.service


_MEANING = {
    401: "No API key sent",
    403: "The API key may not do this",
    404: "Unknown item, user or category",
    409: "Artifact refused (corrupt or tampered)",
    413: "Request body too large",
    422: "Invalid request; `detail` names the field",
}


def errors(*codes: int) -> dict[int | str, dict]:
    """OpenAPI `responses` for these error codes (and 422), all with the {"detail": ...} body."""
    return {code: {"model": ErrorBody, "description": _MEANING[code]} for code in (*codes, 422)}


ServiceDep = Annotated[RecommendationService, Depends(get_service)]
READ = Depends(require(Role.READ))
WRITE = Depends(require(Role.WRITE))
ADMIN = Depends(require(Role.ADMIN))

_ID_TEXT = "printable text, no control characters; a `/` is sent percent-encoded as %2F"
UserId = Annotated[
    str, Path(min_length=1, max_length=MAX_ID_LENGTH, description=f"External user id ({_ID_TEXT})"), ID_RULE
]
ItemId = Annotated[
    str, Path(min_length=1, max_length=MAX_ID_LENGTH, description=f"External item id ({_ID_TEXT})"), ID_RULE
]


def item_filter(query: ListQuery) -> ItemFilter | None:
    """The request's filter, None when it asks for none (the unfiltered fast path)."""
    low, high = query.price_min, query.price_max
    if low is not None and high is not None and low > high:
        raise HTTPException(422, detail=f"query.price_min ({low}) must be <= query.price_max ({high})")
    if query.category is None and query.in_stock is None and low is None and high is None:
        return None
    return ItemFilter(categories=query.category, in_stock=query.in_stock, price_min=low, price_max=high)


def listed(items: list[Recommended]) -> list[RecommendedItem]:
    """The service's result values as response items."""
    return [RecommendedItem(item=r.item, score=r.score, title=r.title, reason=r.reason) for r in items]
