"""PUT /users/{user_id}/profile (write key) and DELETE /users/{user_id} (admin key: everything about them).

User ids may contain "/" (sent percent-encoded as %2F): `{user_id:path}` takes it."""

from __future__ import annotations

from fastapi import APIRouter

from shoprec.serving.json_body import UniqueKeysRoute
from shoprec.serving.routers.deps import ADMIN, WRITE, ServiceDep, UserId, errors
from shoprec.serving.schemas import Deleted, Profile, ProfileSaved, Removed

router = APIRouter(tags=["users"], responses=errors(401, 403), route_class=UniqueKeysRoute)


@router.put("/users/{user_id:path}/profile", dependencies=[WRITE])
def put_profile(user_id: UserId, profile: Profile, service: ServiceDep) -> ProfileSaved:
    """Set profile fields (e.g. segment) that cold start uses; null removes a field."""
    service.put_profile(user_id, profile.root)
    return ProfileSaved(user=user_id, fields=len(profile.root))


@router.delete("/users/{user_id:path}", dependencies=[ADMIN], responses=errors(404))
def delete_user(user_id: UserId, service: ServiceDep) -> Deleted:
    """Remove the user's events, profile, campaign sends and vector from the store and from everything served."""
    return Deleted(user=user_id, removed=Removed(**service.delete_user(user_id)))
