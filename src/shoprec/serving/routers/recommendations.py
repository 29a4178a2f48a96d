"""GET /recommendations/{user_id}: a user's top n with reasons; unknown users get the cold-start list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shoprec.serving.routers.deps import READ, ServiceDep, UserId, errors, item_filter, listed
from shoprec.serving.schemas import RecommendationQuery, Recommendations

router = APIRouter(tags=["recommendations"], dependencies=[READ], responses=errors(401, 403))


@router.get("/recommendations/{user_id}")
async def recommendations(
    user_id: UserId, service: ServiceDep, query: Annotated[RecommendationQuery, Query()]
) -> Recommendations:
    """Top-n items for the user, never what the business rules exclude (already purchased, filtered out).

    `async def`: the work is a short CPU-bound search, cheaper run on the event loop than handed to the
    thread pool (the hop cost more than the search, measured)."""
    result = service.recommend(
        user_id,
        query.n,
        filters=item_filter(query),
        diversity=query.diversity,
        long_tail=query.long_tail,
        context_category=query.context,
    )
    return Recommendations(user=result.user, source=result.source, version=result.version, items=listed(result.items))
