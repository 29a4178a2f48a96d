"""Dependencies shared by the routers: the service, key checks, item filters and list-size parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request

from shoprec.serving.catalog import ItemFilter
from shoprec.serving.results import Recommended
from shoprec.serving.schemas import MAX_N, ErrorBody, RecommendedItem
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

UserId = Annotated[str, Path(min_length=1, max_length=256, description="External user id")]
ItemId = Annotated[str, Path(min_length=1, max_length=256, description="External item id")]
N = Annotated[int, Query(ge=1, le=MAX_N, description="How many items to return")]


async def item_filter(
    category: Annotated[
        list[str] | None, Query(max_length=100, description="Keep only these categories (repeatable)")
    ] = None,
    in_stock: Annotated[
        bool | None, Query(description="true: only items in stock; false: only those out of stock")
    ] = None,
    price_min: Annotated[float | None, Query(ge=0, le=1e15, allow_inf_nan=False)] = None,
    price_max: Annotated[float | None, Query(ge=0, le=1e15, allow_inf_nan=False)] = None,
) -> ItemFilter | None:
    """The request's filter, None when it asks for none (the unfiltered fast path)."""
    if price_min is not None and price_max is not None and price_min > price_max:
        raise HTTPException(422, detail=f"query.price_min ({price_min}) must be <= query.price_max ({price_max})")
    if category is None and in_stock is None and price_min is None and price_max is None:
        return None
    return ItemFilter(categories=category, in_stock=in_stock, price_min=price_min, price_max=price_max)


FilterDep = Annotated[ItemFilter | None, Depends(item_filter)]


def listed(items: list[Recommended]) -> list[RecommendedItem]:
    """The service's result values as response items."""
    return [RecommendedItem(item=r.item, score=r.score, title=r.title, reason=r.reason) for r in items]
