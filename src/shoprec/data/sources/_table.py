"""A parsed table that remembers where each row came from, so every bad value is reported by line.

All loaders read through `Table`: typed columns (ids, integers, floats, timestamps) are converted in
one vectorised polars cast each, and the first value that does not convert is reported with its
file, line (or row, for Parquet and DataFrames), column and what was expected.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from shoprec.exceptions import DataError

_ISO_FORMATS = ("%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M%z", "%Y-%m-%d %H:%M", "%Y-%m-%d")
_TIME_EXPECTED = "unix seconds or an ISO-8601 date-time such as 2024-05-01T12:30:00Z"


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
        self.require(column)
        return self.frame[column]

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

    def timestamps(self, column: str) -> np.ndarray:
        """(n,) int64 unix seconds from integers, floats, datetimes or ISO-8601 strings (naive = UTC)."""
        source = self._column(column)
        if isinstance(source.dtype, pl.Datetime | pl.Date):
            out = source.dt.epoch("s")
        elif source.dtype.is_integer():
            out = source.cast(pl.Int64)
        else:
            number = pl.col("t").cast(pl.Float64, strict=False)
            frame = pl.DataFrame({"t": source})
            out = frame.select(pl.when(number.is_finite()).then(number.floor().cast(pl.Int64))).to_series()
            if out.null_count() and source.dtype == pl.String:
                text = pl.col("t").str.strip_chars()
                number = text.cast(pl.Float64, strict=False)
                iso = text.str.replace("T", " ", literal=True).str.replace(r"[zZ]$", "+00:00")
                parsed = [iso.str.to_datetime(f, time_zone="UTC", strict=False).dt.epoch("s") for f in _ISO_FORMATS]
                out = frame.select(
                    pl.coalesce(pl.when(number.is_finite()).then(number.floor()).cast(pl.Int64), *parsed)
                )
                out = out.to_series()
        self.check(out.is_null(), column, _TIME_EXPECTED)
        return out.to_numpy().astype(np.int64)

    def without_duplicates(self) -> Table:
        """Drop exact duplicate rows (keeping the first) with one warning that counts them."""
        hashes = np.sort(self.frame.hash_rows().to_numpy())
        if not (hashes[1:] == hashes[:-1]).any():
            return self
        indexed = self.frame.with_row_index("__row__")
        kept = indexed.unique(subset=self.frame.columns, keep="first", maintain_order=True)
        dropped = len(self) - kept.height
        if dropped == 0:
            return self
        kept_rows = kept["__row__"].to_numpy()
        first = self.locate(int(np.setdiff1d(np.arange(len(self)), kept_rows)[0]))
        warnings.warn(f"{self.source}: dropped {dropped} exact duplicate row(s), the first at {first}", stacklevel=3)
        rows = kept_rows if self.rows is None else self.rows[kept_rows]
        return replace(self, frame=kept.drop("__row__"), rows=rows)


def _plain_ints(text: pl.Series) -> pl.Series | None:
    """The ids as Int64 when each is written exactly as its integer ('7', not '007' or '+7'), else None.

    Checked on the distinct values only: ids repeat a lot, and this runs on every event file.
    """
    distinct = text.unique()
    as_int = distinct.cast(pl.Int64, strict=False)
    if as_int.null_count() or not (as_int.cast(pl.String) == distinct).all():
        return None
    return text.cast(pl.Int64)
