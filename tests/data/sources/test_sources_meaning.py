"""The broken-file corpus by defect class of meaning (not only shape): every case is an error naming file,
line and column, or a DataWarning saying what was dropped or changed, how many and where; never silent.

Files are written at test time (the project tracks no data files such as `.dat`). Each warning case is
run twice: loaded with its warning, and under `strict=True`, where the same message is a DataError.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from shoprec.data.sources import (
    ColumnMapping,
    load_amazon_ratings,
    load_amazon_sequences,
    load_event_log,
    load_frappe,
    load_movielens,
    load_ncf_split,
    load_rechorus,
    strict_data,
)
from shoprec.data.sources.ctr import load_libfm
from shoprec.exceptions import DataError, DataWarning

EVENTS = "user_id,item_id,ts,event_type\nu1,i1,1700000000,view\nu1,i2,1700000100,cart\nu2,i1,1700000200,view\n"
NCF_TRAIN = "0\t0\t5\t0\n0\t1\t3\t0\n1\t0\t4\t0\n1\t2\t2\t0\n2\t3\t1\t0\n"
NCF_TEST = "0\t2\t5\t978824351\n1\t1\t3\t978300174\n"
FRAPPE = "user\titem\tcnt\tdaytime\tweekday\n0\t0\t1\tmorning\tsunday\n1\t1\t7\tnoon\tmonday\n"
META = (
    "item\tname\tcategory\tdownloads\tlanguage\tprice\trating\n"
    "0\tA\tTools\t1-5\ten\tFree\t4.1\n1\tB\tGames\t1-5\ten\t$1.99\t3.5\n"
)


@dataclass
class Case:
    """files: written under a fresh folder; load(folder); the outcome names `file`, `line` and `column`."""

    name: str
    files: dict[str, str | bytes]
    load: Callable[[Path], object]
    kind: str  # "error" or "warning"
    file: str
    line: int | None
    column: str | None
    parts: list[str] = field(default_factory=list)


def events(name: str = "e.csv", catalog: str | None = None, **kwargs: object) -> Callable[[Path], object]:
    return lambda root: load_event_log(root / name, items=None if catalog is None else root / catalog, **kwargs)


def ml(root: Path) -> object:
    return load_movielens(root)


def ncf(root: Path) -> object:
    return load_ncf_split(root / "x.train.rating")


def parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def zipped(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("u.data", text)
    return buffer.getvalue()


MS_FRAME = pl.DataFrame({"user_id": ["u1", "u2"], "item_id": ["i1", "i2"], "ts": [1_700_000_000_000, 10**15]})

CASES = [
    # --- ids: syntax and range the format fixes ---
    Case(
        "ML item id 0", {"ratings.dat": "1::0::5::978300760\n"}, ml, "error", "ratings.dat", 1, "item", ["an id >= 1"]
    ),
    Case(
        "ML negative user",
        {"u.data": "1\t5\t3\t881250949\n-4\t2\t3\t881250949\n"},
        ml,
        "error",
        "u.data",
        2,
        "user",
        ["an id >= 1", "-4"],
    ),
    Case(
        "Beauty raw ASIN",
        {"Beauty.txt": "1 5 7\n2 B000ABC123 4\n"},
        lambda r: load_amazon_sequences(r / "Beauty.txt"),
        "error",
        "Beauty.txt",
        2,
        "line",
        ["integer ids >= 1", "'B000ABC123'"],
    ),
    Case(
        "Beauty item 0",
        {"Beauty.txt": "1 5 0\n"},
        lambda r: load_amazon_sequences(r / "Beauty.txt"),
        "error",
        "Beauty.txt",
        1,
        "line",
        ["got '0'"],
    ),
    Case(
        "ReChorus item 0",
        {"train.csv": "user_id\titem_id\ttime\n1\t0\t965779200\n"},
        lambda r: load_rechorus(r / "train.csv"),
        "error",
        "train.csv",
        2,
        "item_id",
        ["an id >= 1"],
    ),
    Case(
        "NCF negative id",
        {
            "x.train.rating": "0\t0\t5\t0\n-1\t1\t3\t0\n",
            "x.test.rating": NCF_TEST,
            "x.test.negative": "(0,2)\t1\n(1,1)\t0\n",
        },
        ncf,
        "error",
        "x.train.rating",
        2,
        "user",
        ["an id >= 0"],
    ),
    Case(
        "libFM negative feature id",
        {"f.libfm": "1 -3:1 7:1\n0 2:1 8:1\n"},
        lambda r: load_libfm(r / "f.libfm"),
        "error",
        "f.libfm",
        1,
        "field0.id",
        ["a feature id >= 0"],
    ),
    # --- categorical codes and plausible values ---
    Case(
        "gender not M/F",
        {"ratings.dat": "1::1::5::978300760\n", "users.dat": "1::X::25::4::55117\n"},
        ml,
        "error",
        "users.dat",
        1,
        "gender",
        ["one of the codes ['M', 'F']", "'X'"],
    ),
    Case(
        "age 200",
        {"u.data": "1\t1\t3\t881250949\n", "u.user": "1|200|M|writer|55117\n"},
        ml,
        "error",
        "u.user",
        1,
        "age",
        ["in the range 1..110", "200"],
    ),
    Case(
        "occupation not listed",
        {"u.data": "1\t1\t3\t881250949\n", "u.user": "1|30|M|astronaut|55117\n", "u.occupation": "writer\nartist\n"},
        ml,
        "error",
        "u.user",
        1,
        "occupation",
        ["'astronaut'"],
    ),
    Case(
        "half star in 100K", {"u.data": "1\t1\t3.5\t881250949\n"}, ml, "error", "u.data", 1, "rating", ["in steps of 1"]
    ),
    Case(
        "rating off the half-star grid",
        {"ratings.dat": "1::1::3.7::978300760\n"},
        ml,
        "error",
        "ratings.dat",
        1,
        "rating",
        ["in steps of 0.5"],
    ),
    Case(
        "unknown genre",
        {"ratings.dat": "1::1::5::978300760\n", "movies.dat": "1::Toy Story (1995)::Comedy|Cartoon\n"},
        ml,
        "error",
        "movies.dat",
        1,
        "genres",
        ["'|'-separated genres"],
    ),
    Case(
        "Frappe weekday",
        {"frappe.csv": FRAPPE.replace("monday", "funday")},
        lambda r: load_frappe(r / "frappe.csv"),
        "error",
        "frappe.csv",
        3,
        "weekday",
        ["'funday'"],
    ),
    Case(
        "Frappe zero count",
        {"frappe.csv": FRAPPE.replace("\t7\t", "\t0\t")},
        lambda r: load_frappe(r / "frappe.csv"),
        "error",
        "frappe.csv",
        3,
        "cnt",
        ["a count of uses >= 1"],
    ),
    Case(
        "Frappe price",
        {"frappe.csv": FRAPPE, "meta.csv": META.replace("$1.99", "cheap")},
        lambda r: load_frappe(r / "frappe.csv"),
        "error",
        "meta.csv",
        3,
        "price",
        ["'cheap'"],
    ),
    Case(
        "one bad price",
        {"e.csv": EVENTS, "c.csv": "item_id,price\n" + "".join(f"i{n},{n}.5\n" for n in range(30)) + "i99,n/a\n"},
        events(catalog="c.csv"),
        "error",
        "c.csv",
        32,
        "price",
        ["a number like the rest of the column"],
    ),
    Case(
        "in_stock=maybe",
        {
            "e.csv": EVENTS,
            "c.csv": "item_id,in_stock\n"
            + "".join(f"i{n},{'yes' if n % 2 else 'no'}\n" for n in range(30))
            + "i99,maybe\n",
        },
        events(catalog="c.csv"),
        "error",
        "c.csv",
        32,
        "in_stock",
        ["a yes/no value", "'maybe'"],
    ),
    # --- timestamps: unit and plausibility ---
    Case(
        "mixed units",
        {"e.csv": EVENTS.replace("1700000100", "1700000100000")},
        events(),
        "error",
        "e.csv",
        3,
        "ts",
        ["looks like ms while 2 other(s) look like s"],
    ),
    Case(
        "placeholder 0",
        {"e.csv": EVENTS.replace("1700000100", "0")},
        events(),
        "error",
        "e.csv",
        3,
        "ts",
        ["1 timestamp(s) outside 1990-01-01", "1970-01-01"],
    ),
    Case(
        "future date",
        {"e.csv": EVENTS.replace("1700000100", "4102444800")},
        events(),
        "error",
        "e.csv",
        3,
        "ts",
        ["2100-01-01"],
    ),
    Case(
        "ISO before 1990",
        {"e.csv": EVENTS.replace("1700000100", "1989-12-31T23:00:00Z")},
        events(),
        "error",
        "e.csv",
        3,
        "ts",
        ["1989-12-31 23:00:00"],
    ),
    Case(
        "ms and us in Parquet",
        {"e.parquet": parquet(MS_FRAME)},
        events("e.parquet", columns=ColumnMapping(event=None)),
        "error",
        "e.parquet",
        None,
        "ts",
        ["row 2", "looks like us while 1 other(s) look like ms"],
    ),
    Case(
        "positions, not dates",
        {"e.csv": "user_id,item_id,ts\nu1,i1,1\nu1,i2,2\n"},
        events(columns=ColumnMapping(event=None)),
        "warning",
        "e.csv",
        None,
        "ts",
        ["read as an order of events"],
    ),
    # --- duplicates ---
    Case(
        "conflicting ratings",
        {
            "ratings.csv": "userId,movieId,rating,timestamp\n1,5,4.0,1260759144\n1,6,3.0,1260759144\n"
            "1,5,2.5,1260759999\n"
        },
        ml,
        "warning",
        "ratings.csv",
        2,
        "rating",
        [
            "1 (user, item) key(s) appear on more than one row, 1 of them with different 'rating' values",
            "kept the latest row",
            "1 row(s), at line 2",
        ],
    ),
    Case(
        "exact duplicates",
        {"ratings.csv": "userId,movieId,rating,timestamp\n1,5,4.0,1260759144\n1,5,4.0,1260759144\n"},
        ml,
        "warning",
        "ratings.csv",
        3,
        None,
        ["dropped exact duplicate rows (kept the first of each); 1 row(s), at line 3"],
    ),
    Case(
        "conflicting Amazon ratings",
        {"r.csv": "A1,B01,5,1400000000\nA1,B01,1,1300000000\n"},
        lambda r: load_amazon_ratings(r / "r.csv"),
        "warning",
        "r.csv",
        2,
        "rating",
        ["kept the latest row"],
    ),
    # --- repeated headers, control characters ---
    Case(
        "repeated catalog header",
        {"e.csv": EVENTS, "c.csv": "item_id,title\ni1,A\nitem_id,title\ni2,B\n"},
        events(catalog="c.csv"),
        "warning",
        "c.csv",
        3,
        None,
        ["dropped lines that repeat the header; 1 row(s), at line 3"],
    ),
    Case(
        "repeated ratings header",
        {
            "ratings.csv": "userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n"
            "userId,movieId,rating,timestamp\n2,31,3.0,1260759144\n"
        },
        ml,
        "warning",
        "ratings.csv",
        3,
        None,
        ["dropped lines that repeat the header"],
    ),
    Case(
        "NUL in a title",
        {"e.csv": EVENTS, "c.csv": "item_id,title\ni1,Sho\x00es\ni2,B\n"},
        events(catalog="c.csv", columns=ColumnMapping(title="title")),
        "warning",
        "c.csv",
        2,
        "title",
        ["removed control characters"],
    ),
    Case(
        "NUL in an id",
        {"e.csv": EVENTS.replace("u2,", "u\x002,")},
        events(),
        "error",
        "e.csv",
        4,
        "user_id",
        ["control character in 'u\\x002'"],
    ),
    # --- references between files ---
    Case(
        "ratings of unknown movies",
        {"ratings.dat": "1::1::5::978300760\n1::9::3::978300760\n", "movies.dat": "1::Toy Story (1995)::Comedy\n"},
        ml,
        "warning",
        "ratings.dat",
        2,
        "item",
        ["events of 1 id(s) missing from movies.dat"],
    ),
    Case(
        "events of unknown items",
        {"e.csv": EVENTS, "c.csv": "item_id,brand\ni1,x\n"},
        events(catalog="c.csv"),
        "warning",
        "e.csv",
        3,
        "item_id",
        ["missing from c.csv", "1 row(s), at line 3"],
    ),
    Case(
        "attributes of unknown items",
        {"Beauty.txt": "1 5 7\n", "Beauty_item2attributes.json": '{"5": [1], "8": [2]}'},
        lambda r: load_amazon_sequences(r / "Beauty.txt"),
        "warning",
        "Beauty_item2attributes.json",
        None,
        None,
        ["attributes of 1 item(s) not in the sequences", "JSON keys '8'"],
    ),
    Case(
        "relation to unknown item",
        {
            "train.csv": "user_id\titem_id\ttime\n1\t1\t965779200\n",
            "item_meta.csv": "item_id\ti_category\tr_complement\n1\t0\t[1, 77]\n",
        },
        lambda r: load_rechorus(r / "train.csv"),
        "warning",
        "item_meta.csv",
        2,
        "r_complement",
        ["lists name items missing from the file"],
    ),
    # --- pre-split leakage ---
    Case(
        "test pair in train",
        {
            "x.train.rating": NCF_TRAIN,
            "x.test.rating": NCF_TEST.replace("0\t2\t5", "0\t1\t5"),
            "x.test.negative": "(0,1)\t3\n(1,1)\t3\n",
        },
        ncf,
        "error",
        "x.test.rating",
        1,
        "item",
        ["1 test pair(s) also in the train file (a leak)"],
    ),
    Case(
        "negative in train",
        {"x.train.rating": NCF_TRAIN, "x.test.rating": NCF_TEST, "x.test.negative": "(0,2)\t3\n(1,1)\t2\n"},
        ncf,
        "error",
        "x.test.negative",
        2,
        "column_1",
        ["negative item 2 is a training positive of this user"],
    ),
    Case(
        "repeated negative",
        {"x.train.rating": NCF_TRAIN, "x.test.rating": NCF_TEST, "x.test.negative": "(0,2)\t3\t3\n(1,1)\t3\t3\n"},
        ncf,
        "error",
        "x.test.negative",
        1,
        "column_2",
        ["negative item 3 repeats on this line", "2 line(s)"],
    ),
    Case(
        "negative outside the catalog",
        {"x.train.rating": NCF_TRAIN, "x.test.rating": NCF_TEST, "x.test.negative": "(0,2)\t3\n(1,1)\t999\n"},
        ncf,
        "error",
        "x.test.negative",
        2,
        "column_1",
        ["negative item 999 is outside the catalog", "0..3"],
    ),
    Case(
        "negative equal to the positive",
        {"x.train.rating": NCF_TRAIN, "x.test.rating": NCF_TEST, "x.test.negative": "(0,2)\t2\n(1,1)\t3\n"},
        ncf,
        "warning",
        "x.test.negative",
        1,
        "column_1",
        ["1 negative(s) equal their line's test item"],
    ),
    Case(
        "two test lines for one user",
        {
            "x.train.rating": NCF_TRAIN,
            "x.test.rating": NCF_TEST + "0\t3\t4\t978300174\n",
            "x.test.negative": "(0,2)\t3\n(1,1)\t3\n(0,3)\t2\n",
        },
        ncf,
        "error",
        "x.test.rating",
        3,
        "user",
        ["one test line per user"],
    ),
    Case(
        "film year 2995",
        {"ratings.dat": "1::1::5::978300760\n", "movies.dat": "1::Toy Story (2995)::Comedy\n"},
        ml,
        "error",
        "movies.dat",
        1,
        "title",
        ["a year 1870.."],
    ),
    Case(
        "profile age 200",
        {"e.csv": EVENTS, "p.csv": "user_id,age\nu1,34\nu2,200\n"},
        lambda r: load_event_log(r / "e.csv", users=r / "p.csv"),
        "error",
        "p.csv",
        3,
        "age",
        ["in the range 0..120", "200"],
    ),
    Case(
        "negative price",
        {"e.csv": EVENTS, "c.csv": "item_id,price\ni1,9.99\ni2,-5\n"},
        events(catalog="c.csv"),
        "error",
        "c.csv",
        3,
        "price",
        ["in the range 0..inf"],
    ),
    # --- files that are not what they claim ---
    Case(
        "list column in Parquet",
        {"e.parquet": parquet(MS_FRAME.with_columns(item_id=pl.Series([["i1"], ["i2"]])))},
        events("e.parquet", columns=ColumnMapping(event=None)),
        "error",
        "e.parquet",
        None,
        "item_id",
        ["expected plain values (strings or numbers), got List(String)"],
    ),
    Case("CR-only lines", {"e.csv": EVENTS.replace("\n", "\r")}, events(), "error", "e.csv", None, None, ["CR only"]),
    Case(
        "Excel file as CSV",
        {"e.csv": b"\xd0\xcf\x11\xe0" + bytes(60)},
        events(),
        "error",
        "e.csv",
        None,
        None,
        ["an Excel/OLE2 document"],
    ),
    Case("UTF-16 text", {"e.csv": EVENTS.encode("utf-16")}, events(), "error", "e.csv", None, None, ["UTF-16 text"]),
    Case(
        "zero-row Parquet",
        {"e.parquet": parquet(MS_FRAME.head(0))},
        events("e.parquet", columns=ColumnMapping(event=None)),
        "error",
        "e.parquet",
        None,
        None,
        ["no rows"],
    ),
    Case(
        "folder for a file",
        {"e.csv/x": "x"},
        events(),
        "error",
        "e.csv",
        None,
        None,
        ["expected a file, found a folder"],
    ),
    Case(
        "zip under a plain name",
        {"u.data": zipped("1\t1\t3\t881250949\n")},
        ml,
        "error",
        "u.data",
        None,
        None,
        ["a zip archive"],
    ),
    Case(
        "zstd under a plain name",
        {"e.csv": b"\x28\xb5\x2f\xfd" + bytes(20)},
        events(),
        "error",
        "e.csv",
        None,
        None,
        ["zstd-compressed, not text"],
    ),
]


def _write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


def _assert_names(found: DataError | DataWarning, case: Case) -> None:
    message = str(found)
    assert found.path is not None and Path(found.path).name == case.file, message
    assert found.line == case.line, message
    assert found.column == case.column, message
    for part in case.parts:
        assert part in message, f"{part!r} not in {message!r}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_defect_is_an_error_or_an_explicit_warning(case: Case, tmp_path: Path) -> None:
    _write(tmp_path, case.files)
    if case.kind == "error":
        with pytest.raises(DataError) as caught:
            case.load(tmp_path)
        _assert_names(caught.value, case)
        return
    with warnings.catch_warnings(record=True) as caught_warnings:
        warnings.simplefilter("always")
        case.load(tmp_path)
    data_warnings = [w.message for w in caught_warnings if isinstance(w.message, DataWarning)]
    assert len(data_warnings) == 1, [str(w) for w in data_warnings]
    _assert_names(data_warnings[0], case)
    with strict_data(), pytest.raises(DataError, match="an error because strict=True") as strict:
        case.load(tmp_path)
    _assert_names(strict.value, case)


def test_milliseconds_are_detected_not_read_as_seconds(tmp_path: Path) -> None:
    frame = MS_FRAME.with_columns(ts=pl.Series([1_700_000_000_123, 1_700_000_100_999]))
    path = tmp_path / "e.parquet"
    frame.write_parquet(path)
    data = load_event_log(path, columns=ColumnMapping(event=None))
    assert data.interactions.timestamps.tolist() == [1_700_000_000, 1_700_000_100]
    micro = frame.with_columns(ts=pl.col("ts") * 1000)
    data = load_event_log(micro, columns=ColumnMapping(event=None))
    assert data.interactions.timestamps.tolist() == [1_700_000_000, 1_700_000_100]
    forced = load_event_log(frame, columns=ColumnMapping(event=None), timestamp_unit="ms")
    assert forced.interactions.timestamps.tolist() == [1_700_000_000, 1_700_000_100]


def test_positions_load_silently_when_declared(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("user_id,item_id,ts\nu1,i1,2\nu1,i2,1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load_event_log(path, columns=ColumnMapping(event=None), timestamp_unit="order")
    assert data.interactions.timestamps.tolist() == [2, 1]


def test_whitespace_formats_take_any_run_of_spaces_and_tabs(tmp_path: Path) -> None:
    (tmp_path / "Beauty.txt").write_text("1\t95 96\n2  97\t\t98 \n")
    beauty = load_amazon_sequences(tmp_path / "Beauty.txt")
    assert beauty.users.to_list() == ["1", "2"]
    assert beauty.items.to_list() == ["95", "96", "97", "98"]
    assert len(beauty.interactions) == 4
    (tmp_path / "f.libfm").write_bytes(b"1\t3:1 7:1\r\n0 \t4:1  8:1\r\n")
    rows = load_libfm(tmp_path / "f.libfm")
    assert rows.labels.tolist() == [1.0, 0.0]
    assert rows.features["field0"].values == ("3", "4")
    (tmp_path / "u.data").write_text("1 5  3\t881250949\n2\t6\t4\t881250950\n")
    ml100k = load_movielens(tmp_path)
    assert ml100k.interactions.ratings.tolist() == [3.0, 4.0]


def test_the_latest_conflicting_rating_is_kept(tmp_path: Path) -> None:
    (tmp_path / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,5,2.0,1260759999\n1,6,3.0,1260759144\n1,5,4.5,1260759000\n"
    )
    with pytest.warns(DataWarning, match="kept the latest row"):
        data = load_movielens(tmp_path)
    assert sorted(
        zip(data.items.ids[data.interactions.items].tolist(), data.interactions.ratings.tolist(), strict=True)
    ) == [
        ("5", 2.0),
        ("6", 3.0),
    ]


def test_a_stripped_title_and_a_dropped_header_leave_clean_data(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text(EVENTS)
    (tmp_path / "c.csv").write_text("item_id,title\ni1,Sho\x00es\nitem_id,title\ni2,B\n")
    with pytest.warns(DataWarning):
        data = load_event_log(tmp_path / "e.csv", items=tmp_path / "c.csv", columns=ColumnMapping(title="title"))
    assert data.items.to_list() == ["i1", "i2"]
    assert data.metadata["item_titles"] == ["Shoes", "B"]


def test_an_unreadable_file_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "e.csv"
    path.write_text(EVENTS)

    def refuse(self: Path, *args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(DataError, match=r"e\.csv: cannot read the file \(Permission denied\)"):
        load_event_log(path)


def test_strict_is_a_loader_keyword_and_reaches_the_registry(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("user_id,item_id,ts\nu1,i1,1\n")
    with pytest.raises(DataError, match="read as an order of events"):
        load_event_log(tmp_path / "e.csv", columns=ColumnMapping(event=None), strict=True)
    folder = tmp_path / "ml-1m-ncf"
    _write(
        folder,
        {"ml-1m.train.rating": NCF_TRAIN, "ml-1m.test.rating": NCF_TEST, "ml-1m.test.negative": "(0,2)\t2\n(1,1)\t3\n"},
    )
    from shoprec.data.sources import load_dataset

    with pytest.warns(DataWarning):
        split = load_dataset("ml-1m-ncf", data_dir=tmp_path)
    assert np.asarray(split.test_negatives).shape == (2, 1)
    with pytest.raises(DataError, match="equal their line's test item"):
        load_dataset("ml-1m-ncf", data_dir=tmp_path, strict=True)


def test_cli_strict_turns_a_data_warning_into_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from shoprec.cli.main import app

    _write(tmp_path / "ml-1m-ncf", {"ml-1m.train.rating": NCF_TRAIN, "ml-1m.test.rating": NCF_TEST,
                                    "ml-1m.test.negative": "(0,2)\t2\n(1,1)\t3\n"})  # fmt: skip
    monkeypatch.setenv("SHOPREC_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    loose = runner.invoke(app, ["datasets", "info", "ml-1m-ncf", "--json"])
    assert loose.exit_code == 0, loose.output
    strict = runner.invoke(app, ["datasets", "info", "ml-1m-ncf", "--json", "--strict"])
    assert strict.exit_code == 2
    assert "equal their line's test item" in strict.output and "strict=True" in strict.output
    assert "Traceback" not in strict.output


def test_bzip2_and_xz_under_a_plain_name_are_unpacked(tmp_path: Path) -> None:
    import bz2
    import lzma

    for name, pack in (("b.csv", bz2.compress), ("x.csv", lzma.compress)):
        (tmp_path / name).write_bytes(pack(EVENTS.encode()))
        assert len(load_event_log(tmp_path / name).interactions) == 3
