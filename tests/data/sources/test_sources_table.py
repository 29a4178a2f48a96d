"""Typed columns of a Table: ids, numbers and timestamps, with errors naming the original line or row."""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from shoprec.data.sources._table import Table
from shoprec.data.sources._text import read_table
from shoprec.exceptions import DataError, DataWarning


def text_table(**columns: list[str | None]) -> Table:
    """A table as read from a file with a header: row 0 is line 2."""
    return Table(pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String)), "t.csv", first_line=2)


def test_plain_integer_ids_become_int64_in_numeric_order() -> None:
    ids = text_table(u=["10", "2", " 7 ", "-3"]).ids("u")
    assert ids.dtype == np.int64
    assert ids.tolist() == [10, 2, 7, -3]


@pytest.mark.parametrize("values", [["007", "7"], ["+5", "6"], ["a1", "2"]])
def test_ids_that_are_not_plain_integers_stay_strings(values: list[str]) -> None:
    """'007' and '7' are different ids; parsing them as numbers would merge them."""
    ids = text_table(u=values).ids("u")
    assert ids.dtype.kind == "U"
    assert ids.tolist() == values


def test_missing_id_names_its_line() -> None:
    with pytest.raises(DataError) as caught:
        text_table(u=["1", None, "3"]).ids("u")
    assert (caught.value.line, caught.value.column) == (3, "u")
    assert "missing value" in str(caught.value)


def test_timestamps_from_unix_seconds_and_iso_8601() -> None:
    utc = timezone.utc
    values = [
        "1700000000",
        "1700000000.9",
        "2024-05-01T12:30:00Z",
        "2024-05-01T12:30:00+02:00",
        "2024-05-01 12:30:00",
        "2024-05-01T12:30:00.250Z",
        "2024-05-01T12:30",
        "2024-05-01",
    ]
    expected = [
        1_700_000_000,
        1_700_000_000,
        int(datetime(2024, 5, 1, 12, 30, tzinfo=utc).timestamp()),
        int(datetime(2024, 5, 1, 12, 30, tzinfo=timezone(timedelta(hours=2))).timestamp()),
        int(datetime(2024, 5, 1, 12, 30, tzinfo=utc).timestamp()),
        int(datetime(2024, 5, 1, 12, 30, tzinfo=utc).timestamp()),
        int(datetime(2024, 5, 1, 12, 30, tzinfo=utc).timestamp()),
        int(datetime(2024, 5, 1, tzinfo=utc).timestamp()),
    ]
    assert text_table(t=values).timestamps("t").tolist() == expected


def test_timestamps_from_typed_columns() -> None:
    moment = datetime(2024, 1, 2, 3, 4, 5)
    frame = pl.DataFrame({"dt": [moment], "i": [1_700_000_000], "f": [1.7e9 + 0.5]})
    table = Table.from_frame(frame)
    assert table.timestamps("dt").tolist() == [int(moment.replace(tzinfo=timezone.utc).timestamp())]
    assert table.timestamps("i").tolist() == [1_700_000_000]
    assert table.timestamps("f").tolist() == [1_700_000_000]


def test_floats_check_finiteness_and_range() -> None:
    table = text_table(r=["1", "4.5", None, "5"])
    assert np.isnan(table.floats("r", missing_ok=True)[2])
    with pytest.raises(DataError, match="missing value; expected a number"):
        table.floats("r")
    with pytest.raises(DataError, match=r"line 3, column 'r': expected a number in the range 1\.\.4, got '4\.5'"):
        text_table(r=["1", "4.5"]).floats("r", low=1, high=4)
    with pytest.raises(DataError, match="expected a finite number, got 'inf'"):
        text_table(r=["1", "inf"]).floats("r")


def test_ints_reject_fractions_in_float_columns() -> None:
    table = Table.from_frame(pl.DataFrame({"n": [1.0, 2.5]}))
    with pytest.raises(DataError, match=r"row 2: expected a whole number, got 2\.5"):
        table.ints("n")
    assert Table.from_frame(pl.DataFrame({"n": [1.0, 2.0]})).ints("n").tolist() == [1, 2]


def test_dropping_duplicates_warns_once_and_keeps_line_numbers(write) -> None:
    path = write("e.csv", "u,i\n1,a\n1,a\n2,b\n1,a\nx,c\n")
    with pytest.warns(
        DataWarning, match=r"line 3: dropped exact duplicate rows \(kept the first of each\); 2 row\(s\), at lines 3, 5"
    ):
        table = read_table(path).without_duplicates()
    assert table.frame.rows() == [("1", "a"), ("2", "b"), ("x", "c")]
    with pytest.raises(DataError) as caught:
        table.ints("u")
    assert caught.value.line == 6


def test_no_warning_without_duplicates() -> None:
    table = text_table(u=["1", "2"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert table.without_duplicates() is table


def test_missing_columns_are_listed_with_the_found_ones() -> None:
    with pytest.raises(DataError, match=r"missing column\(s\) \['b'\]; expected columns \['a', 'b'\], found \['a'\]"):
        text_table(a=["1"]).require("a", "b")
