"""The FastAPI app: routers, API keys, body-size limit, metrics and the error mapping — no logic of its own.

Most endpoints are sync (`def`), so the service's numpy/faiss/SQLite work runs in uvicorn's thread pool and
never blocks the event loop; recommendation requests, the hot path, are answered on the loop ahead of the
framework (`fast_path`). shoprec's own errors become clear 4xx answers with a `detail` that names the field:
NotFoundError -> 404, ConfigError/DataError -> 422, ArtifactError -> 409.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from shoprec import __version__
from shoprec.exceptions import ArtifactError, ConfigError, DataError, NotFoundError, ShoprecError
from shoprec.serving.connections import ConnectionLimits
from shoprec.serving.fast_path import ShoprecAPI
from shoprec.serving.metrics import HttpMetrics, MetricsMiddleware
from shoprec.serving.routers import ROUTERS
from shoprec.serving.security import ApiKeys, BodyLimit, check_exposure, warn_if_open
from shoprec.serving.service import RecommendationService

#: Default request body cap: a full 10,000-event batch is ~1 MB of compact JSON.
MAX_BODY_BYTES = 2 << 20
_STATUS: dict[type[ShoprecError], int] = {NotFoundError: 404, ArtifactError: 409, ConfigError: 422, DataError: 422}


@dataclass(frozen=True)
class ServerSettings:
    """What the HTTP layer is configured with (the service has its own PipelineConfig)."""

    api_keys: ApiKeys = field(default_factory=ApiKeys)
    max_body_bytes: int = MAX_BODY_BYTES
    #: /admin/swap accepts only pipelines under this folder (None: no swaps; `serve_pipeline` defaults it to
    #: the folder holding the served pipeline's folder).
    swap_root: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        """Keys from SHOPREC_API_KEY_*, the body cap from SHOPREC_MAX_BODY_BYTES, the swap root from
        SHOPREC_ARTIFACTS_ROOT (an existing folder)."""
        env = os.environ if environ is None else environ
        raw = env.get("SHOPREC_MAX_BODY_BYTES", str(MAX_BODY_BYTES))
        if not raw.isdigit() or int(raw) < 1024:
            raise ConfigError(f"SHOPREC_MAX_BODY_BYTES must be an integer >= 1024 (bytes), got {raw!r}")
        root = env.get("SHOPREC_ARTIFACTS_ROOT") or None
        if root is not None and not Path(root).is_dir():
            raise ConfigError(f"SHOPREC_ARTIFACTS_ROOT must be an existing folder, got {root!r}")
        return cls(api_keys=ApiKeys.from_env(env), max_body_bytes=int(raw), swap_root=Path(root) if root else None)


def create_app(service: RecommendationService, settings: ServerSettings | None = None) -> ShoprecAPI:
    """An app serving `service`; the caller owns the service (opens and closes it)."""
    settings = settings or ServerSettings()
    app = ShoprecAPI(
        title="shoprec",
        version=__version__,
        description="Recommendations, similar items, live events, audiences and deletion for an online shop.",
    )
    app.state.service = service
    app.state.api_keys = settings.api_keys
    app.state.swap_root = settings.swap_root
    app.state.metrics = HttpMetrics(service.stats)
    warn_if_open(settings.api_keys)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    for error in _STATUS:
        app.add_exception_handler(error, _shoprec_error)
    return app


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 whose detail is one line naming every bad field ("body.events.3.item: Field required")."""
    errors = [{"loc": [str(part) for part in e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()[:20]]
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
    return JSONResponse({"detail": detail, "errors": errors}, status_code=422)


async def _shoprec_error(request: Request, exc: Exception) -> JSONResponse:
    status = next(code for kind, code in _STATUS.items() if isinstance(exc, kind))
    return JSONResponse({"detail": str(exc)}, status_code=status)


def serve_pipeline(
    pipeline: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    log_level: str = "info",
    settings: ServerSettings | None = None,
    limits: ConnectionLimits | None = None,
    insecure_open: bool = False,
) -> None:
    """Open the pipeline's service and serve it with uvicorn until interrupted; then close it.

    `workers` > 1 forks that many processes after loading (`serving.workers`): the way to use more than one
    core. `limits` bound what each connection may take (`serving.connections`): requests over
    `limits.max_in_flight` in flight (per worker) get a 503 instead of queueing without bound. Without API keys
    only a loopback `host` is served, unless `insecure_open`.
    """
    import uvicorn

    from shoprec.serving.connections import guarded_protocol
    from shoprec.serving.pipeline import PipelineConfig
    from shoprec.serving.workers import listening_socket, run_workers, worker_socket

    settings = settings or ServerSettings.from_env()
    if settings.swap_root is None:  # default: pipelines beside the served one
        settings = replace(settings, swap_root=Path(pipeline).resolve().parent.parent)
    check_exposure(settings.api_keys, host, insecure_open=insecure_open)
    limits = limits or ConnectionLimits()
    if workers > 1 and not HttpMetrics.shared_across_processes():
        raise ConfigError(
            "--workers > 1 needs PROMETHEUS_MULTIPROC_DIR set (to an empty directory) before shoprec starts, "
            "so /metrics counts every worker's requests (`shoprec serve` sets it)"
        )
    sock = listening_socket(host, port) if workers > 1 else None
    service = RecommendationService.open(PipelineConfig.from_toml(pipeline), processes=workers)
    single_threaded_requests()
    options = {
        "http": guarded_protocol(limits),
        "timeout_keep_alive": limits.keep_alive,
        "limit_concurrency": None,  # counted by the protocol: requests in flight, not open connections
        "log_level": log_level,
        "timeout_graceful_shutdown": 10,
    }
    try:
        if sock is None:
            uvicorn.run(create_app(service, settings), host=host, port=port, **options)
        else:

            def serve_one() -> None:  # in each worker, after the fork: its own app, metrics and event loop
                uvicorn.Server(uvicorn.Config(create_app(service, settings), **options)).run([worker_socket(sock)])

            run_workers(service, sock, workers, serve_one)
    finally:
        service.close()


def single_threaded_requests() -> None:
    """One torch / BLAS / faiss thread per request: concurrency comes from the server's thread pool, and a
    request's work (one index probe, a small solve) is far too small to split, so extra threads per request
    only contend for the cores (measured ~10x slower two-tower / SASRec updates with 2 threads on 2 cores).

    Also moves everything loaded so far out of the garbage collector's reach (`gc.freeze`): the id maps of a
    large catalog are millions of long-lived objects, and scanning them in full collections stalled requests
    for tens of milliseconds."""
    import gc

    import faiss
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(limits=1)
    faiss.omp_set_num_threads(1)
    gc.collect()
    gc.freeze()
