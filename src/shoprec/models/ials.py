"""Implicit ALS (Hu, Koren & Volinsky 2008) with the tuning of Rendle et al. 2021, and fold-in of new users.

Loss over all (user, item) pairs, observed or not:
    Σ c_ui (p_ui − x_u·y_i)² + Σ_u λ_u ‖x_u‖² + Σ_i λ_i ‖y_i‖²
with p_ui = 1 and c_ui = 1 + alpha·weight on observed pairs, p_ui = 0 and c_ui = 1 elsewhere, and the
frequency-scaled regularisation λ_u = reg · (Σ_i c_ui)^reg_exponent (reg_exponent 0: Hu's constant reg;
1: Rendle's, whose unobserved weight α0 is 1/(1+alpha) here, with the same reg).

Each half-step solves one small d x d system per row, all rows at once, never a Python loop over them:
- 'cg' (default): a few conjugate-gradient steps warm-started from the current factors (as implicit does),
  on the whole side with one sampled and one sparse matmul per step;
- 'cholesky': exact, batched over padded chunks of rows of similar length. Fold-in always solves exactly.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from shoprec.config import ModelConfig, TrainOptions
from shoprec.data.dataset import Dataset
from shoprec.exceptions import ConfigError, DataError
from shoprec.models.base import VectorRecommender, top_n
from shoprec.models.registry import register

#: Floats per padded chunk (rows x (length + d) x d), which bounds the memory of one batched solve.
CHUNK_BUDGET = 1 << 22


@dataclass
class IALSConfig(ModelConfig):
    """Hyperparameters. alpha and reg were chosen at d=64 on a validation split of ML-1M NCF train.

    init_std is divided by sqrt(embedding_size). solver: 'cg' (`cg_steps` conjugate-gradient steps per
    half-step, warm-started; fast) or 'cholesky' (exact per half-step; slower, a reference).
    """

    embedding_size: int = 64
    epochs: int = 16
    reg: float = 0.005
    reg_exponent: float = 1.0
    alpha: float = 3.0
    init_std: float = 0.1
    solver: str = "cg"
    cg_steps: int = 3

    def validate(self) -> None:
        super().validate()
        if self.reg <= 0:
            raise ConfigError(f"IALSConfig.reg must be > 0 so that every solve is well posed, got {self.reg}")
        for name in ("reg_exponent", "init_std"):
            if getattr(self, name) < 0:
                raise ConfigError(f"IALSConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.solver not in ("cholesky", "cg"):
            raise ConfigError(f"IALSConfig.solver must be 'cholesky' or 'cg', got {self.solver!r}")
        if self.cg_steps <= 0:
            raise ConfigError(f"IALSConfig.cg_steps must be > 0, got {self.cg_steps}")


def _row_reg(matrix: sp.csr_matrix, cfg: IALSConfig) -> np.ndarray:
    """(rows,) λ_r = reg · (Σ_all-columns c_rj)^reg_exponent for a (rows, others) weight matrix."""
    total_conf = matrix.shape[1] + cfg.alpha * np.asarray(matrix.sum(axis=1)).ravel()
    return (cfg.reg * total_conf**cfg.reg_exponent).astype(np.float32)


@dataclass(frozen=True)
class _Chunk:
    """Rows of similar length, padded: cols (B, L) other-side indices; extra = c − 1 and conf = c, 0 at padding."""

    rows: torch.Tensor  # (B,) int64
    cols: torch.Tensor  # (B, L) int64
    extra: torch.Tensor  # (B, L) float32
    conf: torch.Tensor  # (B, L) float32
    lam: torch.Tensor  # (B,) float32 regularisation per row


def _chunks(matrix: sp.csr_matrix, cfg: IALSConfig) -> list[_Chunk]:
    """Cut the rows of a (rows, others) weight matrix into padded chunks of similar length within CHUNK_BUDGET."""
    d = cfg.embedding_size
    lengths = np.diff(matrix.indptr)
    order = np.argsort(lengths, kind="stable")
    perm, lengths = matrix[order], lengths[order]
    lam = torch.from_numpy(_row_reg(perm, cfg))
    out, start = [], 0
    while start < len(order):
        similar = int(np.searchsorted(lengths, 1.25 * lengths[start] + 8, side="right"))
        cost = np.arange(1, similar - start + 1) * (lengths[start:similar] + d) * d
        stop = start + max(1, int(np.searchsorted(cost, CHUNK_BUDGET, side="right")))
        lens = lengths[start:stop]
        lo, hi = perm.indptr[start], perm.indptr[stop]
        row = np.repeat(np.arange(stop - start), lens)
        offset = np.arange(hi - lo) - np.repeat(perm.indptr[start:stop] - lo, lens)
        shape = (stop - start, int(lens.max(initial=0)))
        cols, extra, conf = np.zeros(shape, np.int64), np.zeros(shape, np.float32), np.zeros(shape, np.float32)
        cols[row, offset] = perm.indices[lo:hi]
        extra[row, offset] = cfg.alpha * perm.data[lo:hi]
        conf[row, offset] = 1.0 + extra[row, offset]
        rows = torch.from_numpy(order[start:stop].astype(np.int64))
        out.append(_Chunk(rows, *map(torch.from_numpy, (cols, extra, conf)), lam[start:stop]))
        start = stop
    return out


def _cholesky(chunk: _Chunk, other: torch.Tensor, gram: torch.Tensor) -> torch.Tensor:
    """Exact least-squares factors (B, d) of the chunk's rows given the other side (n_other, d); gram = otherᵀ·other."""
    yp = other[chunk.cols]  # (B, L, d)
    rhs = torch.bmm(chunk.conf.unsqueeze(1), yp).transpose(1, 2)  # (B, d, 1) = Σ_i c_ui y_i
    a = torch.baddbmm(gram.expand(len(yp), -1, -1), yp.transpose(1, 2), yp * chunk.extra.unsqueeze(2))
    a.diagonal(dim1=1, dim2=2).add_(chunk.lam.unsqueeze(1))
    return torch.cholesky_solve(rhs, torch.linalg.cholesky(a)).squeeze(2)


@dataclass(frozen=True)
class _SparseRows:
    """All rows of one side as torch CSR for the conjugate-gradient solver: `extra` holds c − 1 and
    `confidence` c for each observed pair. Indices are int32, which the sparse kernels use without a copy."""

    extra: torch.Tensor  # (rows, others) sparse CSR
    confidence: torch.Tensor  # (rows, others) sparse CSR, same pattern
    lam: torch.Tensor  # (rows, 1)

    @classmethod
    def build(cls, matrix: sp.csr_matrix, cfg: IALSConfig) -> _SparseRows:
        extra = torch.from_numpy(cfg.alpha * matrix.data.astype(np.float32))
        crow, col = (torch.from_numpy(a.astype(np.int32)) for a in (matrix.indptr, matrix.indices))
        lam = torch.from_numpy(_row_reg(matrix, cfg)).unsqueeze(1)
        return cls(_csr(crow, col, extra, matrix.shape), _csr(crow, col, 1.0 + extra, matrix.shape), lam)


def _csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    with warnings.catch_warnings():  # torch warns once that sparse CSR is in beta
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, col, values, size=shape, check_invariants=False)


def _conjugate_gradient(
    x: torch.Tensor, other: torch.Tensor, rows: _SparseRows, gram: torch.Tensor, steps: int
) -> None:
    """`steps` CG steps on every row's system at once, in place from x (rows, d): sparse products, no padding.

    Few, fused operations per step, as each one is a parallel region that a busy machine makes costly.
    """
    other_t, extra = other.T.contiguous(), rows.extra.values()

    def matvec(p: torch.Tensor) -> torch.Tensor:
        """A p = p·G + λ p + Σ_i (c_ui − 1)(p·y_i) y_i per row: one sampled and one sparse matmul."""
        dots = torch.sparse.sampled_addmm(rows.extra, p, other_t, beta=0.0)
        dots.values().mul_(extra)
        return torch.addmm(rows.lam * p, p, gram).add_(dots @ other)

    r = (rows.confidence @ other).sub_(matvec(x))
    p, rs = r.clone(), torch.linalg.vecdot(r, r).unsqueeze(1)
    for _ in range(steps):
        ap = matvec(p)
        step = rs / torch.linalg.vecdot(p, ap).unsqueeze(1).clamp_min(1e-30)
        x.addcmul_(step, p)
        r.addcmul_(step, ap, value=-1.0)
        rs_new = torch.linalg.vecdot(r, r).unsqueeze(1)
        p = torch.addcmul(r, rs_new / rs.clamp_min(1e-30), p)
        rs = rs_new


@register("ials")
class IALS(VectorRecommender):
    """Implicit-feedback matrix factorisation by alternating least squares; new users are folded in."""

    config_class = IALSConfig
    config: IALSConfig

    def _fit(self, train: Dataset, valid: Dataset | None, options: TrainOptions) -> None:
        cfg = self.config
        weights = train.to_csr(values="weights")
        by_item, by_user = (self._prepare(m) for m in (weights.T.tocsr(), weights))
        gen = torch.Generator().manual_seed(cfg.seed)
        std = cfg.init_std / math.sqrt(cfg.embedding_size)
        users = torch.randn(train.n_users, cfg.embedding_size, generator=gen) * std
        items = torch.randn(train.n_items, cfg.embedding_size, generator=gen) * std
        for _ in range(cfg.epochs):  # items first, so that the final user vectors are exact fold-ins
            self._half_step(items, users, by_item)
            self._half_step(users, items, by_user)
        self.user_factors_, self.item_factors_ = users, items

    def _prepare(self, matrix: sp.csr_matrix) -> _SparseRows | list[_Chunk]:
        """One side's rows in the layout its solver wants."""
        return _SparseRows.build(matrix, self.config) if self.config.solver == "cg" else _chunks(matrix, self.config)

    def _half_step(self, target: torch.Tensor, other: torch.Tensor, rows: _SparseRows | list[_Chunk]) -> None:
        """Re-solve every row of `target` in place given `other`."""
        gram = other.T @ other
        if isinstance(rows, _SparseRows):
            _conjugate_gradient(target, other, rows, gram, self.config.cg_steps)
            return
        for chunk in rows:
            target[chunk.rows] = _cholesky(chunk, other, gram)

    # ------------------------------------------------------------ vectors
    def user_vectors(self, users: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        vectors = self.user_factors_ if users is None else self.user_factors_[torch.as_tensor(users)]
        return vectors.numpy()

    def item_vectors(self, items: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        vectors = self.item_factors_ if items is None else self.item_factors_[torch.as_tensor(items)]
        return vectors.numpy()

    # ------------------------------------------------------------ fold-in
    def fold_in_batch(self, history: sp.csr_matrix) -> np.ndarray:
        """(b, d) vectors of b new users from their (b, n_items) event weights, item factors fixed (exact solve)."""
        self._check_fitted()
        if history.shape[1] != self.n_items_:
            raise DataError(f"fold-in history has {history.shape[1]} item columns, expected {self.n_items_}")
        out = torch.zeros(history.shape[0], self.item_factors_.shape[1])
        self._half_step(out, self.item_factors_, _chunks(sp.csr_matrix(history, dtype=np.float32), self.config))
        return out.numpy()

    def fold_in(self, items: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """(d,) vector of one new user from a few events (item indices, optional weights, default 1)."""
        history = self._history_row(items, weights)
        return self.fold_in_batch(history)[0]

    def recommend_from_history(
        self, items: np.ndarray, weights: np.ndarray | None = None, n: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n (items, scores), each (n,), for a user known only by events: the serving path for cold users.

        With no events at all the vector would be zero, so the list falls back to the cold-start scores.
        """
        if n <= 0:
            raise ConfigError(f"n must be > 0, got {n}")
        history = self._history_row(items, weights)
        if history.nnz == 0:
            scores = self._cold_start_scores().unsqueeze(0).clone()
        else:
            scores = torch.from_numpy(self.fold_in_batch(history)) @ self.item_factors_.T
        if exclude_seen:
            self._mask(scores, history)
        top_items, top_scores = top_n(scores, n)
        return top_items[0], top_scores[0]

    def _history_row(self, items: np.ndarray, weights: np.ndarray | None) -> sp.csr_matrix:
        """One user's events as a (1, n_items) csr row; duplicate items add up."""
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64).reshape(-1)
        if len(items) and (items.min() < 0 or items.max() >= self.n_items_):
            raise DataError(f"fold-in item index out of range 0..{self.n_items_ - 1}: {items.tolist()[:10]}")
        data = np.ones(len(items), np.float32) if weights is None else np.asarray(weights, np.float32).reshape(-1)
        if len(data) != len(items):
            raise DataError(f"fold-in got {len(items)} items but {len(data)} weights")
        row = sp.csr_matrix((data, (np.zeros(len(items), np.int64), items)), shape=(1, self.n_items_))
        row.sum_duplicates()
        return row

    # -------------------------------------------------------- persistence
    def _state_tensors(self) -> dict[str, torch.Tensor]:
        return {"user_factors": self.user_factors_, "item_factors": self.item_factors_}

    def _load_state(self, tensors: dict[str, np.ndarray], extra: dict) -> None:
        self.user_factors_ = torch.from_numpy(tensors["user_factors"])
        self.item_factors_ = torch.from_numpy(tensors["item_factors"])
