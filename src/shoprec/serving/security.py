"""API keys (one for reading, one for writes, one for admin work: deletion, model swaps) and the body-size cap.

Roles are ordered (read < write < admin) and a key opens its own role and every lower one. A role whose key and
higher keys are all unset is closed (403) once any key is configured: configuring keys never leaves a write path
open by accident. With no key configured at all the server runs open and says so once in the log; it refuses
to do so on anything but a loopback address unless told `insecure_open` (`check_exposure`).
"""

from __future__ import annotations

import enum
import hmac
import ipaddress
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fastapi import HTTPException, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shoprec.exceptions import ConfigError

HEADER = "X-API-Key"
ENV_PREFIX = "SHOPREC_API_KEY_"
MIN_KEY_LENGTH = 16

log = logging.getLogger("shoprec.serving")


class Role(enum.IntEnum):
    """What a key may do; a higher role includes the lower ones."""

    READ = 1
    WRITE = 2
    ADMIN = 3


@dataclass(frozen=True)
class ApiKeys:
    """The configured keys (None: not set)."""

    read: str | None = None
    write: str | None = None
    admin: str | None = None

    def __post_init__(self) -> None:
        for role in Role:
            key = self.key(role)
            if key is not None and len(key) < MIN_KEY_LENGTH:
                raise ConfigError(
                    f"{ENV_PREFIX}{role.name}: API keys must be at least {MIN_KEY_LENGTH} characters (got {len(key)})"
                )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiKeys:
        """Keys from SHOPREC_API_KEY_READ / _WRITE / _ADMIN; empty values count as unset."""
        env = os.environ if environ is None else environ
        values = {role.name.lower(): env.get(ENV_PREFIX + role.name) or None for role in Role}
        return cls(**values)

    def key(self, role: Role) -> str | None:
        return getattr(self, role.name.lower())

    @property
    def open(self) -> bool:
        """True when no key is configured: every request is allowed."""
        return all(self.key(role) is None for role in Role)

    def role_of(self, presented: str) -> Role | None:
        """The highest role whose key equals `presented` (constant-time comparisons), None when none does."""
        found = None
        for role in Role:
            key = self.key(role)
            if key is not None and hmac.compare_digest(key.encode(), presented.encode()):
                found = role
        return found


_header = APIKeyHeader(name=HEADER, auto_error=False, description="API key (read, write or admin)")
#: The name of the API-key scheme in the OpenAPI document.
API_KEY_SCHEME = _header.scheme_name


def require(role: Role) -> Callable[..., None]:
    """A FastAPI dependency: lets a request through when its key opens `role` (401 missing, 403 wrong).

    The keys are the app's (`app.state.api_keys`, set by `create_app`), so routers stay module-level objects.
    """

    async def check(request: Request, api_key: str | None = Security(_header)) -> None:
        authorize(request.app.state.api_keys, api_key, role)

    return check


def authorize(keys: ApiKeys, api_key: str | None, role: Role) -> None:
    """Nothing when `api_key` opens `role` (or no key is configured); else HTTPException 401 (none sent) or 403."""
    if keys.open:
        return
    if not api_key:
        raise HTTPException(401, detail=f"missing API key: send it in the {HEADER} header")
    granted = keys.role_of(api_key)
    if granted is None or granted < role:
        raise HTTPException(403, detail=f"this API key may not do this: a {role.name.lower()} key is needed")


def is_loopback(host: str) -> bool:
    """True when `host` names this machine only (127.0.0.0/8, ::1, "localhost"): nobody else can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # another host name: it may resolve to any interface
        return False


def check_exposure(keys: ApiKeys, host: str, *, insecure_open: bool = False) -> None:
    """ConfigError when the server would listen beyond this machine with no API key (anyone reaching it could
    delete users and swap models), unless the operator insists with `insecure_open`."""
    if keys.open and not insecure_open and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve on {host} without API keys: anyone who can reach it could write events, delete "
            f"users and swap models. Set {ENV_PREFIX}READ / _WRITE / _ADMIN (at least {MIN_KEY_LENGTH} characters "
            "each), listen on 127.0.0.1, or pass --insecure-open to serve without keys anyway"
        )


def warn_if_open(keys: ApiKeys) -> None:
    """One warning at start-up when the server runs without keys."""
    if keys.open:
        log.warning(
            "no API keys configured (%sREAD/_WRITE/_ADMIN): the server accepts every request, deletion included",
            ENV_PREFIX,
        )


class BodyLimit:
    """413 {"detail": ...} for request bodies over `max_bytes`: at once when Content-Length says so, else as
    soon as the streamed body passes the cap (so a chunked upload cannot exhaust memory either)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.detail = f"request body too large: at most {max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            await JSONResponse({"detail": self.detail}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, detail=self.detail)  # FastAPI's handler answers it while reading
            return message

        await self.app(scope, receive_limited, send)
