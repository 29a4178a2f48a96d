"""Feature tables for items or users: categorical, multi-valued and numeric columns by dense index.

Row `i` of every column describes entity `i` of the owning vocabulary. Categorical codes use 0 for
"missing/unknown" so that embedding tables can reserve row 0; real values start at 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shoprec.exceptions import DataError


@dataclass(frozen=True)
class CategoricalColumn:
    """One value per entity. `codes[i]` in 0..len(values); 0 means missing, k>0 means `values[k-1]`."""

    codes: np.ndarray  # (n,) int64
    values: tuple[str, ...]

    @property
    def cardinality(self) -> int:
        """Number of codes including the reserved missing code 0."""
        return len(self.values) + 1


@dataclass(frozen=True)
class MultiValuedColumn:
    """A set of values per entity (e.g. genres) in CSR layout: entity i has codes[offsets[i]:offsets[i+1]]."""

    offsets: np.ndarray  # (n+1,) int64
    codes: np.ndarray  # (nnz,) int64, 1-based as in CategoricalColumn
    values: tuple[str, ...]

    @property
    def cardinality(self) -> int:
        return len(self.values) + 1

    def of(self, index: int) -> np.ndarray:
        return self.codes[self.offsets[index] : self.offsets[index + 1]]

    def to_dense(self) -> np.ndarray:
        """(n, cardinality) 0/1 matrix; only for small vocabularies of values."""
        n = len(self.offsets) - 1
        out = np.zeros((n, self.cardinality), dtype=np.float32)
        rows = np.repeat(np.arange(n), np.diff(self.offsets))
        out[rows, self.codes] = 1.0
        return out


@dataclass(frozen=True)
class NumericColumn:
    """A float per entity; NaN where missing."""

    values: np.ndarray  # (n,) float32


Column = CategoricalColumn | MultiValuedColumn | NumericColumn


@dataclass(frozen=True)
class FeatureTable:
    """Named feature columns aligned with a vocabulary of `n` entities."""

    n: int
    columns: dict[str, Column] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, col in self.columns.items():
            rows = len(col.offsets) - 1 if isinstance(col, MultiValuedColumn) else len(_first_array(col))
            if rows != self.n:
                raise DataError(f"feature column {name!r} has {rows} rows, expected {self.n}")

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    def __getitem__(self, name: str) -> Column:
        return self.columns[name]

    def names(self, kind: type | None = None) -> list[str]:
        return [k for k, c in self.columns.items() if kind is None or isinstance(c, kind)]

    def take(self, indices: np.ndarray) -> FeatureTable:
        """Rows `indices` (e.g. after re-indexing a vocabulary)."""
        indices = np.asarray(indices, dtype=np.int64)
        cols: dict[str, Column] = {}
        for name, col in self.columns.items():
            if isinstance(col, CategoricalColumn):
                cols[name] = CategoricalColumn(col.codes[indices], col.values)
            elif isinstance(col, NumericColumn):
                cols[name] = NumericColumn(col.values[indices])
            else:
                lengths = np.diff(col.offsets)[indices]
                offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
                starts = col.offsets[indices]
                gather = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
                cols[name] = MultiValuedColumn(offsets, col.codes[gather], col.values)
        return FeatureTable(len(indices), cols)


def _first_array(col: CategoricalColumn | NumericColumn) -> np.ndarray:
    return col.codes if isinstance(col, CategoricalColumn) else col.values


def categorical(raw: np.ndarray) -> CategoricalColumn:
    """Encode raw values (None/'' = missing) as a CategoricalColumn with sorted value names."""
    raw = np.asarray(raw, dtype=object)
    missing = np.array([v is None or v == "" or (isinstance(v, float) and np.isnan(v)) for v in raw], dtype=bool)
    present = raw[~missing].astype(str)
    values, codes = np.unique(present, return_inverse=True)
    out = np.zeros(len(raw), dtype=np.int64)
    out[~missing] = codes.reshape(-1) + 1
    return CategoricalColumn(out, tuple(values.tolist()))


def multi_valued(lists: list[list[str]]) -> MultiValuedColumn:
    """Encode a list of value lists (one per entity) as a MultiValuedColumn."""
    lengths = np.fromiter((len(v) for v in lists), dtype=np.int64, count=len(lists))
    flat = np.asarray([str(v) for vs in lists for v in vs], dtype=str)
    values, codes = np.unique(flat, return_inverse=True) if len(flat) else (np.array([], dtype=str), flat)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return MultiValuedColumn(offsets, np.asarray(codes, dtype=np.int64).reshape(-1) + 1, tuple(values.tolist()))
