"""GET /recommendations/{user_id}: a user's top n with reasons; unknown users get the cold-start list."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import TypeAdapter

from shoprec.serving.results import RecommendationList
from shoprec.serving.routers.deps import UserId, errors, item_filter
from shoprec.serving.routers.direct import authorized, openapi_request, path_value, query_model
from shoprec.serving.schemas import RecommendationQuery, Recommendations
from shoprec.serving.security import Role
from shoprec.serving.service import RecommendationService

router = APIRouter(tags=["recommendations"], responses=errors(401, 403))
#: The route's template: its metrics label, and the path `serving.fast_path` answers before the framework.
ROUTE = "/recommendations/{user_id}"
#: Ids may contain "/" (sent as %2F, decoded before routing): the path parameter takes the rest of the path.
PATH = "/recommendations/{user_id:path}"
USER_ID = TypeAdapter(UserId)
_LIST_JSON = TypeAdapter(RecommendationList)


@router.get(
    PATH,
    response_model=Recommendations,
    openapi_extra=openapi_request(path={"user_id": USER_ID}, query=RecommendationQuery),
)
async def recommendations(request: Request) -> Response:
    """Top-n items for the user, never what the business rules exclude (already purchased, filtered out)."""
    # The hot path: `async def` (a short CPU-bound search is cheaper on the event loop than handed to the
    # thread pool) and reading its request directly (`routers.direct`: FastAPI's dependency solving cost
    # more than the search, measured). Well-formed requests are answered before this by `serving.fast_path`;
    # this route answers the rest (every error) and describes the endpoint in the OpenAPI document.
    authorized(request, Role.READ)
    user_id = path_value(request, "user_id", USER_ID)
    query = query_model(RecommendationQuery, request)
    return Response(recommendations_json(request.app.state.service, user_id, query), media_type="application/json")


def recommendations_json(service: RecommendationService, user_id: str, query: RecommendationQuery) -> bytes:
    """The response body of a valid, authorized request: the service's list as `Recommendations` JSON,
    serialised from the result dataclasses directly (building the response models first cost ten times more)."""
    result = service.recommend(
        user_id,
        query.n,
        filters=item_filter(query),
        diversity=query.diversity,
        long_tail=query.long_tail,
        context_category=query.context,
    )
    return _LIST_JSON.dump_json(result)
