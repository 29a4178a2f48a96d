"""A parsed table that remembers where each row came from, so every bad value is reported by line.

All loaders read through `Table`: typed columns (ids, integers, floats, timestamps) are converted in
one vectorised polars cast each, and the first value that does not convert is reported with its
file, line (or row, for Parquet and DataFrames), column and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from shoprec.data.sources import _time
from shoprec.data.sources._policy import warn_data
from shoprec.exceptions import DataError

#: How many lines a message lists when it counts many.
_SHOWN = 3


@dataclass(frozen=True)
class Table:
    """A polars frame plus what is needed to name the origin of row `r`.

    first_line: line of row 0 in a text file (2 under a header), or None where rows are reported as
    "row N" (Parquet, DataFrames). record_lines: line of each row when quoted fields span lines.
    rows: original row of each remaining row once duplicates were dropped.
    """

    frame: pl.DataFrame
    source: str
    first_line: int | None = None
    record_lines: np.ndarray | None = None
    rows: np.ndarray | None = None

    @classmethod
    def from_frame(cls, frame: Any, source: str = "<DataFrame>") -> Table:
        """Wrap a polars or pandas DataFrame (pandas goes through `polars.from_pandas`)."""
        if not isinstance(frame, pl.DataFrame):
            try:
                frame = pl.from_pandas(frame)
            except (TypeError, ValueError, ImportError) as exc:
                raise DataError(f"expected a polars or pandas DataFrame, got {type(frame).__name__} ({exc})") from None
        return cls(frame, source)

    def __len__(self) -> int:
        return self.frame.height

    @property
    def columns(self) -> list[str]:
        return self.frame.columns

    def with_frame(self, frame: pl.DataFrame) -> Table:
        """The same rows with changed values (e.g. 'unknown' markers turned into nulls)."""
        return replace(self, frame=frame)

    def line_of(self, row: int) -> int | None:
        """Line of `row` in the text file, or None for sources without lines."""
        if self.first_line is None:
            return None
        original = self._original(row)
        return self.first_line + original if self.record_lines is None else int(self.record_lines[original])

    def _original(self, row: int) -> int:
        return row if self.rows is None else int(self.rows[row])

    def locate(self, row: int) -> str:
        """'line N' for text files, else 'row N' (1-based)."""
        line = self.line_of(row)
        return f"line {line}" if line is not None else f"row {self._original(row) + 1}"

    def error(self, row: int | None, column: str | None, message: str) -> DataError:
        """A DataError naming the source, the line (or row) of `row` and the column."""
        if row is None:
            return DataError(message, path=self.source, column=column)
        line = self.line_of(row)
        if line is None:
            message = f"{self.locate(row)}: {message}"
        return DataError(message, path=self.source, line=line, column=column)

    def require(self, *columns: str) -> None:
        missing = [c for c in columns if c not in self.frame.columns]
        if missing:
            raise self.error(
                None,
                None,
                f"missing column(s) {missing}; expected columns {list(columns)}, found {self.frame.columns}",
            )

    def check(self, failed: pl.Series | np.ndarray, column: str, expected: str) -> None:
        """Raise for the first row where `failed` is true, naming its value and what was `expected`."""
        failed = pl.Series(failed) if isinstance(failed, np.ndarray) else failed
        if not failed.any():
            return
        row = int(failed.arg_true()[0])
        value = self.frame[column][row]
        if value is None:
            raise self.error(row, column, f"missing value; expected {expected}")
        hint = " (a repeated header line?)" if str(value).strip() == column else ""
        raise self.error(row, column, f"expected {expected}, got {value!r}{hint}")

    def _column(self, column: str) -> pl.Series:
        """The column, which must hold plain values (a Parquet list or struct is no id, number or date)."""
        self.require(column)
        series = self.frame[column]
        if series.dtype.is_nested():
            raise self.error(None, column, f"expected plain values (strings or numbers), got {series.dtype}")
        return series

    def _cast(self, column: str, dtype: pl.DataType, expected: str, *, missing_ok: bool = False) -> pl.Series:
        """One vectorised cast; strings padded with spaces are retried stripped (the rare, slower path)."""
        source = self._column(column)
        for attempt in range(2):
            out = source.cast(dtype, strict=False)
            failed = out.is_null() & source.is_not_null() if missing_ok else out.is_null()
            if attempt or source.dtype != pl.String or not failed.any():
                break
            source = source.str.strip_chars().replace("", None)
        self.check(failed, column, expected)
        return out

    def strings(self, column: str, *, missing_ok: bool = False) -> pl.Series:
        """Stripped strings; a missing (null or blank) value is an error unless `missing_ok`."""
        source = self._column(column)
        text = source.cast(pl.String).str.strip_chars().replace("", None)
        if not missing_ok:
            self.check(text.is_null(), column, "a value")
        return text

    def ids(self, column: str) -> np.ndarray:
        """Ids as int64 when every value is a plain integer (so they sort numerically), else strings."""
        source = self._column(column)
        if source.dtype.is_integer():
            self.check(source.is_null(), column, "an id")
            return source.to_numpy().astype(np.int64)
        text = source.cast(pl.String)
        as_int = None if text.null_count() else _plain_ints(text)
        if as_int is None:
            text = self.strings(column)
            as_int = _plain_ints(text)
        return as_int.to_numpy() if as_int is not None else text.to_numpy().astype(str)

    def ints(self, column: str) -> np.ndarray:
        """Integers; floats are accepted only when whole."""
        source = self._column(column)
        if source.dtype.is_float():
            self.check(source != source.round(), column, "a whole number")
        return self._cast(column, pl.Int64, "an integer").to_numpy()

    def int_matrix(self, columns: list[str]) -> np.ndarray:
        """(n, len(columns)) int64 from many integer columns in one cast (e.g. 99 negatives per line)."""
        out = self.frame.select(pl.col(columns).cast(pl.Int64, strict=False))
        if any(out.null_count().row(0)):
            for column in columns:
                self.ints(column)  # raises, naming the first bad value
        return out.to_numpy()

    def floats(
        self, column: str, *, missing_ok: bool = False, low: float | None = None, high: float | None = None
    ) -> np.ndarray:
        """Finite floats (NaN where missing when `missing_ok`), optionally within [low, high]."""
        out = self._cast(column, pl.Float64, "a number", missing_ok=missing_ok)
        self.check(out.is_not_null() & ~out.is_finite(), column, "a finite number")
        if low is not None or high is not None:
            lo, hi = -np.inf if low is None else low, np.inf if high is None else high
            self.check((out < lo) | (out > hi), column, f"a number in the range {lo:g}..{hi:g}")
        return out.fill_null(float("nan")).to_numpy()

    def places(self, rows: np.ndarray) -> str:
        """'lines 3, 8, 10' (or 'rows ...') of the first few of `rows`, with '...' when there are more."""
        shown = [self.locate(int(r)) for r in rows[:_SHOWN]]
        kind, numbers = shown[0].split(" ")[0], [p.split(" ")[1] for p in shown]
        return f"{kind}{'s' if len(rows) > 1 else ''} {', '.join(numbers)}{', ...' if len(rows) > _SHOWN else ''}"

    def warn(self, rows: np.ndarray, column: str | None, message: str) -> None:
        """A DataWarning (DataError when strict) for `rows` (ascending), naming their count and first lines."""
        line = self.line_of(int(rows[0]))
        text = f"{message}; {len(rows)} row(s), at {self.places(rows)}"
        warn_data(text, path=self.source, line=line, column=column)

    def keep(self, mask: np.ndarray) -> Table:
        """The rows where `mask` is true, still naming their original lines."""
        kept = np.flatnonzero(mask)
        rows = kept if self.rows is None else self.rows[kept]
        return replace(self, frame=self.frame.filter(pl.Series(mask)), rows=rows)

    def timestamps(self, column: str, unit: _time.TimeUnit = "auto") -> np.ndarray:
        """(n,) int64 unix seconds from numbers (unit detected, see `_time`), datetimes or ISO-8601 strings.

        A date before 1990 or after tomorrow, or a column mixing units, is a DataError naming the
        lines. unit: force "s", "ms", "us" or "ns"; "order" takes plain integers (positions) unchecked.
        """
        source = self._column(column)
        if isinstance(source.dtype, pl.Datetime | pl.Date):
            self.check(source.is_null(), column, _time.EXPECTED)
            seconds = source.dt.epoch("s").to_numpy().astype(np.int64)
            self._check_dates(column, seconds, None)
            return seconds
        number, iso = _time.parse_numbers_and_iso(source)
        if unit == "order":
            self.check(number.is_null() | (number != number.floor()), column, "an integer position")
            return number.to_numpy().astype(np.int64)
        self.check(number.is_null() & iso.is_null(), column, _time.EXPECTED)
        numbers = number.to_numpy()
        has_number = ~np.isnan(numbers)
        seconds = iso.fill_null(0).to_numpy().astype(np.int64)
        found = None
        if unit == "auto" and has_number.all() and _time.is_order(numbers):
            warn_data(
                f"every timestamp is a whole number below {_time.plausible_range()[0]} (1990-01-01 in seconds): "
                "read as an order of events (positions), not as dates",
                path=self.source,
                column=column,
            )
            return numbers.astype(np.int64)
        if has_number.any():
            found = self._time_unit(column, numbers, has_number) if unit == "auto" else unit
            seconds[has_number] = _time.to_seconds(numbers[has_number], found)
        self._check_dates(column, seconds, found)
        return seconds

    def _time_unit(self, column: str, numbers: np.ndarray, has_number: np.ndarray) -> str:
        """The one unit the numbers' magnitudes suggest; DataError at the first number in another unit."""
        rows = np.flatnonzero(has_number)
        classes = _time.unit_classes(numbers[rows])
        counts = np.bincount(classes, minlength=len(_time.UNITS))
        main = int(np.argmax(counts))
        # Numbers too small for any unit are left to the date check (placeholders such as 0 or -1).
        odd = (classes != main) & (np.abs(numbers[rows]) >= _time.plausible_range()[0])
        if odd.any():
            row = int(rows[np.argmax(odd)])
            raise self.error(
                row,
                column,
                f"timestamp {self.frame[column][row]!r} looks like {_time.UNITS[classes[np.argmax(odd)]]} while "
                f"{counts[main]} other(s) look like {_time.UNITS[main]}; expected one unit for the whole column",
            )
        return _time.UNITS[main]

    def _check_dates(self, column: str, seconds: np.ndarray, unit: str | None) -> None:
        """DataError naming the lines of dates before 1990 or after tomorrow."""
        low, high = _time.plausible_range()
        bad = np.flatnonzero((seconds < low) | (seconds > high))
        if len(bad) == 0:
            return
        row = int(bad[0])
        read = f" read as {unit}" if unit else ""
        raise self.error(
            row,
            column,
            f"{len(bad)} timestamp(s) outside {_time.date_of(low)[:10]}..{_time.date_of(high)[:10]} at "
            f"{self.places(bad)}; the first, {self.frame[column][row]!r}{read}, is {_time.date_of(int(seconds[row]))} "
            "(a wrong unit, a placeholder or a typo?)",
        )

    def one_per_key(self, keys: list[str], value: str, order: str | None) -> Table:
        """One row per key (one rating per user and item): the latest by `order`, then by line; exact
        duplicate rows are dropped first (`without_duplicates`). Each step warns with counts and lines."""
        if not _may_repeat(self.frame.select(keys)):
            return self
        table = self.without_duplicates()
        rows = np.flatnonzero(table.frame.select(keys).is_duplicated().to_numpy())
        if len(rows) == 0:
            return table
        times = table.timestamps(order)[rows] if order is not None else np.zeros(len(rows), dtype=np.int64)
        sub = table.frame[rows].select(*keys, pl.col(value).alias("__value__"))
        sub = sub.with_columns(__time__=pl.Series(times), __row__=pl.Series(rows)).sort("__time__", "__row__")
        groups = sub.group_by(keys).agg(pl.col("__row__").last(), pl.col("__value__").n_unique().alias("__n__"))
        mask = np.ones(len(table), dtype=bool)
        mask[rows] = False
        mask[groups["__row__"].to_numpy()] = True
        conflicting = int((groups["__n__"] > 1).sum())
        latest = f"by {order!r}, then by line" if order is not None else "by line"
        table.warn(
            np.flatnonzero(~mask),
            value,
            f"{groups.height} ({', '.join(keys)}) key(s) appear on more than one row, {conflicting} of them with "
            f"different {value!r} values: kept the latest row of each ({latest}) and dropped the others",
        )
        return table.keep(mask)

    def without_duplicates(self) -> Table:
        """Drop exact duplicate rows (keeping the first of each) with one warning that counts them."""
        if not _may_repeat(self.frame):
            return self
        repeated = self.frame.is_duplicated().to_numpy()
        if not repeated.any():
            return self
        first = self.frame.with_row_index("__row__").filter(pl.Series(repeated))
        first = first.unique(subset=self.frame.columns, keep="first")["__row__"].to_numpy()
        mask = np.ones(len(self), dtype=bool)
        mask[repeated] = False
        mask[first] = True
        self.warn(np.flatnonzero(~mask), None, "dropped exact duplicate rows (kept the first of each)")
        return self.keep(mask)


def _may_repeat(frame: pl.DataFrame) -> bool:
    """Whether two rows may be equal: a cheap test (polars' exact `is_duplicated` is far slower).

    Two small non-negative integer columns (user, item ids) are packed into one integer key; else rows
    are hashed and the sorted hashes compared (a hash collision only costs the exact check).
    """
    if frame.width == 2 and all(dtype.is_integer() for dtype in frame.dtypes):
        low, high = (frame.min().row(0), frame.max().row(0))
        if min(low) >= 0 and (high[0] + 1) * (high[1] + 1) < 2**62:
            key = frame.to_series(0).cast(pl.Int64) * (high[1] + 1) + frame.to_series(1).cast(pl.Int64)
            return key.n_unique() < frame.height
    hashes = np.sort(frame.hash_rows().to_numpy())
    return bool((hashes[1:] == hashes[:-1]).any())


def _plain_ints(text: pl.Series) -> pl.Series | None:
    """The ids as Int64 when each is written exactly as its integer ('7', not '007' or '+7'), else None.

    Checked on the distinct values only: ids repeat a lot, and this runs on every event file.
    """
    distinct = text.unique()
    as_int = distinct.cast(pl.Int64, strict=False)
    if as_int.null_count() or not (as_int.cast(pl.String) == distinct).all():
        return None
    return text.cast(pl.Int64)
