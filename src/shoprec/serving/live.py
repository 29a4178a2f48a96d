"""Live user state: user vectors that follow events without retraining.

Each model family has a *history encoder* (item indices oldest first, their weights, the user's index or
-1) -> (d,) vector in the space of `model.item_vectors()`:
    TwoTower   the user tower over the recent items (`encode_history`)
    SASRec     the sequence encoder over the item sequence (`encode_history`)
    others     (MF, iALS, any VectorRecommender) an iALS-style weighted least-squares fold-in against the
               fixed item vectors, with VᵀV cached once so that a call never touches O(n_items) work.
`LiveUsers` keeps every user's vector in a growable array and recomputes one user's vector per event.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

import numpy as np

from shoprec.exceptions import ConfigError, DataError
from shoprec.models.base import VectorRecommender
from shoprec.models.ials import IALS
from shoprec.models.sasrec import SASRec
from shoprec.models.two_tower import TwoTower

#: One live event as stored: the item index and the event's weight, 8 bytes.
_EVENT = np.dtype([("item", "<i4"), ("weight", "<f4")])

#: (items (L,) int64 oldest first, weights (L,) float32, user index or -1) -> (d,) float32 user vector.
HistoryEncoder = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def grow(array: np.ndarray, rows: int) -> np.ndarray:
    """`array` itself when it has room for `rows` rows, else a zero-padded copy of at least double the
    capacity, so that adding rows one at a time costs amortised O(1) copies per row."""
    if rows <= len(array):
        return array
    out = np.zeros((max(rows, 2 * len(array), 16), *array.shape[1:]), dtype=array.dtype)
    out[: len(array)] = array
    return out


class LeastSquaresFoldIn:
    """A user vector u minimising Σ_i c_i (p_i − u·v_i)² + λ‖u‖² over *all* items with the item vectors V fixed:
    p_i = 1, c_i = 1 + alpha·w_i on the history, p_i = 0, c_i = 1 elsewhere, λ = reg·(Σ_i c_i)^reg_exponent
    (iALS's objective for one user). The unobserved part is VᵀV, computed once here, so each call solves

        (VᵀV + V_hᵀ diag(c − 1) V_h + λI) u = V_hᵀ c     in O(L d² + d³).
    """

    def __init__(
        self, item_vectors: np.ndarray, *, alpha: float = 3.0, reg: float = 0.1, reg_exponent: float = 0.0
    ) -> None:
        if alpha < 0 or reg <= 0 or reg_exponent < 0:
            raise ConfigError(
                f"fold-in needs alpha >= 0, reg > 0 and reg_exponent >= 0, got {alpha=}, {reg=}, {reg_exponent=}"
            )
        self.item_vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
        as64 = self.item_vectors.astype(np.float64)
        self.gram = as64.T @ as64
        self.alpha, self.reg, self.reg_exponent = alpha, reg, reg_exponent

    @classmethod
    def for_model(cls, model: VectorRecommender) -> LeastSquaresFoldIn:
        """iALS keeps its own alpha / reg / reg_exponent (so the result equals `IALS.fold_in`); others the defaults."""
        if isinstance(model, IALS):
            cfg = model.config
            return cls(model.item_vectors(), alpha=cfg.alpha, reg=cfg.reg, reg_exponent=cfg.reg_exponent)
        return cls(model.item_vectors())

    def __call__(self, items: np.ndarray, weights: np.ndarray, user: int = -1) -> np.ndarray:
        """(d,) vector from the history (repeated items add their weights up, as in iALS); `user` is unused."""
        n_items, dim = self.item_vectors.shape
        items = np.asarray(items, dtype=np.int64)
        if len(items) == 0:
            return np.zeros(dim, dtype=np.float32)
        unique, inverse = np.unique(items, return_inverse=True)
        w = np.bincount(inverse.reshape(-1), weights=np.asarray(weights, np.float64), minlength=len(unique))
        y = self.item_vectors[unique].astype(np.float64)  # (L, d)
        extra = self.alpha * w  # c − 1
        lam = self.reg * (n_items + extra.sum()) ** self.reg_exponent
        lhs = self.gram + (y.T * extra) @ y
        lhs[np.diag_indices(dim)] += lam
        return np.linalg.solve(lhs, y.T @ (1.0 + extra)).astype(np.float32)


def history_encoder(model: VectorRecommender) -> HistoryEncoder:
    """The serving path from a user's history to their vector, per model family (see the module docstring)."""
    if isinstance(model, TwoTower):
        return lambda items, weights, user: model.encode_history(items, user)
    if isinstance(model, SASRec):
        return lambda items, weights, user: model.encode_history(items)
    return LeastSquaresFoldIn.for_model(model)


def training_histories(model: VectorRecommender) -> tuple[np.ndarray, np.ndarray]:
    """(indptr (n_users + 1,), items) of every trained user's history, CSR-style, oldest first as far as the
    model knows the order: SASRec's sequences; for two-tower the seen items outside its recent-history window
    (order unknown) then the window in time order; else the seen items (by index)."""
    if isinstance(model, SASRec):
        return model.sequences_.indptr, model.sequences_.items
    seen = model.seen_
    indptr, items = seen.indptr.astype(np.int64), seen.indices.astype(np.int64)
    if not isinstance(model, TwoTower):
        return indptr, items
    window = model.module_.user_history.cpu().numpy()  # (n_users, L) item + 1, right-aligned, 0 = padding
    window_users, column = np.nonzero(window)
    window_items = window[window_users, column].astype(np.int64) - 1
    seen_users = np.repeat(np.arange(model.n_users_), np.diff(indptr))
    older = ~np.isin(seen_users * model.n_items_ + items, window_users * model.n_items_ + window_items)
    users = np.concatenate([seen_users[older], window_users])
    order = np.argsort(users, kind="stable")  # per user: older items first, then the window in order
    ordered = np.concatenate([items[older], window_items])[order]
    return np.concatenate([[0], np.cumsum(np.bincount(users, minlength=model.n_users_))]).astype(np.int64), ordered


class LiveUsers:
    """User vectors that follow events. Trained users start from `model.user_vectors()`; on every event a
    user's vector is recomputed from (training history + live events) by one encoder call; users the model
    never saw get a vector after their first event. Users without any vector have a zero row (never picked
    by audiences). Thread-safe for concurrent `observe` / `add_user` / `forget`."""

    def __init__(
        self,
        model: VectorRecommender,
        event_weights: Mapping[str, float],
        *,
        encoder: HistoryEncoder | None = None,
    ) -> None:
        self.model = model
        self.event_weights = dict(event_weights)
        self.encoder = encoder or history_encoder(model)
        self.n_items = model.n_items_
        self._n_trained = model.n_users_
        indptr, items = training_histories(model)
        self._train_indptr, self._train_items = indptr, items.astype(np.int64, copy=False)
        active = np.diff(self._train_indptr) > 0
        vectors = np.array(model.user_vectors(), dtype=np.float32)  # a copy: some models return views
        vectors[~active] = 0.0
        self._vectors, self._active = vectors, active
        self._train_dropped = np.zeros(self._n_trained, dtype=bool)
        #: user -> their live events packed as `_EVENT` records in one bytes object: 8 bytes an event and ~33
        #: bytes of object per user (an ndarray pair costs ~300), so memory grows with the data, not with
        #: Python objects per event or per user (the soak test measures it).
        self._live: dict[int, bytes] = {}
        self._n = self._n_trained
        self._lock = threading.Lock()

    @property
    def n_users(self) -> int:
        return self._n

    @property
    def dim(self) -> int:
        return self._vectors.shape[1]

    # ----------------------------------------------------------------- reads
    def vector(self, user: int) -> np.ndarray | None:
        """(d,) copy of the user's vector; None when they have none (no events, or deleted): cold start."""
        self._check_user(user)
        return self._vectors[user].copy() if self._active[user] else None

    def vectors(self, users: np.ndarray) -> np.ndarray:
        """(b, d) vectors, zero rows for users without one."""
        users = np.asarray(users, dtype=np.int64)
        if len(users) and (users.min() < 0 or users.max() >= self._n):
            raise DataError(f"user index out of range 0..{self._n - 1}: {users.tolist()[:10]}")
        return self._vectors[users]

    def all_vectors(self) -> np.ndarray:
        """(n_users, d) view of every user's vector (zero rows: no vector), e.g. for audiences."""
        return self._vectors[: self._n]

    def history(self, user: int) -> np.ndarray:
        """Item indices of the user, oldest first: training history (unless forgotten) then live events.
        Not to be written to (for a user without live events it is the training history itself)."""
        if user not in self._live:
            return self._train_history(user)
        return self._history(user)[0]

    # ---------------------------------------------------------------- writes
    def add_user(self) -> int:
        """A new dense index for a user the model never saw; they have no vector until their first event."""
        with self._lock:
            user = self._n
            self._vectors = grow(self._vectors, user + 1)
            self._active = grow(self._active, user + 1)
            self._n += 1
            return user

    def observe(self, user: int, items: np.ndarray, events: list[str]) -> np.ndarray:
        """Append events (items with their event names) to the user's history and recompute their vector.

        A forgotten user starts over from these events alone. Returns the new (d,) vector.
        """
        self._check_user(user)
        items = np.atleast_1d(np.asarray(items, dtype=np.int64))
        if len(items) != len(events):
            raise DataError(f"observe got {len(items)} items but {len(events)} events")
        if len(items) and (items.min() < 0 or items.max() >= self.n_items):
            raise DataError(f"item index out of range 0..{self.n_items - 1}: {items.tolist()[:10]}")
        unknown = sorted(set(events) - self.event_weights.keys())
        if unknown:
            raise ConfigError(f"events: unknown event types {unknown}, expected one of {sorted(self.event_weights)}")
        with self._lock:
            new = np.empty(len(items), dtype=_EVENT)
            new["item"] = items
            new["weight"] = [self.event_weights[e] for e in events]
            self._live[user] = self._live.get(user, b"") + new.tobytes()
            history, weights = self._history(user)
            vector = self.encoder(history, weights, self._encoder_user(user))
            self._vectors[user] = vector
            self._active[user] = True
        return vector

    def forget(self, user: int) -> None:
        """Deletion: zero the vector, drop training and live history; the user is cold until new events."""
        self._check_user(user)
        with self._lock:
            self._vectors[user] = 0.0
            self._active[user] = False
            self._live.pop(user, None)
            if user < self._n_trained:
                self._train_dropped[user] = True

    # --------------------------------------------------------------- helpers
    def _history(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        """(items, weights) oldest first; training items weigh 1 (the model keeps no event types)."""
        train = self._train_history(user)
        live = np.frombuffer(self._live.get(user, b""), dtype=_EVENT)
        items = np.concatenate([train, live["item"].astype(np.int64)])
        weights = np.concatenate([np.ones(len(train), np.float32), live["weight"]])
        return items, weights

    def _train_history(self, user: int) -> np.ndarray:
        if user < self._n_trained and not self._train_dropped[user]:
            return self._train_items[self._train_indptr[user] : self._train_indptr[user + 1]]
        return np.zeros(0, dtype=np.int64)

    def _encoder_user(self, user: int) -> int:
        """The model's own index for trained users it may still use (ids, features), else -1 (a new user)."""
        return user if user < self._n_trained and not self._train_dropped[user] else -1

    def _check_user(self, user: int) -> None:
        if not 0 <= user < self._n:
            raise DataError(f"user index {user} out of range 0..{self._n - 1}")
