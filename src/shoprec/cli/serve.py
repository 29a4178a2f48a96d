"""`shoprec serve --pipeline P | --run R`: the HTTP API (FastAPI + uvicorn) over a serving pipeline.

`--run` takes a trained run directory (`shoprec train --out R`) and writes its pipeline to `R/pipeline` first.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from shoprec.cli.console import report_errors
from shoprec.cli.paths import check_input
from shoprec.exceptions import ConfigError

_EXTRA = ("fastapi", "uvicorn", "prometheus_client", "faiss")
#: A DNS host name: dot-separated labels of letters, digits and inner hyphens.
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def require_serve_extra() -> None:
    """ConfigError naming the `serve` extra when a package the HTTP server needs is missing."""
    missing = [name for name in _EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"serving needs {missing}: install the serve extra (pip install 'shoprec[serve]')")


def check_host(host: str) -> str:
    """`host` if it is an IP address or a host name (letters, digits, '-' and '.'); else ConfigError."""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if not _HOST_NAME.match(host):
        raise ConfigError(f"--host: expected an IP address (127.0.0.1, 0.0.0.0, ::1) or a host name, got {host!r}")
    return host


def serve(
    pipeline: Path | None = typer.Option(None, "--pipeline", "-p", help="pipeline.toml written by write_pipeline."),
    run: Path | None = typer.Option(
        None, "--run", help="A trained run directory; its pipeline is written to RUN/pipeline."
    ),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(
        1,
        min=1,
        max=64,
        help="Worker processes, forked after loading (about one per core); live swaps need 1.",
    ),
    limit_concurrency: int = typer.Option(
        256, min=1, help="Requests in flight (per worker) before new ones get 503; idle connections do not count."
    ),
    header_timeout: float = typer.Option(
        5.0,
        min=0.1,
        help="Seconds a client has to send a request's line and headers (from connecting or the last response).",
    ),
    body_timeout: float = typer.Option(
        30.0, min=0.1, help="Seconds a client has to send a request's body, and to read a stalled response."
    ),
    keep_alive_timeout: float = typer.Option(5.0, min=0.1, help="Seconds an idle keep-alive connection stays open."),
    max_connections_per_client: int = typer.Option(
        128, min=1, help="Open connections per client address (per worker); more are answered 503 and closed."
    ),
    insecure_open: bool = typer.Option(
        False, "--insecure-open", help="Serve a non-loopback --host without API keys (anyone could delete users)."
    ),
    log_level: str = typer.Option(
        "info", help=f"uvicorn log level: {', '.join(_LOG_LEVELS)} (warning: no access log)."
    ),
) -> None:
    """Serve recommendations, similar items, events, audiences and deletion over HTTP.

    API keys come from SHOPREC_API_KEY_READ / _WRITE / _ADMIN; without any the server runs open (warned), and
    only on a loopback --host unless --insecure-open. Connection limits: docs/serving/api.md.
    """
    if log_level not in _LOG_LEVELS:
        raise typer.BadParameter(
            f"expected one of {', '.join(_LOG_LEVELS)}, got {log_level!r}", param_hint="--log-level"
        )
    with report_errors():
        if (pipeline is None) == (run is None):
            raise ConfigError("pass exactly one of --pipeline (a pipeline.toml) or --run (a trained run directory)")
        check_host(host)
        if pipeline is not None:
            check_input(pipeline, "--pipeline", folder=False, must_exist=False)
        if run is not None:
            check_input(run, "--run", folder=True)
        require_serve_extra()
        with metrics_dir(workers):
            from shoprec.serving.app import serve_pipeline
            from shoprec.serving.connections import ConnectionLimits
            from shoprec.serving.pipeline import write_pipeline

            limits = ConnectionLimits(
                header_timeout=header_timeout,
                body_timeout=body_timeout,
                keep_alive=keep_alive_timeout,
                per_client=max_connections_per_client,
                max_in_flight=limit_concurrency,
            )

            if run is not None:
                pipeline = write_pipeline(run, run / "pipeline")
            serve_pipeline(
                pipeline,
                host=host,
                port=port,
                workers=workers,
                log_level=log_level,
                limits=limits,
                insecure_open=insecure_open,
            )


@contextmanager
def metrics_dir(workers: int) -> Iterator[None]:
    """With several workers: a fresh PROMETHEUS_MULTIPROC_DIR, set before prometheus_client is first imported
    (it picks its storage at import) and removed afterwards, so /metrics sums every worker's requests."""
    if workers == 1 or "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="shoprec-metrics-") as path:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
        try:
            yield
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]
