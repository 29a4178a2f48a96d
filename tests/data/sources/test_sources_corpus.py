"""Every file of the broken-file corpus fails with a DataError naming the file, line, column and what was expected."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shoprec.data.sources import (
    ColumnMapping,
    load_amazon_reviews,
    load_amazon_sequences,
    load_event_log,
    load_movielens,
    load_ncf_split,
    load_rechorus,
)
from shoprec.exceptions import DataError

CORPUS = Path(__file__).parent / "corpus"


def events(name: str, **kwargs: Any) -> Callable[[Path], object]:
    return lambda root: load_event_log(root / name, **kwargs)


def movielens(folder: str) -> Callable[[Path], object]:
    return lambda root: load_movielens(root / folder)


def movielens_written(files: dict[str, str]) -> Callable[[Path], object]:
    """A MovieLens folder written at test time (the project tracks no `.dat` data files, even broken ones)."""

    def load(root: Path) -> object:
        with tempfile.TemporaryDirectory() as folder:
            for name, text in files.items():
                (Path(folder) / name).write_text(text)
            return load_movielens(Path(folder))

    return load


def ncf(folder: str) -> Callable[[Path], object]:
    return lambda root: load_ncf_split(root / folder / "x.train.rating")


# (case, load, file at fault, line, column, parts of the message)
CASES: list[tuple[str, Callable[[Path], object], str, int | None, str | None, list[str]]] = [
    ("missing file", events("does_not_exist.csv"), "does_not_exist.csv", None, None, ["no such file"]),
    ("empty file", events("events_empty.csv"), "events_empty.csv", None, None, ["the file is empty"]),
    ("header only", events("events_header_only.csv"), "events_header_only.csv", None, None, ["no data lines"]),
    (
        "missing column",
        events("events_missing_column.csv"),
        "events_missing_column.csv",
        None,
        None,
        ["missing column(s) ['ts']", "expected columns ['user_id', 'item_id', 'ts', 'event_type']"],
    ),
    (
        "bad utf-8",
        events("events_bad_utf8.csv"),
        "events_bad_utf8.csv",
        3,
        None,
        ["invalid UTF-8", "\\xe9", "character 7"],
    ),
    (
        "unknown separator",
        events("events_unknown_separator.csv"),
        "events_unknown_separator.csv",
        1,
        None,
        ["cannot detect the separator", "tab, comma, semicolon or pipe"],
    ),
    (
        "NaN timestamp",
        events("events_nan_timestamp.csv"),
        "events_nan_timestamp.csv",
        4,
        "ts",
        ["unix seconds, milliseconds or microseconds, or an ISO-8601", "'NaN'"],
    ),
    ("empty timestamp", events("events_empty_timestamp.csv"), "events_empty_timestamp.csv", 3, "ts", ["missing value"]),
    (
        "bad ISO date",
        events("events_bad_iso_timestamp.csv"),
        "events_bad_iso_timestamp.csv",
        3,
        "ts",
        ["'2024-13-45T10:00:00Z'"],
    ),
    (
        "duplicate header",
        events("events_duplicate_header.csv"),
        "events_duplicate_header.csv",
        1,
        None,
        ["duplicate column name(s) ['user_id']"],
    ),
    (
        "unknown event type",
        events("events_unknown_event.csv"),
        "events_unknown_event.csv",
        4,
        "event_type",
        ["unknown event type 'refund'", "['view', 'cart', 'purchase']"],
    ),
    (
        "wrong field count",
        events("events_wrong_field_count.csv"),
        "events_wrong_field_count.csv",
        3,
        None,
        ["expected 4 fields separated by comma, found 3"],
    ),
    (
        "negative rating",
        events("events_negative_rating.csv", columns=ColumnMapping(rating="stars"), rating_scale=(1, 5)),
        "events_negative_rating.csv",
        3,
        "stars",
        ["in the range 1..5", "'-1'"],
    ),
    (
        "corrupt parquet",
        events("events_corrupt.parquet"),
        "events_corrupt.parquet",
        None,
        None,
        ["cannot read Parquet"],
    ),
    (
        "duplicate catalog id",
        lambda root: load_event_log(
            root / "events_nan_timestamp.csv",
            columns=ColumnMapping(timestamp=None),
            items=root / "catalog_duplicate_id.csv",
        ),
        "catalog_duplicate_id.csv",
        4,
        "item_id",
        ["id 'i1' appears again; expected one row per id"],
    ),
    ("non-numeric rating", movielens("ml_bad_rating"), "ratings.csv", 3, "rating", ["expected a number, got 'abc'"]),
    (
        "rating out of range",
        movielens("ml_rating_out_of_range"),
        "ratings.csv",
        4,
        "rating",
        ["in the range 0.5..5, got 7.0"],
    ),
    (
        "u.data field count",
        movielens("ml100k_field_count"),
        "u.data",
        2,
        None,
        ["expected 4 fields separated by spaces or tabs, found 3"],
    ),
    (
        "u.data wrong separator",
        movielens("ml100k_wrong_separator"),
        "u.data",
        1,
        None,
        ["separated by spaces or tabs, found 1", "contains comma instead: wrong separator?"],
    ),
    ("u.data bad timestamp", movielens("ml100k_bad_timestamp"), "u.data", 3, "timestamp", ["'87888x116'"]),
    (
        "users.dat age code",
        movielens_written(
            {
                "ratings.dat": "1::1193::5::978300760\n2::661::3::978302109\n",
                "users.dat": "1::F::1::10::48067\n2::M::7::16::70072\n",
            }
        ),
        "users.dat",
        2,
        "age",
        ["one of the codes ['1', '18'", "got '7'"],
    ),
    (
        "NCF unseen test user",
        ncf("ncf_unknown_user"),
        "x.test.rating",
        2,
        "user",
        ["expected a user of the train file, got 2"],
    ),
    (
        "NCF negatives disagree",
        ncf("ncf_negative_mismatch"),
        "x.test.negative",
        2,
        None,
        ["pair disagrees with x.test.rating line 2"],
    ),
    (
        "NCF malformed pair",
        ncf("ncf_bad_pair"),
        "x.test.negative",
        2,
        "column_0",
        ["a pair like (user,item)", "'(1;1)'"],
    ),
    (
        "malformed JSON attributes",
        lambda root: load_amazon_sequences(root / "beauty_bad_json" / "Beauty.txt"),
        "Beauty_item2attributes.json",
        2,
        None,
        ["malformed JSON at character 10", "Expecting ',' delimiter"],
    ),
    (
        "attribute not a list",
        lambda root: load_amazon_sequences(root / "beauty_bad_attribute" / "Beauty.txt"),
        "Beauty_item2attributes.json",
        None,
        None,
        ["item '2': expected a list of attribute ids, got 5"],
    ),
    (
        "sequence without items",
        lambda root: load_amazon_sequences(root / "beauty_user_without_items" / "Beauty.txt"),
        "Beauty.txt",
        2,
        "line",
        ["a user id followed by at least one item id"],
    ),
    (
        "relation list",
        lambda root: load_rechorus(root / "grocery_bad_relation" / "train.csv"),
        "item_meta.csv",
        3,
        "r_complement",
        ["a list of item ids like [1, 2, 3]", "'[1, 3'"],
    ),
    (
        "JSON lines",
        lambda root: load_amazon_reviews(root / "reviews_bad_line.json"),
        "reviews_bad_line.json",
        3,
        None,
        ["malformed JSON"],
    ),
    (
        "corrupt gzip",
        lambda root: load_amazon_reviews(root / "reviews_corrupt.json.gz"),
        "reviews_corrupt.json.gz",
        None,
        None,
        ["corrupt gzip data"],
    ),
]


@pytest.mark.parametrize(("load", "file", "line", "column", "parts"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_file_names_what_is_wrong(
    load: Callable[[Path], object], file: str, line: int | None, column: str | None, parts: list[str]
) -> None:
    with pytest.raises(DataError) as caught:
        load(CORPUS)
    error = caught.value
    message = str(error)
    assert type(error) is DataError
    assert error.path is not None and Path(error.path).name == file, message
    assert error.line == line, message
    assert error.column == column, message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"
    if line is not None:
        assert f"line {line}" in message


def test_every_corpus_file_is_exercised() -> None:
    used = {c[2] for c in CASES}
    files = {p.name for p in CORPUS.rglob("*") if p.is_file()}
    helpers = {"x.train.rating", "x.test.rating", "Beauty.txt", "train.csv", "ratings.dat", "u.data", "ratings.csv"}
    assert files - used - helpers == set()
