"""Cold start: what to show users without any events.

Popularity within the user's profile segment (e.g. the synthetic shop's `segment`: budget / mainstream /
premium) and within the category they are browsing, from training counts plus live events.

Lists are served from each segment's (and context's) `RANKED` best items, ranked at most every
`refresh_seconds` (scoring and ranking a 1M-item catalog costs ~10 ms, which per request made a new visitor
~15x the cost of a known user): popularity in a served list is at most that old, and new items reset it.

A small segment's own counts are noisy (five events rank five arbitrary items first), so each segment's
item shares are shrunk towards global popularity, as a Dirichlet prior of `prior` pseudo-events would:

    p_seg(i) = (count_seg(i) + prior · p_global(i)) / (N_seg + prior)

A segment with far more than `prior` events keeps its own ranking; one with few events is mostly global.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

import numpy as np

from shoprec.artifact_schema import NUMBER, STR, STR_LIST, check_fields, json_field
from shoprec.artifacts import STATE, read_artifact, write_artifact
from shoprec.data.dataset import Dataset
from shoprec.data.features import CategoricalColumn
from shoprec.exceptions import ConfigError, DataError
from shoprec.serving.live import grow

KIND = "coldstart"
_STATE_FIELDS = (
    json_field("segments", STR_LIST),
    json_field("category_names", STR_LIST),
    json_field("segment_field", STR, nullable=True),
    json_field("prior", NUMBER),
)
#: How many of a segment's best items a cached ranking keeps (filters and exclusions pick from these first).
RANKED = 2048


class HasCategories(Protocol):
    """What ColdStart needs of a Catalog: (n,) int32 category codes (-1 unknown) and their names."""

    category: np.ndarray
    category_names: list[str]


class ColdStart:
    """Item popularity per segment and in total; `scores` ranks items for a user known only by a profile."""

    def __init__(
        self,
        counts: np.ndarray,
        segments: list[str],
        item_category: np.ndarray,
        category_names: list[str],
        *,
        segment_field: str | None = "segment",
        prior: float = 100.0,
        refresh_seconds: float = 1.0,
    ) -> None:
        """counts: (n_items, 1 + n_segments) event counts, column 0 over all users, column 1 + s in segment s;
        refresh_seconds: how old a cached ranking may get (0: rank afresh on every call)."""
        if prior < 0:
            raise ConfigError(f"prior must be >= 0, got {prior}")
        counts = np.asarray(counts, dtype=np.float64)
        if counts.ndim != 2 or counts.shape[1] != 1 + len(segments) or len(item_category) != len(counts):
            raise DataError(
                f"cold-start counts have shape {counts.shape}, expected ({len(item_category)}, {1 + len(segments)})"
            )
        self._counts, self._n = counts, len(counts)
        self._category = np.asarray(item_category, dtype=np.int64)
        self.segments = list(segments)
        self.category_names = list(category_names)
        self.segment_field, self.prior = segment_field, prior
        self.refresh_seconds = refresh_seconds
        self._ranked: dict[tuple[int | None, str | None], tuple[float, np.ndarray, np.ndarray]] = {}

    @classmethod
    def from_dataset(
        cls,
        train: Dataset,
        catalog: HasCategories | None = None,
        segment_field: str | None = "segment",
        *,
        prior: float = 100.0,
    ) -> ColdStart:
        """Counts from `train`; categories from `catalog`, else from the item feature 'category' (if any).

        Users' segments come from the categorical user feature `segment_field` (no segments when absent).
        """
        inter = train.interactions
        segments, user_segment = _user_segments(train, segment_field)
        keep = user_segment[inter.users] >= 0
        seg_rows = np.concatenate([np.zeros(len(inter), np.int64), 1 + user_segment[inter.users[keep]]])
        items = np.concatenate([inter.items, inter.items[keep]])
        width = 1 + len(segments)
        counts = np.bincount(items * width + seg_rows, minlength=train.n_items * width).reshape(train.n_items, width)
        if catalog is not None:
            category, names = np.asarray(catalog.category), list(catalog.category_names)
        else:
            category, names = _item_categories(train)
        return cls(counts, segments, category, names, segment_field=segment_field, prior=prior)

    @property
    def n_items(self) -> int:
        return self._n

    # ----------------------------------------------------------------- scores
    def scores(self, profile: dict | None = None, context_category: str | None = None) -> np.ndarray:
        """(n_items,) float32 scores, higher first: the shrunk share of the user's segment (global popularity
        when the segment is unknown); with a context category, its items get +1 so they all rank first."""
        counts = self._counts[: self._n]
        total = counts[:, 0]
        p_global = total / max(total.sum(), 1.0)
        column = self._segment_column(profile)
        if column is None:
            scores = p_global
        else:
            own = counts[:, column]
            scores = (own + self.prior * p_global) / max(own.sum() + self.prior, 1e-12)
        if context_category is not None:
            scores = scores + (self._category[: self._n] == self._category_code(context_category))
        return scores.astype(np.float32)

    def ranked(self, profile: dict | None = None, context_category: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The (up to) RANKED highest-`scores` items and their scores, best first (ties: lower index), cached per
        segment and context for `refresh_seconds`."""
        key = (self._segment_column(profile), context_category)
        now = time.monotonic()
        cached = self._ranked.get(key)
        if cached is not None and now - cached[0] < self.refresh_seconds:
            return cached[1], cached[2]
        scores = self.scores(profile, context_category)
        k = min(RANKED, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.lexsort((top, -scores[top]))]
        self._ranked[key] = (now, top, scores[top])
        return top, scores[top]

    def _segment_column(self, profile: dict | None) -> int | None:
        if not profile or self.segment_field is None or self.segment_field not in profile:
            return None
        value = str(profile[self.segment_field])
        return 1 + self.segments.index(value) if value in self.segments else None

    def _category_code(self, name: str) -> int:
        if name not in self.category_names:
            raise ConfigError(f"context_category: unknown category {name!r}")
        return self.category_names.index(name)

    # ----------------------------------------------------------------- updates
    def observe(self, items: np.ndarray, segment: str | None = None) -> None:
        """Count live events of `items` (repeats count), globally and in `segment` (new segment names are added)."""
        items = np.atleast_1d(np.asarray(items, dtype=np.int64))
        if len(items) and (items.min() < 0 or items.max() >= self._n):
            raise DataError(f"item index out of range 0..{self._n - 1}: {items.tolist()[:10]}")
        # only the rows of the events' items: a whole-catalog count column per event cost ~4 ms at 1M items
        rows, counts = np.unique(items, return_counts=True)
        self._counts[rows, 0] += counts
        if segment is None:
            return
        if segment not in self.segments:
            self.segments.append(segment)
            self._counts = np.pad(self._counts, ((0, 0), (0, 1)))
        self._counts[rows, 1 + self.segments.index(segment)] += counts

    def grow(self, n_items: int, categories: np.ndarray | None = None) -> None:
        """Make room for items n_items_before..n_items-1 (no counts yet), with their category codes (-1 unknown)."""
        if n_items < self._n:
            raise ConfigError(f"n_items must be >= the current {self._n}, got {n_items}")
        new = n_items - self._n
        codes = np.full(new, -1, np.int64) if categories is None else np.asarray(categories, np.int64)
        if len(codes) != new:
            raise DataError(f"grow got {len(codes)} categories for {new} new items")
        self._counts = grow(self._counts, n_items)
        self._category = grow(self._category, n_items)
        self._category[self._n : n_items] = codes
        self._n = n_items
        self._ranked.clear()  # new items may belong in any ranking at once

    # ------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write counts and names as a checksummed artifact (safetensors + JSON, never pickle)."""
        state = {
            "segments": self.segments,
            "category_names": self.category_names,
            "segment_field": self.segment_field,
            "prior": self.prior,
        }
        tensors = {"counts": self._counts[: self._n], "item_category": self._category[: self._n]}
        return write_artifact(path, kind=KIND, tensors=tensors, state=state)

    @classmethod
    def load(cls, path: str | Path) -> ColdStart:
        """Load and verify (checksums) a saved ColdStart; a corrupt artifact raises ArtifactError."""
        _, tensors, state = read_artifact(path, kind=KIND)
        check_fields(Path(path) / STATE, state, _STATE_FIELDS)
        return cls(
            tensors["counts"],
            state["segments"],
            tensors["item_category"],
            state["category_names"],
            segment_field=state["segment_field"],
            prior=float(state["prior"]),
        )


def _user_segments(train: Dataset, field: str | None) -> tuple[list[str], np.ndarray]:
    """(segment names, (n_users,) segment code per user, -1 unknown) from a categorical user feature."""
    table = train.user_features
    if field is None or table is None or field not in table:
        return [], np.full(train.n_users, -1, np.int64)
    column = table[field]
    if not isinstance(column, CategoricalColumn):
        raise DataError(f"{train.name}: user feature {field!r} must be categorical to define segments", column=field)
    return list(column.values), column.codes.astype(np.int64) - 1


def _item_categories(train: Dataset) -> tuple[np.ndarray, list[str]]:
    """((n_items,) category codes, -1 unknown, names) from the categorical item feature 'category', if any."""
    table = train.item_features
    if table is None or "category" not in table or not isinstance(table["category"], CategoricalColumn):
        return np.full(train.n_items, -1, np.int64), []
    column = table["category"]
    return column.codes.astype(np.int64) - 1, list(column.values)
