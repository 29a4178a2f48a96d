"""External user ids <-> dense indices for a running service: trained users first, new users appended."""

from __future__ import annotations

import numpy as np

from shoprec.data.vocabulary import UNKNOWN, Vocabulary
from shoprec.serving.live import LiveUsers


class UserIds:
    """The model's user vocabulary plus users first seen while serving (index = vocabulary size + k).

    New users get their index from `LiveUsers.add_user`, so both always agree.
    """

    def __init__(self, vocab: Vocabulary) -> None:
        self._vocab = vocab
        self._new: dict[str, int] = {}
        self._new_ids: list[str] = []

    def __len__(self) -> int:
        return len(self._vocab) + len(self._new_ids)

    def index(self, user: str) -> int:
        """Dense index of a user, or -1 when the service has never seen them."""
        known = self._vocab.index_of(user)
        return known if known != UNKNOWN else self._new.get(user, UNKNOWN)

    def indices(self, users: list[str]) -> np.ndarray:
        """(len(users),) dense indices, -1 for unknown users."""
        out = self._vocab.index(np.asarray(users, dtype=str)) if users else np.zeros(0, np.int64)
        for position in np.flatnonzero(out == UNKNOWN).tolist():
            out[position] = self._new.get(users[position], UNKNOWN)
        return out

    def add(self, user: str, live: LiveUsers) -> int:
        """Index of `user`, creating it (and its LiveUsers row) when new."""
        found = self.index(user)
        if found != UNKNOWN:
            return found
        index = live.add_user()  # == len(self): this map is the only caller
        self._new[user] = index
        self._new_ids.append(user)
        return index

    def external(self, indices: np.ndarray) -> list[str]:
        """External ids of dense indices (trained or new)."""
        indices = np.asarray(indices, dtype=np.int64)
        n_trained = len(self._vocab)
        trained = indices < n_trained
        out = np.empty(len(indices), dtype=object)
        out[trained] = self._vocab.external(indices[trained])
        out[~trained] = np.asarray(self._new_ids, dtype=object)[indices[~trained] - n_trained]
        return out.tolist()
