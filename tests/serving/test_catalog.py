"""Catalog: attributes from a data set (with and without features), validated upserts that grow it, filter
masks checked by hand, and a checksummed artifact round trip."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from shoprec.data.features import CategoricalColumn, FeatureTable, NumericColumn
from shoprec.data.synthetic import generate_shop
from shoprec.exceptions import ArtifactError, ConfigError, DataError
from shoprec.serving.catalog import Catalog, ItemFilter


@pytest.fixture
def small() -> Catalog:
    """Five items: categories a, b, a, -, b; prices 10, 20, NaN, 5, 30; item 1 out of stock."""
    return Catalog(
        ["p0", "p1", "p2", "p3", "p4"],
        category=np.array([0, 1, 0, -1, 1]),
        category_names=["a", "b"],
        price=np.array([10, 20, np.nan, 5, 30]),
        in_stock=np.array([True, False, True, True, True]),
        title=["zero", "one", "two", "three", "four"],
    )


def test_from_synthetic_shop_keeps_every_attribute():
    shop = generate_shop(n_users=30, n_items=40, n_events=300, seed=1)
    catalog = Catalog.from_dataset(shop)
    features = shop.item_features
    assert catalog.n == 40 and catalog.ids == shop.items.to_list()
    np.testing.assert_array_equal(catalog.category, features["category"].codes - 1)
    np.testing.assert_array_equal(catalog.brand, features["brand"].codes - 1)
    assert catalog.category_names == list(features["category"].values)
    assert catalog.brand_names == list(features["brand"].values)
    np.testing.assert_array_equal(catalog.price, features["price"].values)
    assert catalog.in_stock.all() and catalog.title == [""] * 40
    assert catalog.category.dtype == np.int32 and catalog.price.dtype == np.float32


def test_from_dataset_without_features(block_dataset):
    titles = [f"title {i}" for i in range(block_dataset.n_items)]
    catalog = Catalog.from_dataset(replace(block_dataset, metadata={"item_titles": titles}))
    assert catalog.n == 30 and catalog.title == titles
    assert (catalog.category == -1).all() and (catalog.brand == -1).all() and catalog.category_names == []
    assert np.isnan(catalog.price).all() and catalog.in_stock.all()
    assert catalog.mask(ItemFilter(price_max=100.0)).sum() == 0  # unknown prices never pass a bound


def test_in_stock_feature_numeric_and_categorical(block_dataset):
    n = block_dataset.n_items
    numeric = np.where(np.arange(n) % 3 == 0, 0.0, 1.0).astype(np.float32)
    numeric[1] = np.nan
    ds = replace(block_dataset, item_features=FeatureTable(n, {"in_stock": NumericColumn(numeric)}))
    np.testing.assert_array_equal(Catalog.from_dataset(ds).in_stock, np.arange(n) % 3 != 0)
    codes = np.arange(n) % 3  # 0 missing -> in stock, 1 "False", 2 "yes"
    ds = replace(block_dataset, item_features=FeatureTable(n, {"in_stock": CategoricalColumn(codes, ("False", "yes"))}))
    np.testing.assert_array_equal(Catalog.from_dataset(ds).in_stock, codes != 1)
    bad = FeatureTable(n, {"in_stock": CategoricalColumn(codes, ("maybe", "yes"))})
    with pytest.raises(DataError, match=r"column 'in_stock'.*'maybe'"):
        Catalog.from_dataset(replace(block_dataset, item_features=bad))


def test_wrong_feature_kinds_name_the_column(block_dataset):
    n = block_dataset.n_items
    numeric = FeatureTable(n, {"category": NumericColumn(np.zeros(n, np.float32))})
    with pytest.raises(DataError, match="column 'category'"):
        Catalog.from_dataset(replace(block_dataset, item_features=numeric))
    categorical = FeatureTable(n, {"price": CategoricalColumn(np.zeros(n, np.int64), ())})
    with pytest.raises(DataError, match="column 'price'"):
        Catalog.from_dataset(replace(block_dataset, item_features=categorical))


def test_upsert_creates_then_updates(small):
    index, created = small.upsert("new", {"category": "c", "brand": "acme", "price": 7, "title": "New"})
    assert (index, created) == (5, True) and small.n == 6
    assert small.category_names == ["a", "b", "c"] and small.category[5] == 2
    assert small.brand_names == ["acme"] and small.brand[5] == 0
    assert small.price[5] == 7.0 and small.in_stock[5] and small.title[5] == "New"
    np.testing.assert_array_equal(small.index_of(["new", "p1", "nope"]), [5, 1, -1])
    assert small.upsert("p1", {"in_stock": True, "price": 0}) == (1, False)
    assert small.in_stock[1] and small.price[1] == 0.0 and small.category[1] == 1  # untouched fields kept
    small.upsert("p1", {"category": None, "price": None, "title": None})
    assert small.category[1] == -1 and np.isnan(small.price[1]) and small.title[1] == ""


def test_many_upserts_grow_every_column(small):
    for i in range(100):
        small.upsert(f"x{i}", {"price": float(i), "in_stock": i % 2 == 0})
    assert small.n == 105 and len(small.price) == len(small.in_stock) == len(small.title) == 105
    np.testing.assert_array_equal(small.price[5:], np.arange(100, dtype=np.float32))
    np.testing.assert_array_equal(small.in_stock[5:], np.arange(100) % 2 == 0)
    assert (small.category[5:] == -1).all() and small.index_of(["x99"])[0] == 104


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"colour": "red"}, "unknown item attribute 'colour'; allowed: category, brand, price, in_stock, title"),
        ({"price": -1}, "price must be a finite number >= 0"),
        ({"price": float("nan")}, "price must be a finite number >= 0"),
        ({"price": float("inf")}, "price must be a finite number >= 0"),
        ({"price": "9.99"}, "price must be a finite number >= 0"),
        ({"price": True}, "price must be a finite number >= 0"),
        ({"in_stock": "yes"}, "in_stock must be true or false"),
        ({"in_stock": None}, "in_stock must be true or false"),
        ({"category": 3}, "category must be a string"),
        ({"title": ["x"]}, "title must be a string"),
    ],
)
def test_upsert_rejects_bad_attributes_without_changing_anything(small, attributes, message):
    with pytest.raises(ConfigError, match=message):
        small.upsert("p0", {"price": 99.0, **attributes})
    assert small.n == 5 and small.price[0] == 10.0
    with pytest.raises(ConfigError, match="item_id must be 1-256 characters"):
        small.upsert("", {})


def test_mask_by_hand(small):
    assert small.mask(ItemFilter()) is None and small.mask(None) is None
    cases = [
        (ItemFilter(categories=["a"]), [1, 0, 1, 0, 0]),
        (ItemFilter(categories=["b", "unknown"]), [0, 1, 0, 0, 1]),
        (ItemFilter(in_stock=True), [1, 0, 1, 1, 1]),
        (ItemFilter(in_stock=False), [0, 1, 0, 0, 0]),
        (ItemFilter(price_min=10), [1, 1, 0, 0, 1]),
        (ItemFilter(price_min=6, price_max=20), [1, 1, 0, 0, 0]),
        (ItemFilter(exclude=np.array([0, 4])), [0, 1, 1, 1, 0]),
        (ItemFilter(categories=["a", "b"], in_stock=True, price_max=25, exclude=np.array([0])), [0, 0, 0, 0, 0]),
        (ItemFilter(categories=["b"], price_max=30), [0, 1, 0, 0, 1]),
    ]
    for flt, expected in cases:
        np.testing.assert_array_equal(small.mask(flt), np.array(expected, dtype=bool), err_msg=str(flt))
    np.testing.assert_array_equal(small.category_codes(["b", "zzz", "a"]), [1, -1, 0])


def test_filter_validation(small):
    with pytest.raises(ConfigError, match=r"price_min \(5\) must not exceed price_max \(1\)"):
        ItemFilter(price_min=5, price_max=1)
    with pytest.raises(ConfigError, match="price_max must be a finite number"):
        ItemFilter(price_max=float("nan"))
    with pytest.raises(ConfigError, match="categories must be a list of strings"):
        ItemFilter(categories="a")
    with pytest.raises(ConfigError, match="in_stock must be true, false or null"):
        ItemFilter(in_stock="yes")
    with pytest.raises(ConfigError, match=r"exclude must hold item indices in 0..4"):
        small.mask(ItemFilter(exclude=np.array([5])))


def test_save_load_round_trip_and_tamper(small, tmp_path):
    small.upsert("late", {"brand": "acme", "in_stock": False})
    loaded = Catalog.load(small.save(tmp_path / "catalog"))
    assert loaded.ids == small.ids and loaded.title == small.title
    assert loaded.category_names == small.category_names and loaded.brand_names == small.brand_names
    for name in ("category", "brand", "price", "in_stock"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(small, name))
    assert loaded.upsert("late", {}) == (5, False)
    state = tmp_path / "catalog" / "state.json"
    state.write_text(state.read_text().replace("late", "lane"))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        Catalog.load(tmp_path / "catalog")


def test_constructor_checks_codes_and_ids():
    with pytest.raises(DataError, match="unique"):
        Catalog(["a", "a"])
    with pytest.raises(DataError, match=r"category codes must lie in -1..0"):
        Catalog(["a", "b"], category=np.array([0, 1]), category_names=["x"])
