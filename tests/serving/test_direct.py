"""`routers.direct`: an endpoint reading its own request gets FastAPI's validation, key checks and OpenAPI back.

A tiny app (no shoprec service) with the endpoint written both ways: reading its request through the helpers,
as the recommendations endpoint does, and declared the FastAPI way, the reference it must answer like.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter

from shoprec.serving.app import _invalid_request
from shoprec.serving.routers.deps import UserId
from shoprec.serving.routers.direct import authorized, openapi_request, path_value, query_model
from shoprec.serving.schemas import MAX_N, ListQuery
from shoprec.serving.security import API_KEY_SCHEME, ApiKeys, Role, require

READ_KEY, WRITE_KEY = "read-key-0123456789", "write-key-0123456789"
_USER_ID = TypeAdapter(UserId)


class Echo(BaseModel):
    user: str
    query: ListQuery


def make_app() -> FastAPI:
    app = FastAPI()
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.state.api_keys = ApiKeys(read=READ_KEY, write=WRITE_KEY)

    @app.get("/echo/{user_id}", openapi_extra=openapi_request(path={"user_id": _USER_ID}, query=ListQuery))
    async def echo(request: Request) -> Response:
        authorized(request, Role.READ)
        user = path_value(request, "user_id", _USER_ID)
        echo = Echo(user=user, query=query_model(ListQuery, request))
        return Response(echo.model_dump_json(), media_type="application/json")

    @app.get("/declared/{user_id}", dependencies=[Depends(require(Role.READ))])
    async def declared(user_id: UserId, query: Annotated[ListQuery, Query()]) -> Echo:
        """The same endpoint declared the FastAPI way: the reference the direct one must match."""
        return Echo(user=user_id, query=query)

    return app


APP = make_app()


def get(url: str, key: str | None = READ_KEY) -> httpx.Response:
    """GET `url` from the app in process (httpx over ASGI), with `key` as the API key unless None."""

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=APP)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(url, headers={"X-API-Key": key} if key is not None else {})

    return asyncio.run(fetch())


def test_query_string_becomes_the_model() -> None:
    response = get("/echo/u1?n=5&category=a&category=b&in_stock=true&price_min=1.5&unknown=x&unknown=y")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "user": "u1",
        "query": {"n": 5, "category": ["a", "b"], "in_stock": True, "price_min": 1.5, "price_max": None},
    }


def test_defaults_and_a_single_list_value() -> None:
    assert get("/echo/u1").json()["query"] == ListQuery().model_dump()
    assert get("/echo/u1?category=shoes").json()["query"]["category"] == ["shoes"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("n=0", "query.n"),
        (f"n={MAX_N + 1}", "query.n"),
        ("n=five", "query.n"),
        ("in_stock=maybe", "query.in_stock"),
        ("price_min=-1", "query.price_min"),
        ("price_max=nan", "query.price_max"),
        ("category=" + "c" * 257, "query.category.0"),
        ("&".join(["category=c"] * 101), "query.category"),
    ],
)
def test_invalid_query_is_a_422_naming_the_field(query: str, field: str) -> None:
    response = get(f"/echo/u1?{query}")
    assert response.status_code == 422
    body = response.json()
    assert body["detail"].startswith(f"{field}: ")
    assert body["errors"][0]["loc"] == field.split(".")


def test_path_value_over_256_characters_is_a_422_naming_it() -> None:
    assert get("/echo/" + "u" * 256).status_code == 200
    response = get("/echo/" + "u" * 257)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("path.user_id: ")


def test_bad_path_and_bad_query_together_name_the_path() -> None:
    response = get("/echo/" + "u" * 257 + "?n=0")
    assert response.status_code == 422
    assert "path.user_id: " in response.json()["detail"]


@pytest.mark.parametrize(
    ("key", "status"),
    [(None, 401), ("", 401), ("not-a-key-0123456789", 403), (READ_KEY, 200), (WRITE_KEY, 200)],
)
def test_api_key_is_checked_before_anything_else(key: str | None, status: int) -> None:
    """The check comes first: a request without a key learns nothing about its (invalid) parameters."""
    assert get("/echo/u1", key).status_code == status
    invalid = get("/echo/u1?n=0", key)
    assert invalid.status_code == (422 if status == 200 else status)
    if status == 401:
        assert "X-API-Key" in invalid.json()["detail"]


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("/u1?n=7&category=a&category=b&price_max=3&extra=1", READ_KEY),
        ("/u1?n=7&n=9&in_stock=0", READ_KEY),
        ("/u1?n=1001", READ_KEY),
        ("/u1?category=" + "c" * 257, READ_KEY),
        ("/" + "u" * 257, READ_KEY),
        ("/u1", None),
        ("/u1", "not-a-key-0123456789"),
    ],
)
def test_direct_endpoint_answers_as_the_declared_one(url: str, key: str | None) -> None:
    direct, declared = get("/echo" + url, key), get("/declared" + url, key)
    assert direct.status_code == declared.status_code
    assert direct.json() == declared.json()


def test_openapi_describes_path_query_and_key() -> None:
    operation = get("/openapi.json").json()["paths"]["/echo/{user_id}"]["get"]
    parameters = {(p["in"], p["name"]): p for p in operation["parameters"]}
    assert set(parameters) == {("path", "user_id")} | {("query", name) for name in ListQuery.model_fields}

    user = parameters["path", "user_id"]
    assert user["required"] is True
    described = user["schema"].pop("description")
    assert user["schema"] == {"type": "string", "minLength": 1, "maxLength": 256}
    assert described.startswith("External user id (printable text") and user["description"] == described

    fields = ListQuery.model_json_schema()["properties"]
    for name in ListQuery.model_fields:
        assert parameters["query", name]["required"] is False
        # FastAPI writes its document without None values, so `"default": None` is left out
        assert parameters["query", name]["schema"] == {k: v for k, v in fields[name].items() if v is not None}
    assert parameters["query", "category"]["schema"]["anyOf"][0] == {
        "type": "array",
        "items": {
            "type": "string",
            "minLength": 1,
            "maxLength": 256,
            "description": "printable text, no control characters",
        },
        "maxItems": 100,
    }
    assert parameters["query", "n"]["schema"]["maximum"] == MAX_N == 1000
    assert parameters["query", "n"]["description"] == "How many items to return"
    assert operation["security"] == [{API_KEY_SCHEME: []}]


def test_openapi_matches_the_declared_endpoint() -> None:
    """Down to the schemas: only the path parameter's generated title ("User Id") is FastAPI's own addition."""
    paths = get("/openapi.json").json()["paths"]
    direct, declared = paths["/echo/{user_id}"]["get"], paths["/declared/{user_id}"]["get"]
    del declared["parameters"][0]["schema"]["title"]
    assert direct["parameters"] == declared["parameters"]
    assert direct["security"] == declared["security"]
