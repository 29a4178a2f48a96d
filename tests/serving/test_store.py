"""EventStore: durability (WAL, full sync, SIGKILL), all-or-nothing batches, queries against hand-computed answers."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoprec.exceptions import ConfigError, DataError
from shoprec.serving.store import SCHEMA_VERSION, Event, EventStore


@pytest.fixture
def store(tmp_path: Path):
    with EventStore(tmp_path / "events.db", allowed_events={"view", "cart", "purchase"}) as opened:
        yield opened


def test_pragmas_make_commits_durable(store: EventStore) -> None:
    with store._connection() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        indexes = {row[1] for row in conn.execute("SELECT * FROM sqlite_master WHERE type = 'index'")}
    assert {"events_user_ts", "events_item_event_ts"} <= indexes


def test_append_returns_the_stored_row_ids_and_stamps_time(store: EventStore) -> None:
    before = time.time()
    ids = store.append([Event("u1", "a"), Event("u2", "b", "cart", 2, 50.0), Event("u1", "c", "purchase", 0.5)])
    after = time.time()
    assert ids == [1, 2, 3]
    assert store.append([Event("u3", "a")]) == [4]
    assert store.append([]) == []
    with store._connection() as conn:
        rows = conn.execute("SELECT id, user, item, event, weight, ts FROM events ORDER BY id").fetchall()
    assert [r[:5] for r in rows] == [
        (1, "u1", "a", "view", None),
        (2, "u2", "b", "cart", 2.0),
        (3, "u1", "c", "purchase", 0.5),
        (4, "u3", "a", "view", None),
    ]
    assert rows[1][5] == 50.0
    assert rows[0][5] == rows[2][5] and before <= rows[0][5] <= after  # one batch, one default timestamp


def test_history_orders_by_time_then_arrival_and_keeps_the_last_limit(store: EventStore) -> None:
    store.append([Event("u", "late", timestamp=30.0), Event("u", "early", timestamp=10.0)])
    store.append([Event("u", "tie-first", timestamp=20.0), Event("u", "tie-second", "cart", 3.0, 20.0)])
    store.append([Event("other", "x", timestamp=15.0)])
    expected = [
        ("early", "view", None, 10.0),
        ("tie-first", "view", None, 20.0),
        ("tie-second", "cart", 3.0, 20.0),
        ("late", "view", None, 30.0),
    ]
    assert store.history("u") == expected
    assert store.history("u", limit=2) == expected[2:]
    assert store.history("u", limit=0) == []
    assert store.history("nobody") == []
    assert store.histories(["u", "nobody", "other"]) == {
        "u": expected,
        "nobody": [],
        "other": [("x", "view", None, 15.0)],
    }
    assert store.users_with_events() == ["other", "u"]


batches = st.lists(
    st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 5), st.integers(0, 3)), min_size=1, max_size=6),
    min_size=1,
    max_size=5,
)


@settings(max_examples=25, deadline=None)
@given(batches=batches, limit=st.integers(0, 8))
def test_history_matches_a_reference_sort(batches: list[list[tuple[str, int, int]]], limit: int) -> None:
    """Property: history == the user's events stably sorted by timestamp (arrival order breaks ties)."""
    with tempfile.TemporaryDirectory() as tmp, EventStore(Path(tmp) / "e.db") as store:
        arrived = []
        for batch in batches:
            store.append([Event(user, f"i{item}", timestamp=float(ts)) for user, item, ts in batch])
            arrived.extend(batch)
        histories = store.histories(["a", "b", "c"])
        for user in "abc":
            reference = sorted(
                ((f"i{i}", "view", None, float(t)) for u, i, t in arrived if u == user), key=lambda r: r[3]
            )
            assert store.history(user) == reference == histories[user]
            assert store.history(user, limit) == (reference[-limit:] if limit else [])


def test_users_with_event_respects_type_and_since(store: EventStore) -> None:
    store.append(
        [
            Event("u", "a", "purchase", timestamp=10.0),
            Event("u", "b", "purchase", timestamp=20.0),
            Event("u", "a", "purchase", timestamp=30.0),
            Event("u", "c", "view", timestamp=40.0),
            Event("v", "b", "purchase", timestamp=5.0),
            Event("w", "c", "purchase", timestamp=25.0),
        ]
    )
    assert store.users_with_event(["b"], "purchase", since=0.0) == {"u", "v"}
    assert store.users_with_event(["b"], "purchase", since=10.0) == {"u"}
    assert store.users_with_event(["b", "c"], "purchase", since=10.0) == {"u", "w"}
    assert store.users_with_event(["c"], "view", since=41.0) == set()
    many = [f"item{i}" for i in range(5000)] + ["a"]  # more ids than SQLite's bound-parameter limit of old builds
    assert store.users_with_event(many, "purchase", since=0.0) == {"u"}


def test_send_counts_add_up_across_campaigns_in_the_window(store: EventStore) -> None:
    store.record_sends("spring", ["u", "v"], timestamp=100.0)
    store.record_sends("summer", ["u"], timestamp=200.0)
    store.record_sends("summer", ["u", "w"], timestamp=300.0)
    assert store.send_counts(["u", "v", "w", "x"], since=0.0) == {"u": 3, "v": 1, "w": 1, "x": 0}
    assert store.send_counts(["u", "v"], since=150.0) == {"u": 2, "v": 0}
    assert store.send_counts(None, since=250.0) == {"u": 1, "w": 1}
    with pytest.raises(DataError, match="record_sends position 1: field 'user'"):
        store.record_sends("autumn", ["u", ""])
    assert store.counts()["sends"] == 5


def test_profiles_and_items_are_merge_upserts(store: EventStore) -> None:
    assert store.profile("u") is None
    store.put_profile("u", {"segment": "student", "age": 20})
    store.put_profile("u", {"age": 21, "city": "Oslo"})
    assert store.profile("u") == {"segment": "student", "age": 21, "city": "Oslo"}
    store.put_profile("u", {"city": None})  # RFC 7396: null removes the key
    assert store.profile("u") == {"segment": "student", "age": 21}
    store.put_item("b", {"title": "Book", "price": 9.5, "tags": {"new": True}})
    store.put_item("a", {"title": "Apple", "in_stock": True})
    store.put_item("b", {"price": 7.0, "tags": {"sale": True}})
    assert store.items() == {
        "a": {"title": "Apple", "in_stock": True},
        "b": {"title": "Book", "price": 7.0, "tags": {"new": True, "sale": True}},
    }
    assert list(store.items()) == ["a", "b"]  # order of last update
    with pytest.raises(DataError, match="not JSON-serialisable"):
        store.put_item("c", {"price": float("nan")})
    with pytest.raises(DataError, match="'user' must be 1-256 characters"):
        store.put_profile("", {"segment": "x"})


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (Event("", "a"), "user"),
        (Event("u", ""), "item"),
        (Event("u", "a", "wishlist"), "event"),
        (Event("u", "a", weight=float("nan")), "weight"),
        (Event("u", "a", weight=float("inf")), "weight"),
        (Event("u", "a", weight=True), "weight"),
        (Event("u", "a", timestamp=float("-inf")), "timestamp"),
        (Event("u", 7), "item"),  # type: ignore[arg-type]
    ],
)
def test_a_bad_event_rejects_the_whole_batch(store: EventStore, bad: Event, field: str) -> None:
    store.append([Event("keep", "k")])
    with pytest.raises(DataError, match=f"event 2 of the batch.*field '{field}'") as info:
        store.append([Event("u", "x"), Event("u", "y"), bad, Event("u", "z")])
    assert info.value.column == field
    assert store.counts()["events"] == 1 and store.history("u") == []


def test_unknown_event_types_pass_without_an_allowed_set(tmp_path: Path) -> None:
    with EventStore(tmp_path / "e.db") as store:
        assert store.append([Event("u", "a", "wishlist", np.float32(0.25), np.int64(7))]) == [1]
        assert store.history("u") == [("a", "wishlist", 0.25, 7.0)]


def test_delete_user_removes_everything_of_theirs_and_leaves_a_tombstone(store: EventStore) -> None:
    store.append([Event("u", "a"), Event("u", "b", "purchase"), Event("v", "a")])
    store.put_profile("u", {"segment": "s"})
    store.put_profile("v", {"segment": "t"})
    store.record_sends("c1", ["u", "v"])
    store.record_sends("c2", ["u"])
    assert store.delete_user("u") == {"events": 2, "profile": 1, "sends": 2}
    assert store.history("u") == [] and store.profile("u") is None
    assert store.send_counts(["u", "v"], since=0.0) == {"u": 0, "v": 1}
    assert store.history("v") != [] and store.profile("v") == {"segment": "t"}
    assert store.delete_user("trained-only") == {"events": 0, "profile": 0, "sends": 0}
    assert store.deleted_users() == ["u", "trained-only"]
    assert store.counts() == {"events": 1, "users": 1, "items": 0, "profiles": 1, "sends": 1, "deleted": 2}


def test_a_failed_transaction_leaves_nothing_behind(store: EventStore) -> None:
    """The mechanism behind all-or-nothing writes: an error inside the transaction rolls all of it back."""
    store.append([Event("u", "a")])
    with pytest.raises(RuntimeError, match="boom"), store._transaction() as conn:
        conn.execute("DELETE FROM events WHERE user = 'u'")
        conn.execute("INSERT INTO profiles VALUES ('u', '{}', 0)")
        raise RuntimeError("boom")
    assert [row[:3] for row in store.history("u")] == [("a", "view", None)]
    assert store.profile("u") is None
    assert store.append([Event("u", "b")]) == [2]  # the pooled connection is usable again


def test_closed_and_in_memory_stores_are_refused(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "e.db")
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.history("u")
    with pytest.raises(ConfigError, match="path"):
        EventStore(":memory:")


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with EventStore(path) as store:
        store.append([Event("u", "a", "purchase", 1.5, 10.0), Event("gone", "a")])
        store.put_profile("u", {"segment": "s"})
        store.put_item("new", {"title": "New"})
        store.record_sends("c", ["u"], timestamp=5.0)
        store.delete_user("gone")
    with EventStore(path) as store:
        assert store.history("u") == [("a", "purchase", 1.5, 10.0)]
        assert store.profile("u") == {"segment": "s"}
        assert store.items() == {"new": {"title": "New"}}
        assert store.send_counts(["u"], since=0.0) == {"u": 1}
        assert store.deleted_users() == ["gone"]
        assert store.append([Event("u", "b")]) == [3]  # ids are never reused, even after a deletion


def test_a_store_from_a_future_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    EventStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.close()
    with pytest.raises(DataError, match=f"schema version {SCHEMA_VERSION + 1} is not the version {SCHEMA_VERSION}"):
        EventStore(path)


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    path.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(DataError, match="not a readable shoprec event store") as info:
        EventStore(path)
    assert info.value.path == str(path)


def test_concurrent_writers_and_readers_keep_batches_whole(store: EventStore) -> None:
    errors: list[BaseException] = []
    acked: dict[str, list[int]] = {}

    def writer(worker: int) -> None:
        try:
            for batch in range(15):
                name = f"w{worker}b{batch}"
                acked[name] = store.append([Event(name, f"i{j}", timestamp=float(j)) for j in range(8)])
                store.history(f"w{(worker + 1) % 4}b0")
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    all_ids = sorted(i for ids in acked.values() for i in ids)
    assert all_ids == list(range(1, 4 * 15 * 8 + 1))
    for ids in acked.values():
        assert ids == list(range(ids[0], ids[0] + 8))
    histories = store.histories(list(acked))
    assert all(h == [(f"i{j}", "view", None, float(j)) for j in range(8)] for h in histories.values())


_CRASH_CHILD = """
import sys
from shoprec.serving.store import Event, EventStore

store = EventStore(sys.argv[1])
for batch in range(3000):
    ids = store.append([Event(f"b{batch}", f"i{j}", "view", float(j)) for j in range(int(sys.argv[2]))])
    print(batch, ids[0], ids[-1], flush=True)
"""


def test_sigkill_mid_burst_loses_no_acknowledged_event_and_no_batch_is_partial(tmp_path: Path) -> None:
    path, size = tmp_path / "events.db", 50
    child = subprocess.Popen(
        [sys.executable, "-c", _CRASH_CHILD, str(path), str(size)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acked: dict[int, tuple[int, int]] = {}
    deadline = None
    while True:
        line = child.stdout.readline()
        if not line:
            break
        batch, first, last = map(int, line.split())
        acked[batch] = (first, last)
        deadline = deadline or time.monotonic() + 0.3  # a few hundred ms of burst after the first ack
        if time.monotonic() > deadline:
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=10)
    acked.update(
        {int(b): (int(f), int(la)) for b, f, la in (ln.split() for ln in child.stdout.read().splitlines() if ln)}
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.read()
    assert len(acked) >= 5

    with EventStore(path) as store, store._connection() as conn:
        rows = conn.execute("SELECT id, user, item, weight FROM events ORDER BY id").fetchall()
    by_batch: dict[int, list[tuple[int, str, float]]] = {}
    for row_id, user, item, weight in rows:
        by_batch.setdefault(int(user[1:]), []).append((row_id, item, weight))
    for batch, (first, last) in acked.items():
        assert [r[0] for r in by_batch[batch]] == list(range(first, last + 1))
    for stored in by_batch.values():  # acknowledged or not, a stored batch is complete
        assert [(item, weight) for _, item, weight in stored] == [(f"i{j}", float(j)) for j in range(size)]
    assert set(by_batch) - set(acked) <= {max(acked) + 1}  # at most the in-flight batch committed unacknowledged


def test_a_version_1_store_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with EventStore(path) as store:
        store.append([Event("u", "a", "view", timestamp=1.0)])
    with sqlite3.connect(path) as conn:  # what shoprec's first store version looked like: no change log
        conn.execute("DROP TABLE changes")
        conn.execute("DROP TABLE quarantine")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.close()
    with EventStore(path) as store:
        assert store.history("u") == [("a", "view", None, 1.0)]
        assert store.latest_change() == 0  # the old events predate the log (the replay on open reads them)
        store.append([Event("u", "b", "view", timestamp=2.0)])
        assert store.changes_since(0) == [(1, "events", "", "[2, 2]")]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    conn.close()


def test_the_change_log_lists_every_served_write_in_commit_order(store: EventStore) -> None:
    assert store.latest_change() == 0
    ids = store.append([Event("u", "a", "view", timestamp=1.0), Event("v", "b", "cart", timestamp=2.0)])
    store.put_item("new", {"title": "New", "brand": None})
    store.put_profile("u", {"segment": "s"})  # read from the store when needed: not a served change
    store.record_sends("c", ["u"])
    store.delete_user("v")
    changes = store.changes_since(0)
    assert [(kind, key) for _, kind, key, _ in changes] == [("events", ""), ("item", "new"), ("delete", "v")]
    assert changes[0][3] == f"[{ids[0]}, {ids[1]}]" and changes[1][3] == '{"title": "New", "brand": null}'
    assert [seq for seq, *_ in changes] == [1, 2, 3] and store.latest_change() == 3
    assert store.changes_since(2) == changes[2:]
    assert store.events_between(ids[0], ids[1]) == [("u", "a", "view", 1.0)]  # v's event went with v


def write_unreplayable_rows(path: Path) -> None:
    """Rows no write accepts, put straight into a store file (an old release, another tool, a hand edit)."""
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO events (user, item, event, weight, ts) VALUES (?, ?, 'view', NULL, ?)",
            [("bob\x00", "a", 1.0), ("carol", "b\x07", 2.0), ("dave", "a", "not a time")],
        )
        conn.execute(
            "INSERT INTO events (user, item, event, weight, ts) VALUES (CAST(x'ff61' AS TEXT), 'a', 'view', NULL, 3)"
        )
        conn.execute("INSERT INTO items (item, data, updated) VALUES ('broken', 'not json', 1)")
        conn.execute("INSERT INTO profiles (user, data, updated) VALUES ('u', '[1, 2]', 1)")
        conn.execute("INSERT INTO deleted (user, ts) VALUES (?, 1)", ("eve\x00",))
    conn.close()


def test_rows_that_cannot_be_replayed_are_quarantined_whole_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with EventStore(path) as store:
        store.append([Event("alice", "a", "view", timestamp=1.0), Event("carol", "c", "view", timestamp=2.0)])
        store.put_item("fine", {"title": "Fine"})
    write_unreplayable_rows(path)
    with EventStore(path) as store:
        moved = store.quarantine_unreplayable()
        reasons = {(row.source, row.key): row.reason for row in moved}
        assert len(moved) == 7
        assert reasons["events", "bob\x00"] == "user: contains NUL at position 3 (ids are printable text)"
        assert reasons["events", "carol"].startswith("item: contains character U+0007")
        assert reasons["events", "dave"] == "event is not text, or ts / weight is not a finite number"
        assert reasons["events", "\udcffa"].startswith("user: contains character U+DCFF")  # bytes not UTF-8
        assert reasons["items", "broken"] == reasons["profiles", "u"] == "data is not a JSON object"
        assert reasons["deleted", "eve\x00"].startswith("user: contains NUL")
        # what stays is exactly the valid data, readable by every query the replay makes
        assert store.users_with_events() == ["alice", "carol"]
        assert store.histories(["alice", "carol"]) == {
            "alice": [("a", "view", None, 1.0)],
            "carol": [("c", "view", None, 2.0)],
        }
        assert list(store.items()) == ["fine"] and store.deleted_users() == [] and store.profile("u") is None
        quarantined = store.quarantined()
        assert len(quarantined) == 7 and quarantined[0][0] == "events"
        assert '"user":"bob\\u0000"' in quarantined[0][1]  # the whole row, kept for inspection
        assert store.quarantine_unreplayable() == []  # nothing left to move


def test_a_version_2_store_gains_the_quarantine_table(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with EventStore(path) as store:
        store.append([Event("u", "a", "view", timestamp=1.0)])
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE quarantine")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    conn.close()
    with EventStore(path) as store:
        assert store.quarantined() == [] and store.history("u") == [("a", "view", None, 1.0)]
