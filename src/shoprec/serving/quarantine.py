"""Stored rows that cannot be replayed are moved to the store's `quarantine` table, so start-up never fails on data.

A store can hold rows no current write would accept: written before the id policy (`shoprec.ids`) existed,
by another tool, or edited by hand (an id with NUL, text that is not UTF-8, a timestamp that is not a number,
an item document that is not a JSON object). Replaying such a row used to stop the service from starting. Before
each replay the store moves every such row, whole, into `quarantine` (source table, the row as JSON, the reason,
when) in one transaction, and the service starts without it; each row gets one log line (`log_quarantined`).
The scan reads each table's distinct ids (an index scan), not its rows, so it costs little next to the replay.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass

from shoprec.ids import all_valid, id_problem

log = logging.getLogger("shoprec.serving")

#: The table (store schema version 3).
QUARANTINE_TABLE = (
    "CREATE TABLE quarantine (id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, row TEXT NOT NULL, "
    "reason TEXT NOT NULL, ts REAL NOT NULL)"
)
#: At most this many quarantined rows get a log line of their own at one start; the rest are counted.
MAX_LOG_LINES = 100

_NUMBER = "typeof({0}) IN ('real', 'integer') AND abs({0}) < 1e300"
_OBJECT = "typeof(data) = 'text' AND json_valid(data) AND json_type(data) = 'object'"


@dataclass(frozen=True)
class _Table:
    ids: tuple[str, ...]  # columns holding ids (the id policy applies)
    row: str  # SQL: the whole row as JSON
    replayable: str  # SQL: true when the row's other columns can be replayed
    otherwise: str  # why a row with valid ids is not replayable


_TABLES = {
    "events": _Table(
        ("user", "item"),
        "json_object('id', id, 'user', user, 'item', item, 'event', event, 'weight', weight, 'ts', ts)",
        f"typeof(event) = 'text' AND {_NUMBER.format('ts')} AND (weight IS NULL OR {_NUMBER.format('weight')})",
        "event is not text, or ts / weight is not a finite number",
    ),
    "items": _Table(("item",), "json_object('item', item, 'data', data)", _OBJECT, "data is not a JSON object"),
    "profiles": _Table(("user",), "json_object('user', user, 'data', data)", _OBJECT, "data is not a JSON object"),
    "deleted": _Table(("user",), "json_object('user', user, 'ts', ts)", _NUMBER.format("ts"), "ts is not a number"),
}


@dataclass(frozen=True)
class Quarantined:
    """One row moved aside: its table, rowid, the row's key (e.g. the user) and why."""

    source: str
    rowid: int
    key: object
    reason: str


def quarantine_unreplayable(conn: sqlite3.Connection) -> list[Quarantined]:
    """Move every row that cannot be replayed into `quarantine`; the caller holds a write transaction.

    Text is read leniently (bytes that are not UTF-8 become lone surrogates, which the id policy refuses) and
    matched back by its bytes, so even such rows can be found and moved."""
    conn.text_factory = _lenient
    try:
        moved: list[Quarantined] = []
        for name, table in _TABLES.items():
            moved += _quarantine_table(conn, name, table)
        return moved
    finally:
        conn.text_factory = str


def quarantine_rows(conn: sqlite3.Connection, source: str, where: str, params: tuple, reason: str) -> int:
    """Move the rows of `source` matching `where` into `quarantine` with `reason` (e.g. a replay that failed)."""
    table = _TABLES[source]
    conn.execute(
        f"INSERT INTO quarantine (source, row, reason, ts) SELECT ?, {table.row}, ?, ? FROM {source} WHERE {where}",
        (source, reason, time.time(), *params),
    )
    return conn.execute(f"DELETE FROM {source} WHERE {where}", params).rowcount


def log_quarantined(moved: list[Quarantined]) -> None:
    """One warning per quarantined row (the first MAX_LOG_LINES), then one line counting the rest."""
    for row in moved[:MAX_LOG_LINES]:
        log.warning(
            "quarantined %s row %d (%r): %s; the service starts without it (see the store's quarantine table)",
            row.source,
            row.rowid,
            row.key,
            row.reason,
        )
    if len(moved) > MAX_LOG_LINES:
        log.warning("quarantined %d more rows (see the store's quarantine table)", len(moved) - MAX_LOG_LINES)


def _quarantine_table(conn: sqlite3.Connection, name: str, table: _Table) -> list[Quarantined]:
    bad_ids: dict[str, dict[bytes, str]] = {}
    for column in table.ids:
        values = [v for (v,) in conn.execute(f"SELECT DISTINCT {column} FROM {name} WHERE typeof({column}) = 'text'")]
        if not all_valid(values):
            problems = zip(values, map(id_problem, values), strict=True)
            bad_ids[column] = {_raw(v): p for v, p in problems if p is not None}
    texts = " AND ".join(f"typeof({c}) = 'text'" for c in table.ids)
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS quarantine_ids (value BLOB PRIMARY KEY)")
    conn.execute("DELETE FROM temp.quarantine_ids")
    conn.executemany(
        "INSERT OR IGNORE INTO temp.quarantine_ids VALUES (?)", [(v,) for found in bad_ids.values() for v in found]
    )
    has_bad_id = " OR ".join(f"CAST({c} AS BLOB) IN (SELECT value FROM temp.quarantine_ids)" for c in table.ids)
    columns = ", ".join(f"CAST({c} AS BLOB), typeof({c})" for c in table.ids)
    rows = conn.execute(
        f"SELECT rowid, {columns} FROM {name} WHERE NOT ({texts} AND {table.replayable}) OR {has_bad_id}"
    ).fetchall()
    moved = []
    for rowid, *values in rows:
        reason = table.otherwise
        for column, raw, kind in zip(table.ids, values[::2], values[1::2], strict=True):
            problem = "expected text, got " + kind if kind != "text" else bad_ids.get(column, {}).get(raw)
            if problem is not None:
                reason = f"{column}: {problem}"
                break
        moved.append(Quarantined(name, rowid, _lenient(values[0]) if values[0] is not None else None, reason))
        quarantine_rows(conn, name, "rowid = ?", (rowid,), reason)
    return moved


def _lenient(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _raw(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")
