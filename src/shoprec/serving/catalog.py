"""The item catalog the service filters and explains with: attributes as numpy columns, growable.

Row i describes item index i of the model, so a filter becomes a boolean mask the index searches under.
Items created while serving get the next index; columns grow geometrically so a stream of single-item
upserts costs amortised O(1) each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shoprec.artifact_schema import STR_LIST, check_fields, json_field
from shoprec.artifacts import STATE, read_artifact, write_artifact
from shoprec.data.dataset import Dataset
from shoprec.data.features import CategoricalColumn, NumericColumn
from shoprec.exceptions import ConfigError, DataError
from shoprec.ids import id_problem

KIND = "catalog"
_STATE_FIELDS = tuple(json_field(name, STR_LIST) for name in ("ids", "category_names", "brand_names", "title"))
ATTRIBUTES = ("category", "brand", "price", "in_stock", "title")
#: dtype and value-for-unknown of each numpy column.
_COLUMNS: dict[str, tuple[type, object]] = {
    "category": (np.int32, -1),
    "brand": (np.int32, -1),
    "price": (np.float32, np.nan),
    "in_stock": (np.bool_, True),
}
_TRUE, _FALSE = frozenset({"1", "true", "yes", "y"}), frozenset({"0", "false", "no", "n"})


@dataclass
class ItemFilter:
    """What a request may receive: categories, stock, a price range, and item indices never to return.

    `in_stock`: True keeps in-stock items only, False out-of-stock items only, None either. Items of unknown
    price never pass a price bound. An empty filter (all None) filters nothing.
    """

    categories: list[str] | None = None
    in_stock: bool | None = None
    price_min: float | None = None
    price_max: float | None = None
    exclude: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("price_min", "price_max"):
            value = getattr(self, name)
            if value is not None and (not _is_number(value) or not math.isfinite(value)):
                raise ConfigError(f"{name} must be a finite number, got {value!r}")
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ConfigError(f"price_min ({self.price_min}) must not exceed price_max ({self.price_max})")
        if self.categories is not None and (
            isinstance(self.categories, str) or not all(isinstance(c, str) for c in self.categories)
        ):
            raise ConfigError(f"categories must be a list of strings, got {self.categories!r}")
        if self.in_stock is not None and not isinstance(self.in_stock, bool | np.bool_):
            raise ConfigError(f"in_stock must be true, false or null, got {self.in_stock!r}")

    def is_empty(self) -> bool:
        return all(
            getattr(self, name) is None for name in ("categories", "in_stock", "price_min", "price_max", "exclude")
        )


class Catalog:
    """Item attributes by item index: ids, category / brand codes (-1 unknown) with their names, price
    (NaN unknown), in_stock (True unless told otherwise) and a display title ("" when none)."""

    def __init__(
        self,
        ids: list[str],
        *,
        category: np.ndarray | None = None,
        category_names: list[str] | None = None,
        brand: np.ndarray | None = None,
        brand_names: list[str] | None = None,
        price: np.ndarray | None = None,
        in_stock: np.ndarray | None = None,
        title: list[str] | None = None,
    ) -> None:
        n = len(ids)
        self.ids = [str(i) for i in ids]
        self._position = {item: i for i, item in enumerate(self.ids)}
        if len(self._position) != n:
            raise DataError("catalog item ids must be unique")
        self.category_names = list(category_names or [])
        self.brand_names = list(brand_names or [])
        self.title = list(title) if title is not None else [""] * n
        given = {"category": category, "brand": brand, "price": price, "in_stock": in_stock}
        self._columns = {name: _column(given[name], n, name) for name in _COLUMNS}
        if len(self.title) != n:
            raise DataError(f"catalog has {n} items but {len(self.title)} titles")
        for name in ("category", "brand"):
            codes, names = self._columns[name], getattr(self, f"{name}_names")
            if n and (codes.min() < -1 or codes.max() >= len(names)):
                raise DataError(f"catalog {name} codes must lie in -1..{len(names) - 1}", column=name)

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> Catalog:
        """Attributes from the item feature columns 'category', 'brand' (categorical), 'price' (numeric) and
        'in_stock' (numeric 0/1 or categorical true/false), each optional; titles from metadata["item_titles"]."""
        features = dataset.item_features.columns if dataset.item_features is not None else {}
        columns: dict[str, Any] = {}
        for name in ("category", "brand"):
            col = features.get(name)
            if col is not None:
                if not isinstance(col, CategoricalColumn):
                    raise DataError(f"{dataset.name}: expected a categorical column", column=name)
                columns[name], columns[f"{name}_names"] = col.codes - 1, list(col.values)
        price = features.get("price")
        if price is not None:
            if not isinstance(price, NumericColumn):
                raise DataError(f"{dataset.name}: expected a numeric column of prices", column="price")
            columns["price"] = price.values
        if "in_stock" in features:
            columns["in_stock"] = _stock_flags(features["in_stock"], dataset.name)
        titles = dataset.metadata.get("item_titles")
        return cls(dataset.items.to_list(), title=list(titles) if titles is not None else None, **columns)

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def category(self) -> np.ndarray:
        return self._columns["category"][: self.n]

    @property
    def brand(self) -> np.ndarray:
        return self._columns["brand"][: self.n]

    @property
    def price(self) -> np.ndarray:
        return self._columns["price"][: self.n]

    @property
    def in_stock(self) -> np.ndarray:
        return self._columns["in_stock"][: self.n]

    def index_of(self, ids: list[str]) -> np.ndarray:
        """(len(ids),) int64 item indices, -1 for unknown ids."""
        return np.fromiter((self._position.get(str(i), -1) for i in ids), dtype=np.int64, count=len(ids))

    def category_codes(self, names: list[str]) -> np.ndarray:
        """(len(names),) int32 category codes, -1 for names the catalog does not know."""
        return _codes(self.category_names, names)

    def upsert(self, item_id: str, attributes: dict[str, Any]) -> tuple[int, bool]:
        """Create or update one item; returns (index, created). Attributes not given keep their value (defaults
        for a new item); validation happens before anything changes, so a rejected update changes nothing."""
        values = check_attributes(item_id, attributes)
        index = self._position.get(item_id)
        created = index is None
        if index is None:
            index = self.n
            self._grow(index + 1)
            self.ids.append(item_id)
            self.title.append("")
            self._position[item_id] = index
        for name in ("category", "brand"):
            if name in values:
                names = getattr(self, f"{name}_names")
                value = values[name]
                if value is not None and value not in names:
                    names.append(value)
                self._columns[name][index] = -1 if value is None else names.index(value)
        if "price" in values:
            self._columns["price"][index] = np.nan if values["price"] is None else values["price"]
        if "in_stock" in values:
            self._columns["in_stock"][index] = values["in_stock"]
        if "title" in values:
            self.title[index] = values["title"] or ""
        return index, created

    def mask(self, flt: ItemFilter | None) -> np.ndarray | None:
        """(n,) bool: the items `flt` allows; None when the filter is empty (everything allowed)."""
        if flt is None or flt.is_empty():
            return None
        keep = np.ones(self.n, dtype=bool)
        if flt.categories is not None:
            codes = self.category_codes(list(flt.categories))
            keep &= np.isin(self.category, codes[codes >= 0])
        if flt.in_stock is not None:
            keep &= self.in_stock == bool(flt.in_stock)
        if flt.price_min is not None:
            keep &= self.price >= flt.price_min  # NaN compares False: unknown prices fail
        if flt.price_max is not None:
            keep &= self.price <= flt.price_max
        if flt.exclude is not None:
            exclude = np.asarray(flt.exclude, dtype=np.int64).reshape(-1)
            if exclude.size and (exclude.min() < 0 or exclude.max() >= self.n):
                raise ConfigError(f"exclude must hold item indices in 0..{self.n - 1}")
            keep[exclude] = False
        return keep

    def save(self, path: str | Path) -> Path:
        """Write an artifact (safetensors columns + JSON ids, names and titles; checksummed, no pickle)."""
        tensors = {name: getattr(self, name) for name in ("category", "brand", "price")}
        tensors["in_stock"] = self.in_stock.astype(np.uint8)
        state = {
            "ids": self.ids,
            "category_names": self.category_names,
            "brand_names": self.brand_names,
            "title": self.title,
        }
        return write_artifact(path, kind=KIND, tensors=tensors, state=state)

    @classmethod
    def load(cls, path: str | Path) -> Catalog:
        """Read a catalog artifact, verifying its checksums."""
        _, tensors, state = read_artifact(path, kind=KIND, allow_nonfinite=("price",))  # NaN: unknown price
        check_fields(Path(path) / STATE, state, _STATE_FIELDS)
        return cls(
            state["ids"],
            category=tensors["category"],
            category_names=state["category_names"],
            brand=tensors["brand"],
            brand_names=state["brand_names"],
            price=tensors["price"],
            in_stock=tensors["in_stock"].astype(bool),
            title=state["title"],
        )

    def _grow(self, rows: int) -> None:
        """Make every column hold at least `rows` rows, doubling capacity when it runs out."""
        for name, col in self._columns.items():
            if rows > len(col):
                grown = np.full(max(rows, 2 * len(col)), _COLUMNS[name][1], dtype=col.dtype)
                grown[: len(col)] = col
                self._columns[name] = grown


def _column(values: np.ndarray | None, n: int, name: str) -> np.ndarray:
    """A fresh (n,) copy of column `name` in its dtype; all unknown when values is None."""
    dtype, unknown = _COLUMNS[name]
    if values is None:
        return np.full(n, unknown, dtype=dtype)
    out = np.array(values, dtype=dtype).reshape(-1)
    if len(out) != n:
        raise DataError(f"catalog column has {len(out)} rows, expected {n}", column=name)
    return out


def _codes(names: list[str], query: list[str]) -> np.ndarray:
    lookup = {name: code for code, name in enumerate(names)}
    return np.fromiter((lookup.get(q, -1) for q in query), dtype=np.int32, count=len(query))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def check_attributes(item_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """The values `Catalog.upsert` would store, or ConfigError naming the field (and the allowed fields):
    lets a writer reject an update before anything is stored."""
    problem = id_problem(item_id)
    if problem is not None:
        raise ConfigError(f"item_id {problem}: {item_id!r}")
    if not isinstance(attributes, dict):
        raise ConfigError(f"attributes must be an object, got {type(attributes).__name__}")
    unknown = sorted(set(attributes) - set(ATTRIBUTES))
    if unknown:
        raise ConfigError(f"unknown item attribute {unknown[0]!r}; allowed: {', '.join(ATTRIBUTES)}")
    for name in ("category", "brand", "title"):
        value = attributes.get(name)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{name} must be a string or null, got {type(value).__name__}")
        problem = id_problem(value) if name != "title" and value else None
        if problem is not None:
            raise ConfigError(f"{name} {problem}: {value!r}")
    price = attributes.get("price")
    if price is not None and (not _is_number(price) or not math.isfinite(price) or price < 0):
        raise ConfigError(f"price must be a finite number >= 0 or null, got {price!r}")
    if "in_stock" in attributes and not isinstance(attributes["in_stock"], bool):
        raise ConfigError(f"in_stock must be true or false, got {attributes['in_stock']!r}")
    return {k: (None if k in ("category", "brand") and v == "" else v) for k, v in attributes.items()}


def _stock_flags(col: object, dataset: str) -> np.ndarray:
    """in_stock from a numeric 0/1 column (NaN: in stock) or a categorical true/false column (missing: in stock)."""
    if isinstance(col, NumericColumn):
        return ~(col.values == 0)
    if isinstance(col, CategoricalColumn):
        names = [v.strip().lower() for v in col.values]
        bad = [v for v in names if v not in _TRUE | _FALSE]
        if bad:
            raise DataError(f"{dataset}: expected true/false or 1/0, got {bad[0]!r}", column="in_stock")
        return np.array([True] + [v in _TRUE for v in names])[col.codes]
    raise DataError(f"{dataset}: expected a numeric or categorical column", column="in_stock")
