"""Two-way map between external string ids and dense integer indices.

Inside shoprec every entity is a dense index (0..n-1); external ids exist only at the edges
(loading files, the CLI, the HTTP API). Lookups are vectorised with a sorted copy of the ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from shoprec.exceptions import DataError

UNKNOWN = -1


def _as_str_array(values: Iterable[object] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values if isinstance(values, np.ndarray) else list(values))
    return arr.astype(str)


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Immutable id space: `ids[i]` is the external id (a string) of dense index `i`.

    Ids are stored as NumPy unicode strings, which cannot end in NUL characters; real ids never do.
    """

    ids: np.ndarray  # (n,) unicode strings
    _sorted: np.ndarray = field(init=False, repr=False)
    _perm: np.ndarray = field(init=False, repr=False)
    _width: int = field(init=False, repr=False)  # characters of the longest id (the unicode dtype's width)

    def __post_init__(self) -> None:
        ids = _as_str_array(self.ids)
        if ids.ndim != 1:
            raise DataError("vocabulary ids must be one-dimensional")
        perm = np.argsort(ids, kind="stable")
        sorted_ids = ids[perm]
        if len(ids) > 1 and (sorted_ids[1:] == sorted_ids[:-1]).any():
            dup = str(sorted_ids[1:][sorted_ids[1:] == sorted_ids[:-1]][0])
            raise DataError(f"vocabulary ids must be unique, {dup!r} appears twice")
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "_sorted", sorted_ids)
        object.__setattr__(self, "_perm", perm.astype(np.int64))
        object.__setattr__(self, "_width", sorted_ids.dtype.itemsize // np.dtype("U1").itemsize)

    @classmethod
    def from_values(cls, values: Iterable[object] | np.ndarray) -> tuple[Vocabulary, np.ndarray]:
        """Build a vocabulary from raw ids and return it with the dense code of every value.

        Indices follow the natural sort order of the raw values (numeric ids sort numerically), so
        that files whose ids are already 0..n-1 keep them.
        """
        arr = np.asarray(values if isinstance(values, np.ndarray) else list(values))
        uniques, codes = np.unique(arr, return_inverse=True)
        return cls(uniques.astype(str)), codes.reshape(-1).astype(np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, external_id: object) -> bool:
        return self.index_of(external_id) != UNKNOWN

    def index(self, external_ids: Iterable[object] | np.ndarray, *, strict: bool = False) -> np.ndarray:
        """Dense indices for external ids; unknown ids map to `UNKNOWN` (-1), or raise when `strict`."""
        query = _as_str_array(external_ids).reshape(-1)
        if len(self._sorted) == 0:
            out = np.full(len(query), UNKNOWN, dtype=np.int64)
        else:
            pos = np.searchsorted(self._sorted, query).clip(0, len(self._sorted) - 1)
            found = self._sorted[pos] == query
            out = np.where(found, self._perm[pos], UNKNOWN).astype(np.int64)
        if strict and (out == UNKNOWN).any():
            missing = query[out == UNKNOWN][:5].tolist()
            raise DataError(f"unknown ids {missing!r}: expected ids present in the vocabulary")
        return out

    def index_of(self, external_id: object) -> int:
        """Dense index of one external id, or `UNKNOWN` (one binary search, no arrays: serving calls it per request)."""
        key = str(external_id)
        if len(key) > self._width:  # longer than every id: searching would widen (copy) the whole sorted array
            return UNKNOWN
        pos = int(np.searchsorted(self._sorted, key))
        if pos < len(self._sorted) and self._sorted[pos] == key:
            return int(self._perm[pos])
        return UNKNOWN

    def external(self, indices: np.ndarray | Iterable[int]) -> np.ndarray:
        """External ids (strings) for dense indices."""
        return self.ids[np.asarray(indices, dtype=np.int64)]

    def extend(self, external_ids: Iterable[object] | np.ndarray) -> Vocabulary:
        """A new vocabulary with unseen ids appended; existing indices keep their meaning."""
        query = _as_str_array(external_ids).reshape(-1)
        new = query[self.index(query) == UNKNOWN]
        if len(new) == 0:
            return self
        _, first = np.unique(new, return_index=True)
        return Vocabulary(np.concatenate([self.ids, new[np.sort(first)]]))

    def to_list(self) -> list[str]:
        return self.ids.tolist()
