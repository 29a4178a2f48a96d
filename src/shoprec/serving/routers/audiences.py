"""POST /audiences: the users most likely to want some items or a category, for a marketing campaign."""

from __future__ import annotations

from fastapi import APIRouter

from shoprec.serving.json_body import UniqueKeysRoute
from shoprec.serving.results import AudienceRequest
from shoprec.serving.routers.deps import WRITE, ServiceDep, errors
from shoprec.serving.schemas import Audience, AudienceIn, AudienceMember

router = APIRouter(
    tags=["audiences"], dependencies=[WRITE], responses=errors(401, 403, 404), route_class=UniqueKeysRoute
)


@router.post("/audiences")
def audience(request: AudienceIn, service: ServiceDep) -> Audience:
    """Best users first; with a campaign name the picked users are recorded as sent (for frequency caps)."""
    values = request.model_dump()
    values["items"] = values["items"] or []
    values["exclude_purchased_days"] = values["exclude_purchased_days"] or 0.0
    members = service.audience(AudienceRequest(**values))
    users = [AudienceMember(user=user, score=score) for user, score in members]
    return Audience(campaign=request.campaign, size=len(users), users=users)
