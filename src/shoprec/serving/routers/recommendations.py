"""GET /recommendations/{user_id}: a user's top n with reasons; unknown users get the cold-start list."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import TypeAdapter

from shoprec.serving.routers.deps import UserId, errors, item_filter, listed
from shoprec.serving.routers.direct import authorized, json_response, openapi_request, path_value, query_model
from shoprec.serving.schemas import RecommendationQuery, Recommendations
from shoprec.serving.security import Role

router = APIRouter(tags=["recommendations"], responses=errors(401, 403))
_USER_ID = TypeAdapter(UserId)


@router.get(
    "/recommendations/{user_id}",
    response_model=Recommendations,
    openapi_extra=openapi_request(path={"user_id": _USER_ID}, query=RecommendationQuery),
)
async def recommendations(request: Request) -> Response:
    """Top-n items for the user, never what the business rules exclude (already purchased, filtered out)."""
    # The hot path: `async def` (a short CPU-bound search is cheaper on the event loop than handed to the
    # thread pool) and reading its request directly (`routers.direct`: FastAPI's dependency solving cost
    # more than the search, measured).
    authorized(request, Role.READ)
    user_id = path_value(request, "user_id", _USER_ID)
    query = query_model(RecommendationQuery, request)
    result = request.app.state.service.recommend(
        user_id,
        query.n,
        filters=item_filter(query),
        diversity=query.diversity,
        long_tail=query.long_tail,
        context_category=query.context,
    )
    body = Recommendations(user=result.user, source=result.source, version=result.version, items=listed(result.items))
    return json_response(body)
