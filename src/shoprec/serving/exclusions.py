"""Items each user must not be shown again beyond their live history, kept in memory for the list path.

The live history (`LiveUsers.history`) holds what the model can encode. Two kinds of items are not in it:
a user's purchases when only `exclude_purchased` is on (the history is excluded only with `exclude_seen`),
and items created while serving (the live vectors have a fixed item range). Both are recorded here as events
arrive (and again when the store is replayed on open), so a list request never queries the event store.
"""

from __future__ import annotations

import numpy as np


class UserItems:
    """user index -> item indices, appended to by events, dropped whole when the user is deleted.

    Not locked itself: the service writes it under its state's write lock and reads it under the read lock."""

    def __init__(self) -> None:
        self._items: dict[int, list[int]] = {}

    def add(self, user: int, items: np.ndarray) -> None:
        if len(items):
            self._items.setdefault(user, []).extend(np.asarray(items, dtype=np.int64).tolist())

    def of(self, user: int) -> np.ndarray:
        """(m,) int64 item indices of the user, possibly repeated; empty when none."""
        return np.array(self._items.get(user, ()), dtype=np.int64)

    def forget(self, user: int) -> None:
        self._items.pop(user, None)
