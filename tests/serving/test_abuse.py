"""Issue 11 against a REAL server: requests cannot stop or starve the service.

Ids are data (the id policy of `shoprec.ids`, `/` included, on every route); stored rows that cannot be replayed
are quarantined rather than failing start-up or a swap; idle, slow and greedy connections are dropped in seconds
and never block a normal client; an open server refuses a non-loopback address; timestamps far in the future and
duplicate JSON keys are refused. Every socket is on 127.0.0.1 and every loop is bounded.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from tests.serving.server import Server, free_port, headers, new_pipeline
from tests.serving.test_store import write_unreplayable_rows

from shoprec.exceptions import ConfigError
from shoprec.serving.pipeline import PipelineConfig
from shoprec.serving.security import ApiKeys, check_exposure
from shoprec.serving.store import EventStore

pytestmark = pytest.mark.slow
TRAINED = ["i00", "i01", "i02"]  # items of the small shop's trained model (tests/serving/shop.py)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with Server(new_pipeline(tmp_path_factory)) as running:
        yield running


def client(server: Server, role: str = "admin") -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=headers(role), timeout=30.0)


# -- ids are data ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "where"),
    [
        ("POST", "/events", {"user": "bob\u0000", "item": "i00"}, "body.user"),
        ("POST", "/events", {"user": "bob", "item": "i00\u0000"}, "body.item"),
        ("POST", "/events/batch", {"events": [{"user": "a", "item": "i00"}, {"user": "b\n", "item": "i00"}]}, "1.user"),
        ("PUT", "/items/new%00", {"title": "x"}, "path.item_id"),
        ("PUT", "/items/%FF%FE", {"title": "x"}, "path.item_id"),  # not UTF-8: refused, not turned into U+FFFD
        ("PUT", "/items/fine", {"category": "bad\u0007"}, "body.category"),
        ("PUT", "/users/bob%00/profile", {"segment": "x"}, "path.user_id"),
        ("GET", "/recommendations/bob%00", None, "path.user_id"),
        ("GET", "/items/i00%00/similar", None, "path.item_id"),
        ("DELETE", "/users/bob%00", None, "path.user_id"),
        ("POST", "/audiences", {"category": "c\u0000", "size": 3}, "body.category"),
        ("POST", "/audiences", {"items": ["i00"], "campaign": "spring\u0000"}, "body.campaign"),
    ],
)
def test_ids_with_control_characters_or_bytes_that_are_not_utf8_are_refused_everywhere(
    server, method, path, body, where
):
    with client(server) as http:
        response = http.request(method, path, json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert where in detail and "not a valid id" in detail


def test_ids_with_a_slash_work_on_every_route_deletion_included(server):
    user, item = "shop/alice", "shop/new-item"
    with client(server) as http:
        created = http.put("/items/shop%2Fnew-item", json={"title": "Slash", "category": "c/1"})
        assert created.status_code == 201 and created.json()["item"] == item
        similar = http.get("/items/shop%2Fnew-item/similar", params={"n": 2})
        assert similar.status_code == 200 and similar.json()["item"] == item
        events = [{"user": user, "item": i, "event": "view"} for i in TRAINED]
        assert http.post("/events/batch", json={"events": events}).json()["accepted"] == 3
        listed = http.get("/recommendations/shop%2Falice", params={"n": 3}).json()
        assert listed["user"] == user and listed["source"] == "personal"
        profile = http.put("/users/shop%2Falice/profile", json={"segment": "s"})
        assert profile.status_code == 200 and profile.json()["user"] == user
        deleted = http.delete("/users/shop%2Falice")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json() == {"user": user, "removed": {"events": 3, "profile": 1, "sends": 0, "vector": 1}}
        assert http.get("/recommendations/shop%2Falice").json()["source"] == "cold_start"
    with EventStore(PipelineConfig.from_toml(server.pipeline).store) as store:
        assert store.history(user) == [] and store.profile(user) is None


# -- safe defaults -----------------------------------------------------------------------------------------------


def test_timestamps_more_than_a_day_ahead_are_refused_and_a_day_is_allowed(server):
    now = time.time()
    with client(server) as http:
        for ts in (32_503_680_000.0, now + 2 * 86_400):  # the year 3000, the day after tomorrow
            refused = http.post("/events", json={"user": "future", "item": "i00", "timestamp": ts})
            assert refused.status_code == 422 and "'timestamp' is more than a day ahead" in refused.json()["detail"]
        assert http.post("/events", json={"user": "future", "item": "i00", "timestamp": now + 3600}).status_code == 202


@pytest.mark.parametrize(
    ("path", "body", "key"),
    [
        ("/items/dup", b'{"price": 1, "price": 2}', "price"),
        ("/events", b'{"user": "u", "item": "i00", "user": "v"}', "user"),
        ("/events/batch", b'{"events": [{"user": "u", "item": "i00", "event": "view", "event": "cart"}]}', "event"),
    ],
)
def test_duplicate_json_keys_are_refused_naming_the_key(server, path, body, key):
    method = "PUT" if path.startswith("/items") else "POST"
    with client(server) as http:
        response = http.request(method, path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"] == f"body: duplicate JSON key {key!r} (each key may appear once per object)"


def test_an_open_server_refuses_a_non_loopback_host_and_says_how_to_fix_it(tmp_path_factory):
    pipeline = new_pipeline(tmp_path_factory)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPREC_API_KEY_")}
    command = [sys.executable, "-m", "shoprec", "serve", "--pipeline", str(pipeline), "--port", str(free_port())]
    done = subprocess.run([*command, "--host", "0.0.0.0"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    message = done.stdout + done.stderr
    assert "refusing to serve on 0.0.0.0 without API keys" in message and "--insecure-open" in message
    assert "Traceback" not in message


def test_exposure_rule() -> None:
    open_keys, keys = ApiKeys(), ApiKeys(read="read-key-0123456789")
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        check_exposure(open_keys, host)
    for host in ("0.0.0.0", "::", "192.168.1.10", "shop.example"):
        with pytest.raises(ConfigError, match=f"refusing to serve on {host} without API keys"):
            check_exposure(open_keys, host)
        check_exposure(open_keys, host, insecure_open=True)
        check_exposure(keys, host)


# -- start-up never fails because of stored data ------------------------------------------------------------------


def test_rows_that_cannot_be_replayed_are_quarantined_at_restart_and_at_a_swap(tmp_path_factory):
    pipeline = new_pipeline(tmp_path_factory)
    store = PipelineConfig.from_toml(pipeline).store
    with Server(pipeline) as first, client(first) as http:
        events = [{"user": "alice", "item": i} for i in TRAINED]
        assert http.post("/events/batch", json={"events": events}).status_code == 202
    write_unreplayable_rows(store)
    with Server(pipeline) as again, client(again) as http:
        assert http.get("/recommendations/alice").json()["source"] == "personal"  # the good rows replayed
        log = again.log.read_text(errors="replace")
        assert log.count("quarantined ") == 7
        assert "quarantined events row" in log and "user: contains NUL at position 3" in log
        write_unreplayable_rows(store)  # while serving: a swap replays the store too
        swapped = http.post("/admin/swap", json={"pipeline": str(pipeline)})
        assert swapped.status_code == 200, swapped.text
        assert http.get("/recommendations/alice").json()["source"] == "personal"
    with EventStore(store) as opened:
        assert len(opened.quarantined()) == 14 and opened.users_with_events() == ["alice"]


# -- connections cannot starve the service -----------------------------------------------------------------------


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.settimeout(10)
    return sock


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True when the server closes `sock` within `seconds` (whatever it sent first)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if sock.recv(4096) == b"":
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
    return False


def trickle(sock: socket.socket, data: bytes, stop: threading.Event) -> None:
    """Send `data` one byte every 0.3 s until it is sent, the server hangs up or `stop` is set."""
    for byte in data:
        if stop.wait(0.3):
            return
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory):
    """Short deadlines so the test takes seconds: a head in 1 s, a body in 1.5 s, 4 requests in flight."""
    args = ["--limit-concurrency", "4", "--header-timeout", "1", "--body-timeout", "1.5"]
    args += ["--max-connections-per-client", "16"]
    with Server(new_pipeline(tmp_path_factory), args=args) as running:
        yield running


def test_idle_and_slow_sockets_are_dropped_in_seconds_and_never_block_a_normal_client(strict_server):
    idle = [connect(strict_server) for _ in range(6)]
    slow_head = [connect(strict_server) for _ in range(2)]
    slow_body = connect(strict_server)
    slow_body.sendall(
        b"POST /events HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 40\r\n\r\n"
    )
    stop = threading.Event()
    trickles = [
        threading.Thread(target=trickle, args=(sock, b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n", stop))
        for sock in slow_head
    ] + [threading.Thread(target=trickle, args=(slow_body, b'{"user": "u", "item": "i00"}' + b" " * 12, stop))]
    opened = time.monotonic()
    for thread in trickles:
        thread.start()
    try:
        statuses = []
        with client(strict_server, "read") as http:
            for _ in range(20):  # ~2 s of requests while the sockets above hold on
                statuses.append(http.get("/recommendations/u000", params={"n": 3}).status_code)
                time.sleep(0.1)
        assert statuses == [200] * 20  # not one 503: waiting sockets are not requests in flight
        for sock in [*idle, *slow_head, slow_body]:
            assert closed_within(sock, 4.0), "a socket was not dropped"
        assert time.monotonic() - opened < 8.0
    finally:
        stop.set()
        for thread in trickles:
            thread.join(timeout=10)
        for sock in [*idle, *slow_head, slow_body]:
            sock.close()
    with client(strict_server) as http:  # the slow body never reached the store
        assert http.get("/recommendations/u", params={"n": 1}).json()["source"] == "cold_start"


def test_a_client_over_its_connection_cap_is_refused_until_its_idle_sockets_are_dropped(tmp_path_factory):
    args = ["--max-connections-per-client", "3", "--header-timeout", "1"]
    with Server(new_pipeline(tmp_path_factory), args=args) as running:
        held = [connect(running) for _ in range(3)]
        try:
            extra = connect(running)
            answer = extra.recv(4096)
            assert answer.startswith(b"HTTP/1.1 503 ") and b"too many open connections" in answer
            assert closed_within(extra, 2.0)
            extra.close()
            assert all(closed_within(sock, 4.0) for sock in held)
        finally:
            for sock in held:
                sock.close()
        with client(running, "read") as http:
            assert http.get("/health").status_code == 200


def test_a_request_head_larger_than_the_cap_is_refused(strict_server):
    sock = connect(strict_server)
    try:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it may answer and hang up first
            sock.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\n" + b"x-filler: " + b"a" * (80 << 10))
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 431 ")
    finally:
        sock.close()
