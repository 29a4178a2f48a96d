"""A shop's own event log: weights, cold catalog items and users, feature kinds, input formats, round trips."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoprec.data.dataset import Dataset
from shoprec.data.features import CategoricalColumn, MultiValuedColumn, NumericColumn
from shoprec.data.sources import ITEM_TITLES, ColumnMapping, load_event_log
from shoprec.exceptions import ConfigError, DataError

EVENTS = """user_id,item_id,ts,event_type
u2,i1,1700000000,view
u1,i1,2024-01-01T00:00:00Z,cart
u1,i3,1700000100,purchase
u2,i3,1700000200,view
"""
CATALOG = """item_id,title,price,tags,brand,size
i1,Red shoe,10.5,shoes|red,acme,42
i2,Blue hat,,hats| blue ,zenith,7
i3,Sock,2,,acme,
"""


def test_event_weights_types_and_cold_catalog_items(write) -> None:
    data = load_event_log(
        write("events.csv", EVENTS),
        items=write("catalog.csv", CATALOG),
        columns=ColumnMapping(title="title"),
        item_features={"price": "auto", "tags": "multi", "brand": "auto", "size": "categorical"},
    )
    assert data.users.to_list() == ["u1", "u2"]
    assert data.items.to_list() == ["i1", "i2", "i3"]  # i2 has no event: a cold catalog item
    inter = data.interactions
    assert inter.users.tolist() == [1, 0, 0, 1]
    assert inter.items.tolist() == [0, 0, 2, 2]
    assert data.event_types == ("view", "cart", "purchase")
    assert inter.events.tolist() == [0, 1, 2, 0]
    assert inter.weights.tolist() == [1.0, 3.0, 5.0, 1.0]
    assert inter.timestamps.tolist() == [1_700_000_000, 1_704_067_200, 1_700_000_100, 1_700_000_200]
    features = data.item_features
    assert isinstance(features["price"], NumericColumn)
    np.testing.assert_array_equal(features["price"].values, [10.5, np.nan, 2.0])
    tags = features["tags"]
    assert isinstance(tags, MultiValuedColumn)
    assert [[tags.values[c - 1] for c in tags.of(i)] for i in range(3)] == [["shoes", "red"], ["hats", "blue"], []]
    size = features["size"]
    assert isinstance(size, CategoricalColumn)  # numeric-looking, declared categorical
    assert size.values == ("42", "7")
    assert size.codes.tolist() == [1, 2, 0]
    assert data.metadata[ITEM_TITLES] == ["Red shoe", "Blue hat", "Sock"]
    assert data.describe()["items"] == 2


def test_kinds_are_inferred_when_not_given(write) -> None:
    data = load_event_log(write("e.csv", EVENTS), items=write("c.csv", CATALOG), columns=ColumnMapping(title="title"))
    kinds = {name: type(col).__name__ for name, col in data.item_features.columns.items()}
    assert kinds == {
        "price": "NumericColumn",
        "tags": "CategoricalColumn",  # '|' strings split only when declared "multi"
        "brand": "CategoricalColumn",
        "size": "NumericColumn",
    }


def test_list_columns_of_a_parquet_catalog_are_multi_valued(write, tmp_path: Path) -> None:
    catalog = pl.DataFrame({"item_id": ["i3", "i1"], "tags": [["a", "b"], []], "stock": [True, False]})
    catalog.write_parquet(tmp_path / "catalog.parquet")
    data = load_event_log(write("e.csv", EVENTS), items=tmp_path / "catalog.parquet")
    tags = data.item_features["tags"]
    assert isinstance(tags, MultiValuedColumn)
    assert [[tags.values[c - 1] for c in tags.of(i)] for i in range(2)] == [[], ["a", "b"]]
    assert decoded(data.item_features["stock"]) == ["false", "true"]


def decoded(column: CategoricalColumn) -> list[str | None]:
    return [column.values[c - 1] if c else None for c in column.codes]


def test_user_profiles_add_cold_users_and_features(write) -> None:
    profiles = write("users.tsv", "user_id\tsegment\tage\nu3\tnew\t31\nu1\tloyal\t45\n")
    data = load_event_log(write("e.csv", EVENTS), users=profiles)
    assert data.users.to_list() == ["u1", "u2", "u3"]
    assert decoded(data.user_features["segment"]) == ["loyal", None, "new"]
    np.testing.assert_array_equal(data.user_features["age"].values, [45, np.nan, 31])


def test_unknown_event_types_get_a_weight_when_allowed(write) -> None:
    path = write(
        "e.csv", EVENTS.replace("purchase", "refund").replace("u2,i3,1700000200,view", "u2,i3,1700000300,share")
    )
    with pytest.warns(UserWarning, match=r"2 event\(s\) of unlisted type\(s\) \['refund', 'share'\] weighted 0.5"):
        data = load_event_log(path, unknown_event_weight=0.5)
    assert data.event_types == ("view", "cart", "purchase", "refund", "share")
    assert data.interactions.weights.tolist() == [1.0, 3.0, 0.5, 0.5]
    unweighted = load_event_log(path, event_weights=None)
    assert unweighted.event_types == ("cart", "refund", "share", "view")
    assert unweighted.interactions.events.tolist() == [3, 0, 1, 2]
    assert unweighted.interactions.weights.tolist() == [1.0] * 4


def test_weight_and_rating_columns(write) -> None:
    path = write("e.tsv", "user_id\titem_id\tevent_type\tw\tstars\nu1\ti1\tview\t2.5\t4\nu2\ti1\tcart\t0\t5\n")
    data = load_event_log(path, columns=ColumnMapping(timestamp=None, weight="w", rating="stars"), rating_scale=(1, 5))
    assert data.interactions.weights.tolist() == [2.5, 0.0]
    assert data.interactions.ratings.tolist() == [4.0, 5.0]
    assert data.interactions.events.tolist() == [0, 1]
    assert data.interactions.timestamps is None


def test_dataframes_are_accepted(write) -> None:
    frame = pl.read_csv(write("e.csv", EVENTS), infer_schema=False)
    from_csv = load_event_log(write("e2.csv", EVENTS))
    for source in (frame, frame.to_pandas()):
        data = load_event_log(source)
        assert data.name == "events"
        assert_same_dataset(data, from_csv)


def test_dataframe_errors_name_the_row() -> None:
    frame = pd.DataFrame(
        {"user_id": ["u1", "u2"], "item_id": ["i1", "i2"], "ts": [1, 2], "event_type": ["view", "zap"]}
    )
    with pytest.raises(DataError, match=r"<DataFrame>, column 'event_type': row 2: unknown event type 'zap'"):
        load_event_log(frame)


def test_invalid_options_are_config_errors(write) -> None:
    path = write("e.csv", EVENTS)
    with pytest.raises(ConfigError, match=r"item_features\['brand'\]: unknown feature kind 'text'"):
        load_event_log(path, items=write("c.csv", CATALOG), item_features={"brand": "text"})
    with pytest.raises(ConfigError, match="expected finite weights >= 0, got -1"):
        load_event_log(path, event_weights={"view": -1})


def assert_same_dataset(a: Dataset, b: Dataset) -> None:
    assert a.users.to_list() == b.users.to_list()
    assert a.items.to_list() == b.items.to_list()
    assert a.event_types == b.event_types
    for name in ("users", "items", "weights", "timestamps", "events"):
        np.testing.assert_array_equal(getattr(a.interactions, name), getattr(b.interactions, name), err_msg=name)


ids = st.one_of(st.integers(0, 40).map(str), st.sampled_from(["a", "b7", "x_y", "007"]))
event_rows = st.lists(
    st.tuples(ids, ids, st.integers(1_500_000_000, 1_750_000_000), st.sampled_from(["view", "cart", "purchase"])),
    min_size=1,
    max_size=30,
)


@given(rows=event_rows)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_event_log_round_trips_through_csv_and_parquet(rows: list[tuple[str, str, int, str]]) -> None:
    """CSV, Parquet and the in-memory frame load to the same Dataset, equal to an independent expectation."""
    frame = pl.DataFrame(rows, schema=["user_id", "item_id", "ts", "event_type"], orient="row")
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate rows are dropped with a warning
        frame.write_csv(Path(tmp) / "e.csv")
        frame.write_parquet(Path(tmp) / "e.parquet")
        loaded = [load_event_log(Path(tmp) / "e.csv"), load_event_log(Path(tmp) / "e.parquet"), load_event_log(frame)]
    unique_rows = list(dict.fromkeys(rows))
    for data in loaded:
        assert_same_dataset(data, loaded[0])
    data = loaded[0]
    for column, vocab in ((0, data.users), (1, data.items)):
        values = {r[column] for r in unique_rows}
        numeric = all(v.isdigit() and str(int(v)) == v for v in values)
        assert vocab.to_list() == (sorted(values, key=int) if numeric else sorted(values))
    restored = [
        (data.users.ids[u], data.items.ids[i], int(t), data.event_types[e])
        for u, i, t, e in zip(
            *(getattr(data.interactions, n) for n in ("users", "items", "timestamps", "events")), strict=True
        )
    ]
    assert restored == unique_rows
