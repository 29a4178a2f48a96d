"""POST /admin/swap (admin key): load another pipeline fully, then serve it without dropping a request."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from shoprec.exceptions import ConfigError
from shoprec.serving.json_body import UniqueKeysRoute
from shoprec.serving.pipeline import PipelineConfig
from shoprec.serving.routers.deps import ADMIN, ServiceDep, errors
from shoprec.serving.schemas import SwapIn, Swapped

router = APIRouter(tags=["admin"], dependencies=[ADMIN], responses=errors(401, 403, 409), route_class=UniqueKeysRoute)


@router.post("/admin/swap")
def swap(request: SwapIn, service: ServiceDep) -> Swapped:
    """Swap in the pipeline at a path on the server; a corrupt artifact is refused (409) and nothing changes."""
    return Swapped(version=service.swap(_pipeline(request.pipeline)))


def _pipeline(path: str) -> PipelineConfig:
    """The pipeline config at `path`, every way of not being one (missing, a folder, unreadable) a 422."""
    if not Path(path).is_file():
        raise ConfigError(f"body.pipeline: no pipeline file at {path!r} on the server")
    try:
        return PipelineConfig.from_toml(path)
    except OSError as exc:
        raise ConfigError(f"body.pipeline: cannot read {path!r} ({exc.strerror})") from None
