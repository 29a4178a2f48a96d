"""The durable event store: everything the live service learns after training, in one embedded SQLite file.

Events, user profiles, item attributes, campaign sends and deletion tombstones live here so that a restarted
service can replay them and serve exactly what it served before. SQLite runs in WAL mode with
`synchronous=FULL`: a write returns only after its commit is in the log on disk, and readers never wait for it.

Concurrency: FastAPI runs sync endpoints in a thread pool whose threads come and go, so connections are pooled
rather than tied to a thread (a thread-local connection would outlive its thread). A connection is used by one
thread at a time (hence `check_same_thread=False` is safe), reads run concurrently on their own connections,
and writes are serialised by one lock plus `BEGIN IMMEDIATE` (the busy timeout covers other processes).
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import groupby
from pathlib import Path
from typing import Any

from shoprec.exceptions import ConfigError, DataError
from shoprec.ids import all_valid
from shoprec.serving.events import Event, check_id, check_number, event_rows
from shoprec.serving.quarantine import QUARANTINE_TABLE, Quarantined, quarantine_rows, quarantine_unreplayable

SCHEMA_VERSION = 3

Change = tuple[int, str, str, str | None]
"""(seq, kind, key, data): one entry of the change log, see `EventStore.changes_since`."""

HistoryRow = tuple[str, str, float | None, float]
"""(item, event, weight or None when the event carried none, timestamp)."""

#: The change log: every write that changes what is served (an event batch, an item, a deletion), in commit
#: order, so that the server's worker processes can each apply the others' writes (`changes_since`).
_CHANGES = (
    "CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL, data TEXT)"
)
_LOG_CHANGE = "INSERT INTO changes (kind, key, data) VALUES (?, ?, ?)"
#: Statements that bring a store of version v - 1 to version v.
_MIGRATIONS = {2: [_CHANGES], 3: [QUARANTINE_TABLE]}

_SCHEMA = (
    """
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, item TEXT NOT NULL,
                     event TEXT NOT NULL, weight REAL, ts REAL NOT NULL);
CREATE INDEX events_user_ts ON events(user, ts);
CREATE INDEX events_item_event_ts ON events(item, event, ts);
CREATE TABLE profiles (user TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE items (item TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE sends (id INTEGER PRIMARY KEY, campaign TEXT NOT NULL, user TEXT NOT NULL, ts REAL NOT NULL);
CREATE INDEX sends_user_ts ON sends(user, ts);
CREATE TABLE deleted (user TEXT PRIMARY KEY, ts REAL NOT NULL);
"""
    + _CHANGES
    + ";"
    + QUARANTINE_TABLE
    + ";"
)

# A JSON array bound as one parameter: no limit on the number of ids, one prepared statement.
_IN_JSON = "IN (SELECT value FROM json_each(?))"

# RFC 7396 merge patch: given keys override, null removes a key, absent keys are kept.
_UPSERT_DOC = (
    "INSERT INTO {table} ({key}, data, updated) VALUES (?1, json_patch('{{}}', ?2), ?3) "
    "ON CONFLICT({key}) DO UPDATE SET data = json_patch(data, ?2), updated = ?3"
)


class EventStore:
    """Durable, thread-safe store of live events, profiles, items, campaign sends and deletions."""

    def __init__(
        self, path: str | Path, *, allowed_events: Iterable[str] | None = None, busy_timeout: float = 10.0
    ) -> None:
        """Open (creating if missing) the store at `path`; `allowed_events` restricts the event types accepted."""
        if str(path) == ":memory:":
            raise ConfigError("path: the event store needs a file (each pooled connection would get its own :memory:)")
        self.path = Path(path)
        self.allowed_events = frozenset(allowed_events) if allowed_events is not None else None
        self._busy_timeout = busy_timeout
        self._write_lock = threading.Lock()
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self._closed = False
        try:
            with self._transaction() as conn:
                self._migrate(conn)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise DataError(f"not a readable shoprec event store ({exc})", path=self.path) from exc
        except DataError:
            self.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise sqlite3.ProgrammingError(f"the event store {self.path} is closed")
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False)
        with self._opened_lock:
            self._opened.append(conn)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """Borrow a pooled connection for the duration of one operation."""
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._connect()
        try:
            yield conn
        finally:
            self._idle.put(conn)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One serialised write transaction: committed (durably) on success, rolled back entirely on error."""
        with self._write_lock, self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return conn.execute(sql, params).fetchall()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)
            conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            return
        version = int(row[0]) if row[0].isdigit() else -1
        while version in range(1, SCHEMA_VERSION):  # an older store: migrate it in this transaction
            version += 1
            for statement in _MIGRATIONS[version]:
                conn.execute(statement)
        if version != SCHEMA_VERSION:
            raise DataError(
                f"event store schema version {row[0]} is not the version {SCHEMA_VERSION} this shoprec reads; "
                "open it with the shoprec release that wrote it (or a newer one)",
                path=self.path,
                column="schema_version",
            )
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

    # -- events ----------------------------------------------------------------------------------------------

    def append(self, events: list[Event]) -> list[int]:
        """Write a batch in one transaction and return its row ids once durable; a bad event rejects it all."""
        rows = event_rows(events, self.allowed_events, time.time())
        if not events:
            return []
        with self._transaction() as conn:
            conn.executemany("INSERT INTO events (user, item, event, weight, ts) VALUES (?, ?, ?, ?, ?)", rows)
            (last,) = conn.execute("SELECT last_insert_rowid()").fetchone()
            # AUTOINCREMENT in one write transaction gives a batch consecutive ids: (first, last) names them all.
            first = last - len(events) + 1
            conn.execute(_LOG_CHANGE, ("events", "", json.dumps([first, last])))
        return list(range(first, last + 1))

    def events_between(self, first: int, last: int) -> list[tuple[str, str, str, float]]:
        """(user, item, event, timestamp) of the events with row ids first..last still stored, in id order."""
        return self._read(
            "SELECT user, item, event, ts FROM events WHERE id BETWEEN ? AND ? ORDER BY id", (first, last)
        )

    def history(self, user: str, limit: int | None = None) -> list[HistoryRow]:
        """The user's last `limit` events (all when None), oldest first (timestamp, then arrival order)."""
        sql = "SELECT item, event, weight, ts FROM events WHERE user = ? ORDER BY ts DESC, id DESC"
        rows = self._read(sql + " LIMIT ?", (user, -1 if limit is None else max(limit, 0)))
        return rows[::-1]

    def histories(self, users: list[str]) -> dict[str, list[HistoryRow]]:
        """Every requested user's full history in one query (an empty list for users without events)."""
        rows = self._read(
            f"SELECT user, item, event, weight, ts FROM events WHERE user {_IN_JSON} ORDER BY user, ts, id",
            (json.dumps(users),),
        )
        found = {user: [row[1:] for row in group] for user, group in groupby(rows, key=lambda row: row[0])}
        return {user: found.get(user, []) for user in users}

    def users_with_events(self) -> list[str]:
        """Users with at least one stored event, sorted (the replay set on restart)."""
        return [user for (user,) in self._read("SELECT DISTINCT user FROM events ORDER BY user")]

    def users_with_event(self, items: list[str], event: str, since: float) -> set[str]:
        """Users who did `event` on any of `items` at or after `since` (e.g. bought it in the last N days)."""
        rows = self._read(
            f"SELECT DISTINCT user FROM events WHERE item {_IN_JSON} AND event = ? AND ts >= ?",
            (json.dumps(items), event, since),
        )
        return {user for (user,) in rows}

    # -- profiles and items ------------------------------------------------------------------------------------

    def put_profile(self, user: str, profile: dict[str, Any]) -> None:
        """Merge `profile` into the user's stored profile (RFC 7396: a null value removes the key)."""
        self._upsert_document("profiles", "user", user, profile)

    def profile(self, user: str) -> dict[str, Any] | None:
        rows = self._read("SELECT data FROM profiles WHERE user = ?", (user,))
        return json.loads(rows[0][0]) if rows else None

    def put_item(self, item: str, attributes: dict[str, Any]) -> None:
        """Merge `attributes` into the item's stored attributes (RFC 7396: a null value removes the key); the
        change log keeps the update itself."""
        self._upsert_document("items", "item", item, attributes, log=True)

    def items(self) -> dict[str, dict[str, Any]]:
        """Every item created or updated while serving, with its current attributes, in order of last update."""
        return {item: json.loads(data) for item, data in self._read("SELECT item, data FROM items ORDER BY updated")}

    def _upsert_document(
        self, table: str, key: str, owner: str, document: dict[str, Any], *, log: bool = False
    ) -> None:
        check_id(key, owner, f"{table} upsert")
        if not isinstance(document, dict) or not all(isinstance(k, str) for k in document):
            raise DataError(f"{table} upsert for {owner!r}: expected a JSON object with string keys")
        try:
            text = json.dumps(document, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{table} upsert for {owner!r}: not JSON-serialisable ({exc})") from exc
        with self._transaction() as conn:
            conn.execute(_UPSERT_DOC.format(table=table, key=key), (owner, text, time.time()))
            if log:
                conn.execute(_LOG_CHANGE, (key, owner, text))

    # -- campaigns -----------------------------------------------------------------------------------------------

    def record_sends(self, campaign: str, users: list[str], timestamp: float | None = None) -> None:
        """Record that `campaign` reached `users` (the frequency cap counts these across campaigns)."""
        check_id("campaign", campaign, "record_sends")
        if not all_valid(users):  # the fast check failed: name the first bad user
            for position, user in enumerate(users):
                check_id("user", user, f"record_sends position {position}")
        ts = time.time() if timestamp is None else check_number("timestamp", timestamp, "record_sends")
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO sends (campaign, user, ts) VALUES (?, ?, ?)", [(campaign, u, ts) for u in users]
            )

    def send_counts(self, users: list[str] | None, since: float) -> dict[str, int]:
        """Sends per user at or after `since`, all campaigns together; every requested user appears (0 if none).

        With `users` None: every user with at least one send in the window.
        """
        if users is None:
            return dict(self._read("SELECT user, count(*) FROM sends WHERE ts >= ? GROUP BY user", (since,)))
        rows = self._read(
            f"SELECT user, count(*) FROM sends WHERE user {_IN_JSON} AND ts >= ? GROUP BY user",
            (json.dumps(users), since),
        )
        found = dict(rows)
        return {user: found.get(user, 0) for user in users}

    # -- deletion and bookkeeping ------------------------------------------------------------------------------

    def delete_user(self, user: str) -> dict[str, int]:
        """Remove the user's events, profile and sends in one transaction and leave a tombstone.

        The tombstone keeps a restarted service from resurrecting the user's trained vector.
        """
        check_id("user", user, "delete_user")
        with self._transaction() as conn:
            removed = {
                name: conn.execute(f"DELETE FROM {table} WHERE user = ?", (user,)).rowcount
                for name, table in (("events", "events"), ("profile", "profiles"), ("sends", "sends"))
            }
            conn.execute("INSERT OR REPLACE INTO deleted (user, ts) VALUES (?, ?)", (user, time.time()))
            conn.execute(_LOG_CHANGE, ("delete", user, None))
        return removed

    # -- rows that cannot be replayed (`serving.quarantine`) ---------------------------------------------------

    def quarantine_unreplayable(self) -> list[Quarantined]:
        """Move every stored row that cannot be replayed (bad ids, wrong types) into the quarantine table."""
        with self._transaction() as conn:
            return quarantine_unreplayable(conn)

    def quarantine(self, source: str, key_column: str, key: str, reason: str) -> int:
        """Move the rows of `source` ("events", "items", ...) whose `key_column` is `key` into the quarantine
        table (a replay of them failed); returns how many."""
        with self._transaction() as conn:
            return quarantine_rows(conn, source, f"{key_column} = ?", (key,), reason)

    def quarantined(self) -> list[tuple[str, str, str]]:
        """(source table, row as JSON, reason) of every quarantined row, oldest first (bytes of the row that
        are not UTF-8 read as U+FFFD)."""
        rows = self._read("SELECT source, CAST(row AS BLOB), reason FROM quarantine ORDER BY id")
        return [(source, row.decode("utf-8", "replace"), reason) for source, row, reason in rows]

    # -- the change log ----------------------------------------------------------------------------------------

    def latest_change(self) -> int:
        """The seq of the last committed change (0 when none): what a reader that applied it all has seen."""
        (row,) = self._read("SELECT coalesce(max(seq), 0) FROM changes")
        return row[0]

    def changes_since(self, seq: int) -> list[Change]:
        """Changes after `seq` in commit order: ("events", "", "[first, last]") for an event batch, ("item",
        item, attributes JSON) for an item update, ("delete", user, None) for a deletion."""
        return self._read("SELECT seq, kind, key, data FROM changes WHERE seq > ? ORDER BY seq", (seq,))

    def deleted_users(self) -> list[str]:
        """Tombstoned users, in order of deletion."""
        return [user for (user,) in self._read("SELECT user FROM deleted ORDER BY ts, user")]

    def counts(self) -> dict[str, int]:
        """Row counts for health and metrics: events, users with events, items, profiles, sends, deleted."""
        (row,) = self._read(
            "SELECT (SELECT count(*) FROM events), (SELECT count(DISTINCT user) FROM events), "
            "(SELECT count(*) FROM items), (SELECT count(*) FROM profiles), (SELECT count(*) FROM sends), "
            "(SELECT count(*) FROM deleted)"
        )
        return dict(zip(("events", "users", "items", "profiles", "sends", "deleted"), row, strict=True))

    def close(self) -> None:
        """Close every pooled connection; the store must not be used afterwards."""
        with self._write_lock, self._opened_lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
            self._closed = True

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
