"""Crash safety: SIGKILL the server during a burst of event ingestion; every acknowledged event survives, whole.

A client thread posts batches (one synthetic user per batch, so a batch is recognisable in the store) and
records which were acknowledged (202). The server is killed mid-burst; the store file is then opened directly
with EventStore: each acknowledged batch must be there completely, and no batch may be there in part (the one
in flight at the kill is either all there — committed, answer lost — or absent). A restart on the same store
serves the replayed events.
"""

from __future__ import annotations

import threading

import httpx
import pytest
from tests.serving.server import Server, headers, new_pipeline

from shoprec.serving.pipeline import PipelineConfig
from shoprec.serving.store import EventStore

pytestmark = pytest.mark.slow
BATCH = 50
MAX_BATCHES = 400  # bound on the burst; the kill comes long before on any machine
ITEMS = [f"i{k:02d}" for k in range(40)]


def batch(k: int) -> list[dict]:
    """Batch k: user burst-k views BATCH items with distinct timestamps (so order is checkable)."""
    return [
        {"user": f"burst-{k}", "item": ITEMS[j % len(ITEMS)], "event": "view", "timestamp": 1.6e9 + k * BATCH + j}
        for j in range(BATCH)
    ]


def test_sigkill_during_ingestion_loses_no_acknowledged_event_and_shows_no_partial_batch(tmp_path_factory):
    pipeline = new_pipeline(tmp_path_factory)
    acknowledged: list[int] = []
    sent: list[int] = []
    failures: list[str] = []
    enough = threading.Event()

    server = Server(pipeline).start()

    def post_batches() -> None:
        with httpx.Client(base_url=server.url, timeout=30.0, headers=headers("write")) as client:
            for k in range(MAX_BATCHES):
                sent.append(k)
                try:
                    response = client.post("/events/batch", json={"events": batch(k)})
                except httpx.TransportError:
                    return  # the server is gone
                if response.status_code != 202 or response.json()["accepted"] != BATCH:
                    failures.append(f"batch {k}: {response.status_code} {response.text}")
                    enough.set()
                    return
                acknowledged.append(k)
                if len(acknowledged) >= 20:
                    enough.set()

    poster = threading.Thread(target=post_batches)
    poster.start()
    try:
        assert enough.wait(timeout=120), f"too few batches acknowledged:\n{server.log_tail()}"
        server.kill()
    finally:
        server.stop()
        poster.join(timeout=60)
    assert not poster.is_alive() and not failures, failures
    assert acknowledged and sent[-1] > acknowledged[0]

    store = EventStore(PipelineConfig.from_toml(pipeline).store)
    try:
        for k in sent:
            rows = store.history(f"burst-{k}")
            if k in acknowledged:
                assert len(rows) == BATCH, f"acknowledged batch {k} has {len(rows)} of {BATCH} events"
            assert len(rows) in (0, BATCH), f"batch {k} is partly stored ({len(rows)} of {BATCH})"
            if rows:
                assert [r[0] for r in rows] == [e["item"] for e in batch(k)]
                assert [r[3] for r in rows] == [e["timestamp"] for e in batch(k)]
        stored = store.counts()["events"]
    finally:
        store.close()
    assert len(acknowledged) * BATCH <= stored <= len(sent) * BATCH

    with Server(pipeline) as again, httpx.Client(base_url=again.url, headers=headers("read")) as client:
        last = acknowledged[-1]
        body = client.get(f"/recommendations/burst-{last}", params={"n": 5}).json()
        assert body["source"] == "personal"
        assert not {row["item"] for row in body["items"]} & {e["item"] for e in batch(last)}
