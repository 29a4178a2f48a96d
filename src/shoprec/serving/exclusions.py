"""Items each user must not be shown again beyond their live history, kept in memory for the list path.

The live history (`LiveUsers.history`) holds what the model can encode. Two kinds of items are not in it:
a user's purchases when only `exclude_purchased` is on (the history is excluded only with `exclude_seen`),
and items created while serving (the live vectors have a fixed item range). Both are recorded here as events
arrive (and again when the store is replayed on open), so a list request never queries the event store.
"""

from __future__ import annotations

import numpy as np


class UserItems:
    """user index -> the distinct item indices to exclude, added to by events, dropped whole on deletion.

    Each user's items are sorted int32 values in one bytes object: memory grows with distinct (user, item)
    pairs at 4 bytes each plus ~33 bytes per user, not with the number of events. Not locked itself: the
    service writes it under its state's write lock and reads it under the read lock."""

    def __init__(self) -> None:
        self._items: dict[int, bytes] = {}

    def add(self, user: int, items: np.ndarray) -> None:
        if len(items):
            known = np.frombuffer(self._items.get(user, b""), dtype=np.int32)
            self._items[user] = np.union1d(known, np.asarray(items, dtype=np.int32)).astype(np.int32).tobytes()

    def of(self, user: int) -> np.ndarray:
        """(m,) int64 distinct item indices of the user, sorted; empty when none."""
        return np.frombuffer(self._items.get(user, b""), dtype=np.int32).astype(np.int64)

    def forget(self, user: int) -> None:
        self._items.pop(user, None)
