"""The in-memory data set: interactions over dense indices, vocabularies and feature tables.

Everything downstream (splits, models, evaluation) works on these arrays; nothing here knows about
files. A `Dataset` is immutable in spirit: transformations return new objects sharing vocabularies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp

from shoprec.data.features import FeatureTable
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import DataError

#: Default confidence of each shop event type: a purchase says more than a view.
DEFAULT_EVENT_WEIGHTS: Mapping[str, float] = MappingProxyType({"view": 1.0, "cart": 3.0, "purchase": 5.0})


@dataclass(frozen=True)
class Interactions:
    """Parallel arrays, one entry per event.

    users, items: (n,) int64 dense indices.
    weights: (n,) float32 confidence of the event (1 for plain implicit feedback, event weight for shop logs).
    ratings: (n,) float32 explicit rating, or None for implicit data.
    timestamps: (n,) int64 unix seconds, or None when the source has no time.
    events: (n,) int16 codes into `Dataset.event_types`, or None when there is a single event type.
    """

    users: np.ndarray
    items: np.ndarray
    weights: np.ndarray
    ratings: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    events: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.users)
        for name in ("items", "weights", "ratings", "timestamps", "events"):
            arr = getattr(self, name)
            if arr is not None and len(arr) != n:
                raise DataError(f"interaction column {name!r} has {len(arr)} rows, expected {n}")

    @classmethod
    def build(
        cls,
        users: np.ndarray,
        items: np.ndarray,
        weights: np.ndarray | None = None,
        *,
        ratings: np.ndarray | None = None,
        timestamps: np.ndarray | None = None,
        events: np.ndarray | None = None,
    ) -> Interactions:
        """Coerce arrays to the canonical dtypes; weights default to 1."""
        users = np.asarray(users, dtype=np.int64)
        return cls(
            users=users,
            items=np.asarray(items, dtype=np.int64),
            weights=np.ones(len(users), np.float32) if weights is None else np.asarray(weights, np.float32),
            ratings=None if ratings is None else np.asarray(ratings, dtype=np.float32),
            timestamps=None if timestamps is None else np.asarray(timestamps, dtype=np.int64),
            events=None if events is None else np.asarray(events, dtype=np.int16),
        )

    def __len__(self) -> int:
        return len(self.users)

    def take(self, index: np.ndarray) -> Interactions:
        """Rows selected by a boolean mask or integer index."""

        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[index]

        return Interactions(
            users=self.users[index],
            items=self.items[index],
            weights=self.weights[index],
            ratings=pick(self.ratings),
            timestamps=pick(self.timestamps),
            events=pick(self.events),
        )

    @staticmethod
    def concat(parts: list[Interactions]) -> Interactions:
        def cat(name: str) -> np.ndarray | None:
            arrays = [getattr(p, name) for p in parts]
            return None if any(a is None for a in arrays) else np.concatenate(arrays)

        return Interactions(
            users=np.concatenate([p.users for p in parts]),
            items=np.concatenate([p.items for p in parts]),
            weights=np.concatenate([p.weights for p in parts]),
            ratings=cat("ratings"),
            timestamps=cat("timestamps"),
            events=cat("events"),
        )


@dataclass(frozen=True)
class Dataset:
    """Interactions plus the id spaces and side information they refer to."""

    name: str
    interactions: Interactions
    users: Vocabulary
    items: Vocabulary
    item_features: FeatureTable | None = None
    user_features: FeatureTable | None = None
    event_types: tuple[str, ...] = ()
    metadata: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        inter = self.interactions
        if len(inter) and (inter.users.min() < 0 or inter.users.max() >= len(self.users)):
            raise DataError(f"{self.name}: user index out of range 0..{len(self.users) - 1}")
        if len(inter) and (inter.items.min() < 0 or inter.items.max() >= len(self.items)):
            raise DataError(f"{self.name}: item index out of range 0..{len(self.items) - 1}")
        if self.item_features is not None and self.item_features.n != len(self.items):
            raise DataError(f"{self.name}: item features have {self.item_features.n} rows, expected {len(self.items)}")
        if self.user_features is not None and self.user_features.n != len(self.users):
            raise DataError(f"{self.name}: user features have {self.user_features.n} rows, expected {len(self.users)}")

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def __len__(self) -> int:
        return len(self.interactions)

    @property
    def has_timestamps(self) -> bool:
        return self.interactions.timestamps is not None

    @property
    def has_ratings(self) -> bool:
        return self.interactions.ratings is not None

    def with_interactions(self, interactions: Interactions, **changes: object) -> Dataset:
        """The same id spaces and features over other interactions (e.g. one side of a split)."""
        return replace(self, interactions=interactions, **changes)  # type: ignore[arg-type]

    def to_csr(self, *, values: str = "weights") -> sp.csr_matrix:
        """(n_users, n_items) sparse matrix; duplicates are summed. `values`: 'weights', 'ratings' or 'ones'."""
        inter = self.interactions
        if values == "ones":
            data = np.ones(len(inter), dtype=np.float32)
        elif values == "ratings":
            if inter.ratings is None:
                raise DataError(f"{self.name}: has no explicit ratings")
            data = inter.ratings
        else:
            data = inter.weights
        m = sp.csr_matrix((data, (inter.users, inter.items)), shape=(self.n_users, self.n_items), dtype=np.float32)
        m.sum_duplicates()
        return m

    def item_popularity(self) -> np.ndarray:
        """(n_items,) number of interactions per item."""
        return np.bincount(self.interactions.items, minlength=self.n_items).astype(np.int64)

    def user_activity(self) -> np.ndarray:
        """(n_users,) number of interactions per user."""
        return np.bincount(self.interactions.users, minlength=self.n_users).astype(np.int64)

    def describe(self) -> dict[str, object]:
        """Counts for `shoprec datasets info` and reports."""
        n = len(self)
        active_users = int((self.user_activity() > 0).sum())
        active_items = int((self.item_popularity() > 0).sum())
        density = n / max(active_users * active_items, 1)
        return {
            "name": self.name,
            "interactions": n,
            "users": active_users,
            "items": active_items,
            "density": round(density, 6),
            "timestamps": self.has_timestamps,
            "ratings": self.has_ratings,
            "event_types": list(self.event_types),
            "item_features": self.item_features.names() if self.item_features else [],
            "user_features": self.user_features.names() if self.user_features else [],
        }


@dataclass(frozen=True)
class Split:
    """Train / validation / test over the same id spaces.

    `test_negatives` (n_test_users, n_neg) holds the candidate negatives of the sampled protocol, row r
    belonging to user `test_negative_users[r]`; None under full ranking.
    """

    train: Dataset
    test: Dataset
    valid: Dataset | None = None
    protocol: str = "full"
    method: str = ""
    test_negative_users: np.ndarray | None = None
    test_negatives: np.ndarray | None = None
