"""Feature tables from catalog or profile tables, aligned with a vocabulary.

Column kinds are inferred (list columns are multi-valued, columns whose every value is a number are
numeric, the rest categorical) unless given explicitly; a string column declared "multi" is split on
a separator such as '|'. Entities without a catalog row get missing values.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Literal, cast

import numpy as np
import polars as pl

from shoprec.data.features import Column, FeatureTable, NumericColumn, categorical, multi_valued
from shoprec.data.sources._table import Table
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import ConfigError

FeatureKind = Literal["categorical", "numeric", "multi"]
#: Which columns become features: None (all but the id), a list of names, or {name: kind or "auto"}.
FeatureSpec = Mapping[str, str] | Sequence[str] | None
_KINDS = ("auto", "categorical", "numeric", "multi")
_BOOLEAN_WORDS = ["true", "false", "yes", "no", "y", "n", "t", "f", "1", "0"]


def infer_kind(series: pl.Series) -> FeatureKind:
    """'multi' for list columns, 'numeric' when every present value is a number, else 'categorical'."""
    if isinstance(series.dtype, pl.List | pl.Array):
        return "multi"
    if series.dtype.is_numeric():
        return "numeric"
    if series.dtype == pl.String:
        present = series.str.strip_chars().drop_nulls()
        if len(present) and present.cast(pl.Float64, strict=False).is_not_null().all():
            return "numeric"
    return "categorical"


def stray_values(series: pl.Series) -> tuple[pl.Series, str] | None:
    """(mask, what the column holds) when a string column is almost all numbers or all yes/no words
    but for a few values (one, or at most 1%; 5 or fewer distinct; in 8 values or more): one bad value
    would otherwise turn the whole column categorical or add a third 'boolean' value. None: nothing odd."""
    if series.dtype != pl.String:
        return None
    text = series.str.strip_chars().str.to_lowercase().replace("", None)
    present = text.is_not_null()
    n = int(present.sum())
    for odd, what in (
        (text.cast(pl.Float64, strict=False).is_null(), "a number"),
        (~text.is_in(_BOOLEAN_WORDS), "a yes/no value (true/false, yes/no, y/n, t/f, 1/0)"),
    ):
        odd = odd & present
        count = int(odd.sum())
        if 0 < count <= max(n // 100, 1) and n >= 8 and text.filter(odd).n_unique() <= 5:
            if what.startswith("a yes") and text.filter(~odd & present).n_unique() < 2:
                continue
            return odd, what
    return None


def resolve_kinds(table: Table, spec: FeatureSpec, exclude: Collection[str], parameter: str) -> dict[str, FeatureKind]:
    """The kind of every feature column named by `spec` (`parameter` names the option in errors)."""
    if spec is None:
        given: Mapping[str, str] = {c: "auto" for c in table.columns if c not in exclude}
    elif isinstance(spec, Mapping):
        given = spec
    else:
        given = dict.fromkeys(spec, "auto")
    table.require(*given)
    kinds: dict[str, FeatureKind] = {}
    for name, kind in given.items():
        if kind not in _KINDS:
            raise ConfigError(f"{parameter}[{name!r}]: unknown feature kind {kind!r}; expected one of {_KINDS}")
        if kind == "auto" and (stray := stray_values(table.frame[name])) is not None:
            mask, what = stray
            table.check(
                mask, name, f"{what} like the rest of the column (or give its kind in {parameter}={{{name!r}: ...}})"
            )
        kinds[name] = infer_kind(table.frame[name]) if kind == "auto" else cast(FeatureKind, kind)
    return kinds


def feature_table(
    table: Table, id_column: str, vocab: Vocabulary, kinds: Mapping[str, FeatureKind], *, separator: str = "|"
) -> FeatureTable:
    """Feature columns of `table` rearranged by `vocab` index; rows whose id is not in `vocab` are ignored."""
    ids = table.ids(id_column)
    repeated = pl.Series(ids).is_duplicated() & ~pl.Series(ids).is_first_distinct()
    if repeated.any():
        row = int(repeated.arg_true()[0])
        raise table.error(row, id_column, f"id {str(ids[row])!r} appears again; expected one row per id")
    index = vocab.index(ids)
    rows = np.flatnonzero(index >= 0)
    target = index[rows]
    columns: dict[str, Column] = {}
    for name, kind in kinds.items():
        if kind == "numeric":
            values = np.full(len(vocab), np.nan, dtype=np.float32)
            values[target] = table.floats(name, missing_ok=True)[rows]
            columns[name] = NumericColumn(values)
            continue
        raw = np.full(len(vocab), None, dtype=object)
        raw[target] = _value_lists(table, name, separator)[rows] if kind == "multi" else _strings(table, name)[rows]
        columns[name] = multi_valued([v or [] for v in raw]) if kind == "multi" else categorical(raw)
    return FeatureTable(len(vocab), columns)


def _strings(table: Table, name: str) -> np.ndarray:
    return table.strings(name, missing_ok=True).to_numpy().astype(object)


def _value_lists(table: Table, name: str, separator: str) -> np.ndarray:
    """(n,) object array of value lists: list columns as they are, strings split on `separator`."""
    series = table.frame[name]
    if isinstance(series.dtype, pl.List | pl.Array):
        lists = series.cast(pl.List(pl.String))
    else:
        lists = table.strings(name, missing_ok=True).str.split(separator)
    lists = lists.list.eval(pl.element().str.strip_chars()).list.eval(pl.element().filter(pl.element() != ""))
    out = np.empty(len(lists), dtype=object)
    out[:] = lists.to_list()
    return out
