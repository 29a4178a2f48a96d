"""A shop's own files by path: folders, formats and compression, column guessing, bad mappings, checksums."""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from shoprec.data.export import export_dataset
from shoprec.data.sources.local import (
    DATA_SOURCE,
    check_unchanged,
    find_files,
    load_local,
    parse_event_weights,
    parse_pairs,
    resolve_data,
    resolve_source,
)
from shoprec.data.synthetic import generate_shop
from shoprec.exceptions import ConfigError, DataError

pytestmark = pytest.mark.filterwarnings("ignore:.*exact duplicate row")

SHOP = """customer,sku,action,when
c1,p1,view,1700000000
c1,p2,cart,1700000100
c2,p1,purchase,1700000200
c3,p3,view,1700000300
"""


@pytest.fixture(scope="module")
def shop_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shop")
    export_dataset(generate_shop(n_users=40, n_items=25, n_events=400, seed=3), folder, fmt="csv")
    return folder


def _same_events(a, b) -> None:
    assert a.users.to_list() == b.users.to_list() and a.items.to_list() == b.items.to_list()
    for name in ("users", "items", "weights", "timestamps", "events"):
        np.testing.assert_array_equal(getattr(a.interactions, name), getattr(b.interactions, name))


def test_a_folder_loads_events_catalog_and_profiles_with_guessed_columns(shop_csv: Path) -> None:
    data = load_local(shop_csv)
    exported = pl.read_csv(shop_csv / "events.csv")
    assert len(data) == exported.unique().height  # exact duplicate rows dropped (and warned about)
    assert data.event_types == ("view", "cart", "purchase")
    assert data.item_features.names() == ["category", "brand", "price"]
    assert data.user_features.names() == ["segment", "age"]
    assert data.n_items == 25 and data.n_users == 40  # catalog and profiles keep entities without events
    record = data.metadata[DATA_SOURCE]
    assert record["path"] == str(shop_csv.resolve()) and len(record["files"]) == 3
    assert record["columns"] == {
        "user": "user_id",
        "item": "item_id",
        "time": "ts",
        "event": "event_type",
        "weight": "",
        "rating": "",
        "title": "",
    }
    assert record["event_weights"] == {"view": 1.0, "cart": 3.0, "purchase": 5.0}


def _compress(path: Path, opener, suffix: str) -> Path:
    target = path.with_name(path.name + suffix)
    with path.open("rb") as src, opener(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    path.unlink()
    return target


@pytest.mark.parametrize(
    ("fmt", "compress"),
    [("tsv", None), ("parquet", None), ("jsonl", None), ("csv", "gz"), ("csv", "bz2"), ("jsonl", "xz")],
)
def test_every_format_and_compression_gives_the_same_data(shop_csv: Path, tmp_path: Path, fmt: str, compress) -> None:
    data = generate_shop(n_users=40, n_items=25, n_events=400, seed=3)
    written = export_dataset(data, tmp_path, fmt=fmt)
    if compress is not None:
        opener = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}[compress]
        for path in written:
            _compress(path, opener, f".{compress}")
    _same_events(load_local(tmp_path), load_local(shop_csv))


def test_a_single_file_with_shop_names_is_guessed_and_the_hint_says_how_to_override(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(SHOP.replace("when", "timestamp"))
    source = resolve_source(path)
    assert (source.columns.user, source.columns.item, source.columns.event, source.columns.timestamp) == (
        "customer",
        "sku",
        "action",
        "timestamp",
    )
    assert set(source.guessed) == {"user", "item", "event", "time"}
    assert source.describe().endswith("override with --columns user=customer,item=sku,time=timestamp,event=action")
    assert len(load_local(path)) == 4


def test_explicit_columns_are_used_and_unguessed_roles_stay_empty(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(SHOP)  # "when" is no common time name
    assert resolve_source(path).columns.timestamp is None
    data = load_local(path, columns={"time": "when"}, event_weights={"view": 1, "cart": 2, "purchase": 4})
    assert data.has_timestamps
    np.testing.assert_allclose(data.interactions.weights, [1, 2, 4, 1])
    assert resolve_source(path, columns={"event": ""}).columns.event is None  # `event=`: the log has none


@pytest.mark.parametrize(
    ("columns", "weights", "error", "words"),
    [
        ({"item": "product"}, None, DataError, ["log.csv", "item=product: no such column", "['customer', 'sku'"]),
        ({"user": "sku", "item": "sku"}, None, ConfigError, ["column 'sku' given two roles (user, item)"]),
        ({"shop": "sku"}, None, ConfigError, ["unknown role 'shop'", "'user'"]),
        ({}, {"view": 1.0, "cart": 3.0}, DataError, ["column 'action'", "'purchase'", "--event-weights"]),
    ],
)
def test_bad_mappings_name_the_column_and_what_exists(tmp_path: Path, columns, weights, error, words) -> None:
    path = tmp_path / "log.csv"
    path.write_text(SHOP)
    with pytest.raises(error) as caught:
        load_local(path, columns=columns, event_weights=weights)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_ids_that_cannot_be_guessed_ask_for_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"cannot tell which column holds the user; the file has \['a', 'b'\]"):
        resolve_source(path)


def test_folder_errors(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"no events file.*found \['notes.txt'\]"):
        find_files(tmp_path)
    (tmp_path / "events.csv").write_text(SHOP)
    (tmp_path / "events.parquet").write_bytes(b"")
    with pytest.raises(DataError, match="several events files"):
        find_files(tmp_path)
    (tmp_path / "events.parquet").unlink()
    (tmp_path / "items.csv").write_text("product,price\np1,3\n")
    with pytest.raises(DataError, match=r"items.csv: no item id column 'sku'"):
        resolve_source(tmp_path)


def test_a_reference_is_a_registered_name_or_an_existing_path(tmp_path: Path) -> None:
    assert resolve_data("synthetic-shop", n_users=5, n_items=5, n_events=20).name == "synthetic-shop"
    with pytest.raises(ConfigError, match=r"'no/such/log.csv': not a registered name .* and no such file or folder"):
        resolve_data("no/such/log.csv")
    (tmp_path / "log.csv").write_text(SHOP)
    with pytest.raises(ConfigError, match=r"unknown option\(s\) \['all_catalog_items'\]"):
        resolve_data(str(tmp_path / "log.csv"), all_catalog_items=True)


def test_a_changed_or_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(SHOP)
    record = load_local(path).metadata[DATA_SOURCE]
    check_unchanged(record)  # unchanged: passes
    path.write_text(SHOP + "c4,p1,view,1700000400\n")
    with pytest.raises(DataError, match=f"data file changed since training: {path} \\(sha256 {record['sha256'][:12]}"):
        check_unchanged(record)
    path.unlink()
    with pytest.raises(DataError, match="data file missing since training"):
        check_unchanged(record)


def test_flag_parsing() -> None:
    assert parse_pairs("user=customer, item = sku", "--columns") == {"user": "customer", "item": "sku"}
    assert parse_event_weights("view=1,cart=2.5") == {"view": 1.0, "cart": 2.5}
    with pytest.raises(ConfigError, match="--columns: expected key=value"):
        parse_pairs("user", "--columns")
    with pytest.raises(ConfigError, match="--event-weights cart=lots: expected a number"):
        parse_event_weights("cart=lots")


def test_json_lines_errors_name_the_line_even_after_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    good = '{"user_id": "u1", "item_id": "i1", "ts": 1700000000}'
    late = good.replace("1700000000", '"soon"')
    path.write_text(f"{good}\n\n{good.replace('u1', 'u2')}\n{late}\n")
    with pytest.raises(DataError, match=r"events.jsonl, line 4, column 'ts'.*'soon'"):
        load_local(path)
    path.write_text(f"{good}\n[1, 2]\n")
    with pytest.raises(DataError, match=r"events.jsonl, line 2: expected a JSON object per line, got list"):
        load_local(path)
    path.write_text(f"{good}\n{{oops\n")
    with pytest.raises(DataError, match=r"events.jsonl, line 2: expected a JSON object per line, got invalid JSON"):
        load_local(path)
