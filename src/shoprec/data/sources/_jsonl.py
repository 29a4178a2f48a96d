"""JSON lines (one JSON object per line, optionally compressed) to a `Table` that reports bad values by line.

polars parses the whole file in one call; only when it refuses is the file scanned again, line by
line, to name the first line that is not a JSON object (the error path, never the normal one).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import polars as pl

from shoprec.data.sources._table import Table
from shoprec.data.sources._text import read_bytes
from shoprec.exceptions import DataError

#: Suffixes read as JSON lines (before any compression suffix).
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson", ".json")


def is_json_lines(path: str | Path) -> bool:
    """Whether the file's name says JSON lines, ignoring a trailing .gz / .bz2 / .xz."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".xz"):
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in JSON_LINES_SUFFIXES


def read_json_lines(path: str | Path) -> Table:
    """A Table of the file's objects; blank lines are skipped and every row keeps its line number."""
    data = read_bytes(path)
    try:
        frame = pl.read_ndjson(io.BytesIO(data))
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise _first_bad_line(data, path, exc) from None
    lines = _record_lines(data)
    if len(lines) != frame.height:  # polars and our count disagree: report rows instead of guessing lines
        return Table(frame, str(path))
    record_lines = None if lines[-1] == len(lines) else lines
    return Table(frame, str(path), first_line=1, record_lines=record_lines)


def _record_lines(data: bytes) -> np.ndarray:
    """1-based line number of each non-blank line (vectorised over the newline positions)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    if not len(ends) or ends[-1] != len(buf) - 1:
        ends = np.append(ends, len(buf))
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts
    stripped = lengths - (lengths > 0) * (buf[np.maximum(ends - 1, 0)] == 13)  # a CRLF line's \r is not content
    return np.flatnonzero(stripped > 0) + 1


def _first_bad_line(data: bytes, path: str | Path, exc: Exception) -> DataError:
    """The first line that is not a JSON object, or polars' own reason when every line parses."""
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            return DataError(f"expected a JSON object per line, got invalid JSON ({err.msg})", path=path, line=number)
        if not isinstance(value, dict):
            return DataError(f"expected a JSON object per line, got {type(value).__name__}", path=path, line=number)
    return DataError(f"cannot read JSON lines ({str(exc).splitlines()[0]})", path=path)
