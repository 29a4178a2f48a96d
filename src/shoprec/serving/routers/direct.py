"""Endpoints that read their request directly: one pydantic validation instead of FastAPI's dependency solving.

The recommendations endpoint is the one a shop calls on every page view. FastAPI resolving its API-key
dependency, path parameter and query model cost ~580 of the ~740 us a request spent in the framework (measured
in-process with a stub service), several times the index search itself. An endpoint declared
with only `request: Request` skips that resolution; these helpers give it the same behaviour back: the query
string validated by the same pydantic model (422 naming `query.<field>`), the same key check, and the same
OpenAPI description (`openapi_extra`), so clients, docs and the schemathesis fuzz see no difference.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, TypeVar, get_args, get_origin

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError

from shoprec.serving.security import API_KEY_SCHEME, Role, authorize

Query = TypeVar("Query", bound=BaseModel)


def authorized(request: Request, role: Role) -> None:
    """The API-key check of `require(role)`, for an endpoint without dependencies (401 / 403)."""
    authorize(request.app.state.api_keys, request.headers.get("x-api-key"), role)


def path_value(request: Request, name: str, adapter: TypeAdapter[str]) -> str:
    """The path parameter `name` validated by `adapter` (e.g. its length), else a 422 naming `path.<name>`."""
    return _validated(adapter.validate_python, request.path_params[name], "path", name)


def query_model(model: type[Query], request: Request) -> Query:
    """The query string as `model` (list fields take every repeat of their parameter), else a 422 naming
    `query.<field>` exactly as FastAPI's own query models do."""
    return query_from_pairs(model, request.query_params.multi_items())


def query_from_pairs(model: type[Query], pairs: Iterable[tuple[str, str]]) -> Query:
    """`query_model` over decoded (name, value) pairs: a list field takes every value, another field the last
    (as Starlette's `QueryParams` does), unknown names are ignored."""
    lists = _list_fields(model)
    data: dict[str, Any] = {}
    for name, value in pairs:
        if name in lists:
            data.setdefault(name, []).append(value)
        elif name in model.model_fields:
            data[name] = value
    return _validated(model.model_validate, data, "query")


def openapi_request(*, path: dict[str, TypeAdapter[str]], query: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` describing what these helpers read: path parameters, the query model's fields as query
    parameters and the API-key requirement, as FastAPI would describe declared parameters. (The key scheme
    itself is registered by the app's routes that check keys through `require`.)"""
    fields = query.model_json_schema()["properties"]
    parameters = [_parameter(name, "path", adapter.json_schema(), required=True) for name, adapter in path.items()] + [
        _parameter(name, "query", fields[name], required=False) for name in query.model_fields
    ]
    return {"parameters": parameters, "security": [{API_KEY_SCHEME: []}]}


def _parameter(name: str, where: str, schema: dict[str, Any], *, required: bool) -> dict[str, Any]:
    described = {"name": name, "in": where, "required": required, "schema": schema}
    if "description" in schema:
        described["description"] = schema["description"]
    return described


def _validated(validate: Any, value: Any, where: str, *name: str) -> Any:
    try:
        return validate(value)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": (where, *name, *e["loc"])} for e in error.errors(include_url=False)]
        ) from None


@cache
def _list_fields(model: type[BaseModel]) -> frozenset[str]:
    """Names of the model's fields typed as a list (alone or in a union such as `list[str] | None`)."""

    def is_list(annotation: Any) -> bool:
        return get_origin(annotation) is list or any(get_origin(arg) is list for arg in get_args(annotation))

    return frozenset(name for name, field in model.model_fields.items() if is_list(field.annotation))
