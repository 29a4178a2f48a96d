"""Per-user item sequences for sequential models, built and cut into padded windows without Python loops.

A `Sequences` holds every user's items in order, CSR-style. Sequential models read it two ways:

    tails(users, width)   the last `width` items of each user, right-aligned, for prediction
    windows(width)        every (input, next item) pair of every user, cut into right-aligned training rows

Padded arrays hold item index + 1, so that 0 can be the padding index of an embedding table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shoprec.data.dataset import Dataset
from shoprec.data.split import tie_breaker
from shoprec.exceptions import ConfigError, DataError

ORDERS = ("auto", "time", "given")


@dataclass(frozen=True)
class Sequences:
    """User u's items, oldest first, are `items[indptr[u]:indptr[u + 1]]` (0-based item indices)."""

    indptr: np.ndarray  # (n_users + 1,) int64
    items: np.ndarray  # (n_events,) int64

    @classmethod
    def from_dataset(cls, data: Dataset, order: str = "auto", ties: str = "order", seed: int = 0) -> Sequences:
        """Each user's events ordered by timestamp, equal timestamps by row order or a seeded shuffle.

        order: "time" needs timestamps, "given" keeps the rows' order, "auto" takes time when the data has it.
        ties: how events with equal timestamps are ordered ("order": as the rows, "shuffle": a permutation
        seeded with `seed`, as `shoprec.data.split.tie_breaker`); unused when ordering by the rows.
        """
        if order not in ORDERS:
            raise ConfigError(f"order must be one of {list(ORDERS)}, got {order!r}")
        inter = data.interactions
        if order == "time" and inter.timestamps is None:
            raise DataError(f"{data.name}: has no timestamps to order sequences by; use order='given'", column="time")
        use_time = inter.timestamps is not None and order != "given"
        rows = tie_breaker(len(inter), ties, seed) if use_time else np.arange(len(inter), dtype=np.int64)
        sort = np.lexsort((rows, inter.timestamps, inter.users) if use_time else (rows, inter.users))
        lengths = np.bincount(inter.users, minlength=data.n_users)
        return cls(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), inter.items[sort].astype(np.int64))

    @property
    def n_users(self) -> int:
        return len(self.indptr) - 1

    def lengths(self) -> np.ndarray:
        """(n_users,) number of events per user."""
        return np.diff(self.indptr)

    def tails(self, users: np.ndarray, width: int) -> np.ndarray:
        """(len(users), width) int64: each user's last `width` items + 1, right-aligned, 0 on the left."""
        users = np.asarray(users, dtype=np.int64)
        take = np.minimum(self.lengths()[users], width)
        row = np.repeat(np.arange(len(users)), take)
        offset = np.arange(take.sum()) - np.repeat(np.cumsum(take) - take, take)  # 0.. within each tail
        out = np.zeros((len(users), width), dtype=np.int64)
        out[row, width - take[row] + offset] = self.items[self.indptr[users + 1][row] - take[row] + offset] + 1
        return out

    def windows(self, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Training rows covering every next-item target of every user once.

        A user with n items has n - 1 targets (items 1..n-1, each predicted from the items before it);
        counted from the end, they are cut into ceil((n - 1) / width) windows of `width` positions, the
        earliest left-padded. Returns (users (w,), inputs (w, width), targets (w, width)), items + 1, where
        inputs[r, c] is the item just before targets[r, c] and 0 marks padding in both.
        """
        if width <= 0:
            raise ConfigError(f"window width must be > 0, got {width}")
        lengths = self.lengths()
        targets_per_user = np.maximum(lengths - 1, 0)
        per_user = -(-targets_per_user // width)  # ceil
        first_window = np.cumsum(per_user) - per_user
        owner = np.repeat(np.arange(self.n_users), targets_per_user)
        # position p >= 1 of each target inside its user's sequence, and its distance from the end
        position = np.arange(len(owner)) - np.repeat(np.cumsum(targets_per_user) - targets_per_user, targets_per_user)
        position += 1
        from_end = lengths[owner] - 1 - position
        window = first_window[owner] + per_user[owner] - 1 - from_end // width  # earliest window first
        column = width - 1 - from_end % width
        source = self.indptr[owner] + position
        inputs = np.zeros((int(per_user.sum()), width), dtype=np.int64)
        targets = np.zeros_like(inputs)
        inputs[window, column] = self.items[source - 1] + 1
        targets[window, column] = self.items[source] + 1
        return np.repeat(np.arange(self.n_users, dtype=np.int64), per_user), inputs, targets
