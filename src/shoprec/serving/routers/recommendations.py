"""GET /recommendations/{user_id}: a user's top n with reasons; unknown users get the cold-start list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shoprec.serving.routers.deps import READ, FilterDep, N, ServiceDep, UserId, errors, listed
from shoprec.serving.schemas import Recommendations

router = APIRouter(tags=["recommendations"], dependencies=[READ], responses=errors(401, 403))


@router.get("/recommendations/{user_id}")
async def recommendations(
    user_id: UserId,
    service: ServiceDep,
    filters: FilterDep,
    n: N = 10,
    diversity: Annotated[
        float | None, Query(ge=0, le=1, allow_inf_nan=False, description="MMR diversity: 0 off, 1 most diverse")
    ] = None,
    long_tail: Annotated[
        float | None, Query(ge=0, le=10, allow_inf_nan=False, description="Popularity penalty: 0 off")
    ] = None,
    context: Annotated[
        str | None, Query(min_length=1, max_length=256, description="Category the user is browsing (cold start)")
    ] = None,
) -> Recommendations:
    """Top-n items for the user, never what the business rules exclude (already purchased, filtered out)."""
    result = service.recommend(
        user_id, n, filters=filters, diversity=diversity, long_tail=long_tail, context_category=context
    )
    return Recommendations(user=result.user, source=result.source, version=result.version, items=listed(result.items))
