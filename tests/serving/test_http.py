"""Every endpoint against a real `shoprec serve` on 127.0.0.1: answers, auth by key role, clear 4xx, live loop."""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest
from tests.serving.server import KEYS, Server, headers, new_pipeline
from tests.serving.shop import train_split

from shoprec.exceptions import ConfigError
from shoprec.serving.metrics import StateCollector
from shoprec.serving.pipeline import PipelineConfig
from shoprec.serving.security import ApiKeys, Role

READ, WRITE, ADMIN = headers("read"), headers("write"), headers("admin")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    return new_pipeline(tmp_path_factory)


@pytest.fixture(scope="module")
def server(pipeline):
    with Server(pipeline) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=60.0) as http:
        yield http


@pytest.fixture(scope="module")
def shop():
    """Training interactions and item attributes, to check answers independently of the service."""
    train = train_split()
    category = train.item_features["category"]
    names = np.array(("", *category.values))[category.codes]
    ids = train.items.external(np.arange(train.n_items)).tolist()
    seen = {
        user: set(train.items.external(train.interactions.items[train.interactions.users == u]).tolist())
        for u, user in enumerate(train.users.external(np.arange(3)).tolist())
    }
    return {
        "category": dict(zip(ids, names.tolist(), strict=True)),
        "price": dict(zip(ids, train.item_features["price"].values.tolist(), strict=True)),
        "users": train.users.external(np.arange(train.n_users)).tolist(),
        "seen": seen,
    }


def recommend(client: httpx.Client, user: str, **params) -> dict:
    response = client.get(f"/recommendations/{user}", params=params, headers=READ)
    assert response.status_code == 200, response.text
    return response.json()


def ids(payload: dict) -> list[str]:
    return [row["item"] for row in payload["items"]]


# -- recommendations and similar items -------------------------------------------------------------------------


def test_known_user_gets_n_distinct_unseen_items_with_reasons(client, shop):
    user = shop["users"][0]
    body = recommend(client, user, n=5)
    assert body["user"] == user and body["source"] == "personal" and body["version"]
    items = ids(body)
    assert len(items) == 5 == len(set(items))
    assert not set(items) & shop["seen"][user]
    scores = [row["score"] for row in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert all(row["reason"] for row in body["items"])


def test_unknown_user_gets_the_cold_start_list(client):
    body = recommend(client, "nobody-ever-seen", n=7)
    assert body["source"] == "cold_start" and len(body["items"]) == 7


def test_filters_keep_only_matching_items(client, shop):
    category = shop["category"]["i00"]
    body = recommend(client, shop["users"][1], n=1000, category=category)
    assert body["items"] and {shop["category"][i] for i in ids(body)} == {category}
    body = recommend(client, shop["users"][1], n=1000, price_min=10, price_max=40)
    assert body["items"] and all(10 <= shop["price"][i] <= 40 for i in ids(body))


def test_similar_items_exclude_the_item_and_respect_n(client):
    response = client.get("/items/i00/similar", params={"n": 4}, headers=READ)
    assert response.status_code == 200, response.text
    items = [row["item"] for row in response.json()["items"]]
    assert len(items) == 4 and "i00" not in items


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/recommendations/u000", {"n": 0}, "query.n"),
        ("/recommendations/u000", {"n": 1001}, "query.n"),
        ("/recommendations/u000", {"n": "ten"}, "query.n"),
        ("/recommendations/u000", {"diversity": 2}, "query.diversity"),
        ("/recommendations/u000", {"price_min": "nan"}, "query.price_min"),
        ("/recommendations/u000", {"price_min": 5, "price_max": 1}, "query.price_min"),
        ("/items/i00/similar", {"n": -3}, "query.n"),
    ],
)
def test_bad_query_parameters_are_422_naming_the_parameter(client, path, params, field):
    response = client.get(path, params=params, headers=READ)
    assert response.status_code == 422
    assert field in response.json()["detail"]


def test_unknown_item_is_404(client):
    response = client.get("/items/no-such-item/similar", headers=READ)
    assert response.status_code == 404 and "no-such-item" in response.json()["detail"]
    response = client.post("/events", json={"user": "u000", "item": "no-such-item"}, headers=WRITE)
    assert response.status_code == 404


# -- auth ------------------------------------------------------------------------------------------------------

ENDPOINTS = [  # (method, path, body, role needed); each request is harmless when allowed
    ("GET", "/recommendations/u003", None, "read"),
    ("GET", "/items/i01/similar", None, "read"),
    ("PUT", "/users/auth-probe/profile", {"segment": "budget"}, "write"),
    ("POST", "/audiences", {"items": ["i01"], "size": 1}, "write"),
    ("DELETE", "/users/auth-probe-never-seen", None, "admin"),  # allowed: 404
    ("POST", "/admin/swap", {"pipeline": "/no/such/pipeline.toml"}, "admin"),  # allowed: 422
]
RANK = {"read": 1, "write": 2, "admin": 3}


@pytest.mark.parametrize(("method", "path", "body", "needed"), ENDPOINTS)
def test_each_key_opens_its_role_and_the_lower_ones(client, method, path, body, needed):
    assert client.request(method, path, json=body).status_code == 401
    wrong = client.request(method, path, json=body, headers={"X-API-Key": "not-a-key-at-all-0000"})
    assert wrong.status_code == 403
    for role in KEYS:
        status = client.request(method, path, json=body, headers=headers(role)).status_code
        if RANK[role] < RANK[needed]:
            assert status == 403, (role, status)
        else:
            assert status not in (401, 403) and status < 500, (role, status)


def test_keys_from_env_rank_roles_and_close_unkeyed_roles():
    keys = ApiKeys.from_env({"SHOPREC_API_KEY_READ": "r" * 16, "SHOPREC_API_KEY_ADMIN": "a" * 16})
    assert not keys.open and keys.write is None
    assert keys.role_of("r" * 16) is Role.READ and keys.role_of("a" * 16) is Role.ADMIN
    assert keys.role_of("w" * 16) is None and keys.role_of("") is None
    assert ApiKeys.from_env({"SHOPREC_API_KEY_WRITE": ""}).open
    with pytest.raises(ConfigError, match="SHOPREC_API_KEY_WRITE"):
        ApiKeys(write="short")


def test_state_gauges_skip_values_that_are_not_numbers():
    collector = StateCollector(lambda: {"index_size": 60, "index_kind": "exact", "event_lag_seconds": None, "ok": True})
    assert [(m.name, m.samples[0].value) for m in collector.collect()] == [("shoprec_index_size", 60.0)]


def test_health_metrics_and_openapi_need_no_key(client):
    assert client.get("/health").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/recommendations/{user_id}", "/items/{item_id}", "/events/batch", "/audiences", "/admin/swap"):
        assert path in paths
    client.get("/recommendations/u004", headers=READ)
    text = client.get("/metrics").text
    assert 'shoprec_http_requests_total{method="GET",route="/recommendations/{user_id}",status="200"}' in text
    assert "shoprec_http_request_duration_seconds_bucket" in text
    items = client.get("/health").json()["items"]
    assert f"shoprec_index_size {float(items)}" in text


# -- malformed bodies ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b'{"user": "u000", "item": ', "body"),  # bad JSON
        (b'{"user": "u000", "item": 5}', "body.item"),  # wrong type
        (b'{"user": "u000", "item": "i00", "colour": "red"}', "body.colour"),  # unknown field
        (b'{"user": "u000", "item": "i00", "weight": -1}', "body.weight"),
        (b'{"item": "i00"}', "body.user"),
        (b"[1, 2]", "body"),
    ],
)
def test_malformed_event_bodies_are_422_naming_the_field(client, content, field):
    response = client.post("/events", content=content, headers={**WRITE, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]


def test_oversize_body_is_413_and_oversize_batch_is_422(client):
    huge = b'{"events": [' + b",".join([b'{"user": "u000", "item": "i00"}'] * 80_000) + b"]}"
    response = client.post("/events/batch", content=huge, headers={**WRITE, "Content-Type": "application/json"})
    assert response.status_code == 413
    batch = {"events": [{"user": "u", "item": "i00"}] * 10_001}
    response = client.post("/events/batch", json=batch, headers=WRITE)
    assert response.status_code == 422 and "body.events" in response.json()["detail"]
    assert client.post("/events/batch", json={"events": []}, headers=WRITE).status_code == 422


# -- the live loop ---------------------------------------------------------------------------------------------


def test_a_purchase_removes_the_item_from_the_next_recommendations(client, shop):
    user = shop["users"][2]
    top = ids(recommend(client, user, n=10))[0]
    response = client.post("/events", json={"user": user, "item": top, "event": "purchase"}, headers=WRITE)
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 1 and len(response.json()["ids"]) == 1
    assert top not in ids(recommend(client, user, n=10))


def test_a_batch_is_acknowledged_with_consecutive_ids_and_makes_a_new_user_personal(client):
    events = [{"user": "fresh-user", "item": f"i0{k}", "event": "view", "timestamp": 1e9 + k} for k in range(3)]
    response = client.post("/events/batch", json={"events": events}, headers=WRITE)
    assert response.status_code == 202, response.text
    ids_ = response.json()["ids"]
    assert response.json()["accepted"] == 3 and ids_ == list(range(ids_[0], ids_[0] + 3))
    body = recommend(client, "fresh-user", n=5)
    assert body["source"] == "personal" and not set(ids(body)) & {"i00", "i01", "i02"}


def test_a_new_item_is_recommendable_and_similar_at_once(client, shop):
    category = shop["category"]["i00"]
    attributes = {"title": "Brand-new thing", "category": category, "price": 12.5, "in_stock": True}
    first = client.put("/items/new-item-1", json=attributes, headers=WRITE)
    assert first.status_code == 201 and first.json() == {"item": "new-item-1", "created": True}
    again = client.put("/items/new-item-1", json={"price": 11.0}, headers=WRITE)
    assert again.status_code == 200 and again.json()["created"] is False
    assert client.put("/items/new-item-2", json={"price": "cheap"}, headers=WRITE).status_code == 422
    similar = client.get("/items/new-item-1/similar", params={"n": 3}, headers=READ)
    assert similar.status_code == 200 and len(similar.json()["items"]) == 3
    listed = recommend(client, shop["users"][5], n=1000, category=category)
    assert "new-item-1" in ids(listed)


def test_profile_sets_the_segment_of_a_cold_start_user(client):
    response = client.put("/users/profiled-user/profile", json={"segment": "premium", "age": 31}, headers=WRITE)
    assert response.status_code == 200 and response.json() == {"user": "profiled-user", "fields": 2}
    assert recommend(client, "profiled-user", n=3)["source"] == "cold_start"
    bad = client.put("/users/profiled-user/profile", json={"segment": ["a"]}, headers=WRITE)
    assert bad.status_code == 422 and "segment" in bad.json()["detail"]


def audience(client: httpx.Client, **body) -> list[str]:
    response = client.post("/audiences", json=body, headers=WRITE)
    assert response.status_code == 200, response.text
    users = response.json()["users"]
    scores = [u["score"] for u in users]
    assert scores == sorted(scores, reverse=True)
    return [u["user"] for u in users]


def test_audience_size_target_and_frequency_cap_across_campaigns(client, shop):
    first = audience(client, items=["i03", "i04"], size=5, campaign="spring")
    assert len(first) == 5 == len(set(first))
    capped = audience(client, items=["i03", "i04"], size=5, campaign="summer", frequency_cap=1, cap_window_days=1)
    assert len(capped) == 5 and not set(capped) & set(first)
    assert len(audience(client, category=shop["category"]["i00"], size=3)) == 3
    both = client.post("/audiences", json={"items": ["i03"], "category": "anything"}, headers=WRITE)
    assert both.status_code == 422 and "items" in both.json()["detail"]


def test_deleting_a_user_removes_them_from_audiences_and_recommendations(client, shop):
    user = shop["users"][6]
    client.put(f"/users/{user}/profile", json={"segment": "budget"}, headers=WRITE)
    client.post("/events", json={"user": user, "item": "i07"}, headers=WRITE)
    everyone = len(shop["users"]) + 100
    assert user in audience(client, items=["i07"], size=everyone)
    response = client.delete(f"/users/{user}", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json() == {"user": user, "removed": {"events": 1, "profile": 1, "sends": 0, "vector": 1}}
    assert user not in audience(client, items=["i07"], size=everyone)
    assert recommend(client, user, n=3)["source"] == "cold_start"
    assert client.delete("/users/never-existed", headers=ADMIN).status_code == 404


# -- model swap ------------------------------------------------------------------------------------------------


def test_swap_during_a_burst_of_reads_drops_none(client, server, pipeline):
    reads: list[tuple[float, int]] = []  # (start time, status) of each read
    stop = threading.Event()

    def read() -> None:
        with httpx.Client(base_url=server.url, timeout=60.0, headers=READ) as own:
            while not stop.is_set() and len(reads) < 5000:
                began = time.monotonic()
                reads.append((began, own.get("/recommendations/u008", params={"n": 5}).status_code))

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 30
        while len(reads) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        wait_for(20)
        began = time.monotonic()
        response = client.post("/admin/swap", json={"pipeline": str(pipeline)}, headers=ADMIN)
        ended = time.monotonic()
        wait_for(len(reads) + 20)
    finally:
        stop.set()
        reader.join(timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == client.get("/health").json()["version"]
    assert any(began <= t <= ended for t, _ in reads), "no read overlapped the swap"
    assert {status for _, status in reads} == {200}


def test_swap_to_a_tampered_artifact_is_refused_and_serving_goes_on(client, pipeline, tmp_path):
    before = client.get("/health").json()["version"]
    config = PipelineConfig.from_toml(pipeline)
    tampered = shutil.copytree(config.retrieval, tmp_path / "model")
    weights = tampered / "tensors.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit of one weight: only the checksum can tell
    weights.write_bytes(bytes(data))
    toml = tmp_path / "pipeline.toml"
    toml.write_text(replace(config, retrieval=tampered).to_toml(tmp_path))
    response = client.post("/admin/swap", json={"pipeline": str(toml)}, headers=ADMIN)
    assert response.status_code == 409, response.text
    assert "tensors.safetensors" in response.json()["detail"]
    assert client.get("/health").json()["version"] == before
    assert recommend(client, "u009", n=2)["items"]
