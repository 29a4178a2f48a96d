"""Vectorised negative sampling: training negatives on the trainer's hot path, candidates of the sampled protocol.

Candidates are drawn in bulk and checked against each user's positives in one vectorised lookup; only
the rejected ones are redrawn, for a bounded number of rounds. Whatever is still rejected then (users
who interacted with most of the catalog) is drawn exactly: the r-th non-positive item of a user is
`r + #{j : p_j - j <= r}` over the user's sorted positives p_j, one `searchsorted` on a combined key.

Membership uses a packed bitmap of the (user, item) matrix when it fits `BITMAP_BUDGET_BYTES` (a
cache-friendly O(1) gather) and otherwise `searchsorted` on the sorted keys `user * n_items + item`.
numpy measured faster than torch on CPU for these gathers and searches; torch tensors are accepted and
the result comes back on their device. torch is never imported here (a tensor can only be passed in once
the caller has imported it), so loading and splitting data stays free of it.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.sparse as sp

from shoprec.data.dataset import Interactions, Split
from shoprec.exceptions import ConfigError, DataError

if TYPE_CHECKING:
    import torch

#: The (user, item) bitmap is used up to this size; beyond it membership falls back to searchsorted.
BITMAP_BUDGET_BYTES = 256 << 20


class NegativeSampler:
    """Samples items a user has not interacted with, uniformly or by popularity ** alpha.

    `positives`: (n_users, n_items) sparse matrix; every stored entry is a positive. A sampler keeps one
    seeded generator, so successive calls give different, reproducible draws.
    """

    def __init__(
        self,
        positives: sp.spmatrix | sp.sparray,
        *,
        distribution: Literal["uniform", "popularity"] = "uniform",
        alpha: float = 0.75,
        seed: int = 0,
        max_rounds: int = 8,
    ) -> None:
        if distribution not in ("uniform", "popularity"):
            raise ConfigError(f"NegativeSampler: distribution must be 'uniform' or 'popularity', got {distribution!r}")
        if alpha < 0:
            raise ConfigError(f"NegativeSampler: alpha must be >= 0, got {alpha}")
        if max_rounds < 0:
            raise ConfigError(f"NegativeSampler: max_rounds must be >= 0, got {max_rounds}")
        csr = sp.csr_matrix(positives, copy=True)
        csr.sum_duplicates()  # sorts each row's indices and merges repeats
        self.n_users, self.n_items = csr.shape
        self.distribution = distribution
        self.max_rounds = max_rounds
        self._rng = np.random.default_rng(seed)
        self._row_start = csr.indptr.astype(np.int64)
        lengths = np.diff(self._row_start)
        self._n_negatives = self.n_items - lengths
        rows = np.repeat(np.arange(self.n_users, dtype=np.int64), lengths)
        keys = rows * self.n_items + csr.indices
        # p_j - j over each user's sorted positives p_j: nondecreasing inside a row, so keys stay sorted.
        self._rank_keys = keys - (np.arange(len(keys)) - self._row_start[rows])
        fits = self.n_users * self.n_items <= 8 * BITMAP_BUDGET_BYTES
        self._bitmap = _packed_bitmap(keys, self.n_users * self.n_items) if fits else None
        self._keys = None if fits else keys
        if distribution == "popularity":
            counts = np.bincount(csr.indices, minlength=self.n_items).astype(np.float64)
            weights = np.where(counts > 0, counts**alpha, 0.0)  # items nobody touched are never drawn
            if weights.sum() <= 0:
                raise DataError("NegativeSampler: no item has any positive, so popularity sampling is undefined")
            self._table = DiscreteTable(weights)

    # ------------------------------------------------------------------ public
    def sample(self, users: np.ndarray | torch.Tensor, k: int) -> np.ndarray | torch.Tensor:
        """(len(users), k) int64 negatives, drawn with replacement; same array kind (and device) as `users`.

        Under "popularity", draws still rejected after `max_rounds` come uniformly from the user's
        negatives: a small bias, only for users whose positives hold most of the popularity mass.
        """
        if k < 0:
            raise ConfigError(f"NegativeSampler.sample: k must be >= 0, got {k}")
        u = self._check_users(users, 1)
        flat = np.repeat(u, k)
        items = self._draw(len(flat))
        todo = np.flatnonzero(self._is_positive(flat, items))
        for _ in range(self.max_rounds):
            if len(todo) == 0:
                break
            items[todo] = self._draw(len(todo))
            todo = todo[self._is_positive(flat[todo], items[todo])]
        if len(todo):
            owners = flat[todo]
            items[todo] = self._rank_to_item(owners, self._uniform_ranks(self._n_negatives[owners]))
        return _like(users, items.reshape(len(u), k))

    def sample_distinct(self, users: np.ndarray | torch.Tensor, k: int) -> np.ndarray | torch.Tensor:
        """(len(users), k) int64 distinct uniform negatives per row, each row sorted (sampled-protocol candidates)."""
        if k < 1:
            raise ConfigError(f"NegativeSampler.sample_distinct: k must be >= 1, got {k}")
        u = self._check_users(users, k)
        n_neg = self._n_negatives[u]
        ranks = np.empty((len(u), k), dtype=np.int64)
        dense = n_neg < 2 * k
        ranks[dense] = self._permuted_ranks(n_neg[dense], k)
        ranks[~dense] = self._redrawn_ranks(n_neg[~dense], k)
        return _like(users, self._rank_to_item(np.repeat(u, k), ranks.ravel()).reshape(len(u), k))

    # ----------------------------------------------------------------- private
    def _check_users(self, users: np.ndarray | torch.Tensor, need: int) -> np.ndarray:
        u = users.detach().cpu().numpy() if _is_tensor(users) else np.asarray(users)
        u = u.astype(np.int64, copy=False).reshape(-1)
        if len(u) and (u.min() < 0 or u.max() >= self.n_users):
            raise DataError(f"NegativeSampler: user index out of range 0..{self.n_users - 1}")
        short = self._n_negatives[u] < need
        if short.any():
            raise DataError(
                f"NegativeSampler: user index {int(u[short][0])} has {int(self._n_negatives[u[short][0]])} "
                f"non-positive items of {self.n_items}, fewer than the {need} needed"
            )
        return u

    def _draw(self, size: int) -> np.ndarray:
        if self.distribution == "uniform":
            return self._rng.integers(0, self.n_items, size, dtype=np.int64)
        return self._table.draw(self._rng, size)

    def _permuted_ranks(self, n_negatives: np.ndarray, k: int) -> np.ndarray:
        """k distinct sorted ranks per row from a random permutation; for rows with few negatives (< 2k)."""
        width = int(n_negatives.max(initial=k))  # >= k, also when there are no rows
        keys = self._rng.random((len(n_negatives), width))
        keys[np.arange(width) >= n_negatives[:, None]] = 2.0  # past the row's negatives: sorted last
        return np.sort(np.argsort(keys, axis=1)[:, :k], axis=1)

    def _redrawn_ranks(self, n_negatives: np.ndarray, k: int) -> np.ndarray:
        """k distinct sorted ranks per row by redrawing duplicates; rows have >= 2k negatives, so each
        redraw succeeds with probability >= 1/2 and the loop ends after a few rounds."""
        ranks = self._uniform_ranks(np.repeat(n_negatives, k)).reshape(-1, k)
        while True:
            ranks.sort(axis=1)
            dup = np.zeros(ranks.shape, dtype=bool)
            dup[:, 1:] = ranks[:, 1:] == ranks[:, :-1]
            if not dup.any():
                return ranks
            ranks[dup] = self._uniform_ranks(n_negatives[np.nonzero(dup)[0]])

    def _uniform_ranks(self, n_negatives: np.ndarray) -> np.ndarray:
        """One uniform rank in 0..n-1 per entry of `n_negatives`."""
        return (self._rng.random(len(n_negatives)) * n_negatives).astype(np.int64)

    def _is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = users * self.n_items + items
        if self._bitmap is not None:
            return ((self._bitmap[keys >> 3] >> (keys & 7).astype(np.uint8)) & 1).astype(bool)
        pos = np.searchsorted(self._keys, keys).clip(max=len(self._keys) - 1)
        return self._keys[pos] == keys

    def _rank_to_item(self, users: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """The ranks[i]-th (0-based) item that users[i] has not interacted with."""
        below = np.searchsorted(self._rank_keys, users * self.n_items + ranks, side="right")
        return ranks + below - self._row_start[users]


class DiscreteTable:
    """Exact O(1) draws from a discrete distribution: a lookup table plus a residual searchsorted.

    Item i fills floor(w_i * T) table slots of unit mass; the leftover mass (at most n/T of the
    total) is drawn by `searchsorted` on the cumulative fractional parts, so only a few draws pay for it.
    """

    def __init__(self, weights: np.ndarray) -> None:
        weights = np.asarray(weights, dtype=np.float64)
        if len(weights) == 0 or (weights < 0).any() or not weights.sum() > 0:
            raise ConfigError("DiscreteTable: weights must be >= 0 with a positive sum")
        self.size = max(1 << 20, 8 * len(weights))
        scaled = weights / weights.sum() * self.size
        whole = np.floor(scaled)
        self.table = np.repeat(np.arange(len(weights), dtype=np.int64), whole.astype(np.int64))
        self.residual_cdf = np.cumsum(scaled - whole)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """`size` int64 indices i drawn with probability weights[i] / sum(weights)."""
        x = rng.random(size) * self.size
        slot = x.astype(np.int64)
        out = self.table[slot.clip(max=len(self.table) - 1)]  # never empty: T >= 8n fills some slots
        rest = np.flatnonzero(slot >= len(self.table))
        if len(rest):
            frac = (x[rest] - len(self.table)) / (self.size - len(self.table)) * self.residual_cdf[-1]
            frac = np.minimum(frac, np.nextafter(self.residual_cdf[-1], 0))  # guard a rounding up to the end
            out[rest] = np.searchsorted(self.residual_cdf, frac, side="right")
        return out


def _packed_bitmap(keys: np.ndarray, n_bits: int) -> np.ndarray:
    """Little-endian packed bits with `keys` (sorted, unique) set, built without a dense bool array."""
    bitmap = np.zeros((n_bits + 7) // 8, dtype=np.uint8)
    if len(keys):
        byte = keys >> 3
        starts = np.flatnonzero(np.r_[True, byte[1:] != byte[:-1]])
        bits = np.left_shift(1, keys & 7).astype(np.uint8)
        bitmap[byte[starts]] = np.bitwise_or.reduceat(bits, starts)
    return bitmap


def _is_tensor(value: object) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _like(template: np.ndarray | torch.Tensor, values: np.ndarray) -> np.ndarray | torch.Tensor:
    """`values` as the same kind of array as `template` (torch on its device, else numpy)."""
    if _is_tensor(template):
        return sys.modules["torch"].from_numpy(values).to(template.device)
    return values


def sample_eval_negatives(split: Split, n: int = 99, seed: int = 0) -> Split:
    """The sampled protocol: n distinct uniform negatives per test user, excluding all their known positives.

    Positives are the user's train, valid and test events together, so no candidate is a hidden hit.
    """
    if n <= 0:
        raise ConfigError(f"sample_eval_negatives: n must be > 0, got {n}")
    parts = [p.interactions for p in (split.train, split.valid, split.test) if p is not None]
    known = split.train.with_interactions(Interactions.concat(parts)).to_csr(values="ones")
    users = np.unique(split.test.interactions.users)
    negatives = NegativeSampler(known, seed=seed).sample_distinct(users, n)
    return replace(split, protocol="sampled", test_negative_users=users, test_negatives=negatives)
