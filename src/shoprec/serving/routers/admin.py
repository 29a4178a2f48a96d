"""POST /admin/swap (admin key): load another pipeline fully, then serve it without dropping a request.

Only pipelines under the server's artifacts root are accepted (SHOPREC_ARTIFACTS_ROOT; by default the folder
holding the served pipeline's folder), and so must be every path they name. A refused path gets the same
answer whatever the reason (outside the root, missing, not a file, not a valid pipeline), so the endpoint
reveals nothing of files it refuses; the reason goes to the server log. A refused swap changes nothing on disk.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, Request

from shoprec.exceptions import ConfigError
from shoprec.serving.json_body import UniqueKeysRoute
from shoprec.serving.pipeline import PipelineConfig, pipeline_paths
from shoprec.serving.routers.deps import ADMIN, ServiceDep, errors
from shoprec.serving.schemas import SwapIn, Swapped

router = APIRouter(tags=["admin"], dependencies=[ADMIN], responses=errors(401, 403, 409), route_class=UniqueKeysRoute)
log = logging.getLogger("shoprec.serving")

#: A pipeline.toml is a few hundred bytes; anything far larger is not one (and is not read).
MAX_PIPELINE_BYTES = 1 << 20


@router.post("/admin/swap")
def swap(request: SwapIn, http: Request, service: ServiceDep) -> Swapped:
    """Swap in the pipeline at a path under the artifacts root; a corrupt artifact is refused (409), nothing changes."""
    return Swapped(version=service.swap(pipeline_under_root(request.pipeline, http.app.state.swap_root)))


def pipeline_under_root(path: str, root: Path | None) -> PipelineConfig:
    """The pipeline config at `path` (relative paths: relative to `root`) when it and every path it names lie
    under `root`; else one ConfigError that says nothing about the file."""
    if root is None:
        raise ConfigError("body.pipeline: this server has no artifacts root, so it swaps to no pipeline")
    root = root.resolve()
    target = root / path
    if not _inside(target, root):  # also a NUL byte or a symlink loop
        raise _refused(path, "outside the artifacts root")
    target = target.resolve()  # relative paths in the file are relative to where it really lies
    if not _small_file(target):
        raise _refused(path, "no file of at most 1 MiB there")
    try:
        config = PipelineConfig.from_toml(target)
    except (ConfigError, OSError) as exc:
        raise _refused(path, str(exc)) from None
    outside = [key for key, value in pipeline_paths(config).items() if not _inside(value, root)]
    if outside:
        raise _refused(path, f"its {outside} lie outside the artifacts root")
    return config


def _inside(path: Path, root: Path) -> bool:
    """Whether `path`, symlinks resolved, lies under the (resolved) `root`; False for what is no path at all."""
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, ValueError, RuntimeError):
        return False


def _small_file(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size <= MAX_PIPELINE_BYTES
    except OSError:
        return False


def _refused(path: str, reason: str) -> ConfigError:
    """The one answer to every refused path (the reason only in the server log)."""
    log.warning("swap to %r refused: %s", path, reason)
    return ConfigError(
        f"body.pipeline: {path!r} is not a pipeline this server may swap to: it must be a valid pipeline.toml "
        "under the server's artifacts root, naming only paths under it (the server log says why)"
    )
