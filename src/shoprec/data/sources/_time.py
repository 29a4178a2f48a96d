"""Timestamps of any common encoding to unix seconds, with the unit detected and the dates checked.

Numbers are unix seconds, milliseconds, microseconds or nanoseconds: the unit is told by magnitude
(seconds stay below 1e11, i.e. before the year 5138; milliseconds below 1e14; microseconds below
1e17), so a log in milliseconds is no longer read as seconds far in the future. One column must use
one unit. Strings may also be ISO-8601 dates (naive = UTC); datetime columns are taken as they are.
Every date must fall between 1990-01-01 and one day after now (`plausible_range`): anything else is
a wrong unit, a placeholder (0, -1) or a typo, reported by line. A column of whole numbers that are
all below 1990 in seconds (1, 2, 3...) is an order of events, not dates: kept as it is, with a warning;
`unit="order"` says so up front (no warning).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Literal

import numpy as np
import polars as pl

TimeUnit = Literal["auto", "s", "ms", "us", "ns", "order"]
UNITS: tuple[str, ...] = ("s", "ms", "us", "ns")
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
#: Upper magnitude of each unit when detecting it (see the module docstring).
_BOUNDS = np.array([1e11, 1e14, 1e17])
_EARLIEST = 631_152_000  # 1990-01-01T00:00:00Z
_ISO_FORMATS = ("%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M%z", "%Y-%m-%d %H:%M", "%Y-%m-%d")
EXPECTED = "unix seconds, milliseconds or microseconds, or an ISO-8601 date-time such as 2024-05-01T12:30:00Z"


def plausible_range() -> tuple[int, int]:
    """(earliest, latest) unix seconds accepted: 1990-01-01 to one day after now."""
    return _EARLIEST, int(time.time()) + 86_400


def date_of(seconds: int) -> str:
    """'2024-05-01 12:30:00' (UTC) or the raw number when it is out of the calendar's range."""
    try:
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return f"{seconds} s"


def unit_classes(numbers: np.ndarray) -> np.ndarray:
    """(n,) index into UNITS of the unit each (finite) number's magnitude suggests."""
    return np.searchsorted(_BOUNDS, np.abs(numbers), side="right")


def parse_numbers_and_iso(source: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(numbers as Float64, ISO strings as unix seconds Int64), each null where that reading fails."""
    frame = pl.DataFrame({"t": source})
    if source.dtype.is_numeric():
        number = frame.select(pl.col("t").cast(pl.Float64)).to_series()
        return number.set(~number.is_finite(), None), pl.Series("t", [None] * len(source), dtype=pl.Int64)
    text = pl.col("t").cast(pl.String).str.strip_chars()
    number = frame.select(text.cast(pl.Float64, strict=False)).to_series()
    number = number.set(~number.is_finite().fill_null(False), None)
    iso = pl.Series("t", [None] * len(source), dtype=pl.Int64)
    if number.null_count() > source.null_count():
        norm = text.str.replace("T", " ", literal=True).str.replace(r"[zZ]$", "+00:00")
        parsed = [norm.str.to_datetime(f, time_zone="UTC", strict=False).dt.epoch("s") for f in _ISO_FORMATS]
        iso = frame.select(pl.when(pl.col("t").cast(pl.String).str.contains("-")).then(pl.coalesce(parsed))).to_series()
    return number, iso


def is_order(numbers: np.ndarray) -> bool:
    """Whether non-null `numbers` are all whole, >= 0 and below 1990-01-01 in seconds: positions, not dates."""
    return bool(len(numbers)) and bool(((numbers >= 0) & (numbers < _EARLIEST) & (numbers == np.floor(numbers))).all())


def to_seconds(numbers: np.ndarray, unit: str) -> np.ndarray:
    """Finite numbers in `unit` to whole unix seconds (floored)."""
    return np.floor(numbers / _PER_SECOND[unit]).astype(np.int64)
