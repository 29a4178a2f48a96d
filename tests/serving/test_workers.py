"""`shoprec serve --workers 2` for real on 127.0.0.1: every write is seen by every worker, metrics sum both,
a dead worker is replaced and catches up, and stopping the server stops its workers.

Each request here opens a new connection (no keep-alive), so the kernel spreads them over both workers; the
per-process metric files in PROMETHEUS_MULTIPROC_DIR show that both answered.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest
from tests.serving.server import Server, headers, new_pipeline

pytestmark = pytest.mark.slow
READ, WRITE, ADMIN = headers("read"), headers("write"), headers("admin")
ROUNDS = 12


@pytest.fixture(scope="module")
def metrics_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("prometheus")


@pytest.fixture(scope="module")
def server(tmp_path_factory, metrics_dir):
    pipeline = new_pipeline(tmp_path_factory)
    with Server(pipeline, workers=2, env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}) as running:
        yield running


def fresh(server: Server, method: str, path: str, **kwargs) -> httpx.Response:
    """One request on its own connection, so that either worker may answer it."""
    with httpx.Client(base_url=server.url, timeout=30.0, limits=httpx.Limits(max_keepalive_connections=0)) as http:
        return http.request(method, path, **kwargs)


def top_items(server: Server, user: str, n: int = 10) -> list[str]:
    response = fresh(server, "GET", f"/recommendations/{user}", params={"n": n}, headers=READ)
    assert response.status_code == 200, response.text
    return [row["item"] for row in response.json()["items"]]


def test_the_server_runs_two_workers(server):
    assert len(server.children()) == 2


def established_sockets(pid: int, port: int) -> int:
    """How many established TCP connections on the server's `port` the process `pid` holds (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, state, inode = int(fields[1].split(":")[1], 16), fields[3], fields[9]
        count += local_port == port and state == "01" and inode in inodes
    return count


def test_a_burst_of_keep_alive_connections_is_spread_over_the_workers(server):
    """Each worker listens on its own SO_REUSEPORT socket: connections opened together (as a load balancer or
    the benchmark's client pool does) land on both, not all on whichever worker happened to be awake."""
    port = int(server.url.rsplit(":", 1)[1])
    connections = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(24)]
    try:
        for conn in connections:  # one request each, so every connection has been accepted by a worker
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
            assert conn.recv(65536).startswith(b"HTTP/1.1 200")
        held = [established_sockets(pid, port) for pid in server.children()]
    finally:
        for conn in connections:
            conn.close()
    assert sum(held) == 24
    assert min(held) >= 3  # by hash: fewer than 3 of 24 on one worker has probability < 1e-4


def test_a_purchase_through_one_worker_is_excluded_by_every_worker(server, metrics_dir):
    for k in range(ROUNDS):
        user = f"u{k:03d}"
        top = top_items(server, user)[0]
        posted = fresh(server, "POST", "/events", json={"user": user, "item": top, "event": "purchase"}, headers=WRITE)
        assert posted.status_code == 202, posted.text
        for _ in range(3):  # several reads, over new connections: whichever worker answers has applied it
            assert top not in top_items(server, user)
    answered = {re.search(r"_(\d+)\.db$", p.name).group(1) for p in metrics_dir.glob("histogram_*.db")}
    assert set(map(str, server.children())) <= answered  # both workers answered (and wrote their metrics)


def test_metrics_count_the_requests_of_every_worker(server):
    def served() -> float:
        text = fresh(server, "GET", "/metrics").text
        pattern = r'shoprec_http_requests_total\{method="GET",route="/recommendations/\{user_id\}",status="200"\} (\S+)'
        return float(re.search(pattern, text).group(1))

    before = served()
    for _ in range(ROUNDS):
        top_items(server, "u001")
    assert served() - before == ROUNDS


def test_an_item_created_through_one_worker_takes_events_and_is_listed_by_all(server):
    created = fresh(server, "PUT", "/items/fresh-item", json={"title": "Fresh", "price": 3.0}, headers=WRITE)
    assert created.status_code == 201, created.text
    for k in range(ROUNDS // 2):
        event = {"user": f"newcomer-{k}", "item": "fresh-item", "event": "view"}
        assert fresh(server, "POST", "/events", json=event, headers=WRITE).status_code == 202
        similar = fresh(server, "GET", "/items/fresh-item/similar", params={"n": 3}, headers=READ)
        assert similar.status_code == 200 and len(similar.json()["items"]) == 3


def test_a_deleted_user_is_gone_from_every_worker(server):
    user = "u007"
    assert fresh(server, "GET", f"/recommendations/{user}", headers=READ).json()["source"] == "personal"
    deleted = fresh(server, "DELETE", f"/users/{user}", headers=ADMIN)
    assert deleted.status_code == 200 and deleted.json()["removed"]["vector"] == 1
    for _ in range(ROUNDS // 2):
        assert fresh(server, "GET", f"/recommendations/{user}", headers=READ).json()["source"] == "cold_start"


def test_a_live_swap_is_refused_with_the_reason(server):
    response = fresh(server, "POST", "/admin/swap", json={"pipeline": str(server.pipeline)}, headers=ADMIN)
    assert response.status_code == 422 and "worker processes" in response.json()["detail"]


def test_a_killed_worker_is_replaced_and_catches_up(server):
    killed = server.children()[0]
    os.kill(killed, signal.SIGKILL)
    user = "u011"
    top = top_items(server, user)[0]  # the surviving worker answers meanwhile
    event = {"user": user, "item": top, "event": "purchase"}
    assert fresh(server, "POST", "/events", json=event, headers=WRITE).status_code == 202
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (len(server.children()) < 2 or killed in server.children()):
        time.sleep(0.1)
    assert len(server.children()) == 2 and killed not in server.children()
    for _ in range(ROUNDS // 2):
        assert top not in top_items(server, user)


def test_stopping_the_server_stops_its_workers(tmp_path_factory):
    running = Server(new_pipeline(tmp_path_factory), workers=2).start()
    workers = running.children()
    running.stop()
    assert running.process.returncode == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
