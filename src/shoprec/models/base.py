"""The `Recommender` contract that every model implements and everything else depends on.

A model supplies `_fit` (learn state from a training Dataset), `_score_users` (scores of known users
over the whole catalog, one batch at a time) and its state for save/load. The base class owns what is
shared: remembering each user's seen items, batched top-n with exclusions and candidate restriction,
the cold-start path for unknown users (popularity), thread limits, and safetensors + JSON artifacts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import scipy.sparse as sp
import torch

from shoprec.artifact_schema import INT, OBJECT, STR, STR_LIST, check_fields, json_field
from shoprec.artifacts import STATE, read_artifact, write_artifact
from shoprec.config import ModelConfig, TrainOptions
from shoprec.data.dataset import Dataset
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import ArtifactError, ConfigError, NotFittedError
from shoprec.runtime import thread_limit

R = TypeVar("R", bound="Recommender")

#: Scores computed per batch are bounded to about this many floats (users x items), so full ranking
#: over any catalog needs bounded memory.
SCORE_BUDGET = 1 << 24

#: The fields of a model artifact's state.json and what each must be.
_STATE_FIELDS = (
    json_field("model", STR),
    json_field("config", OBJECT),
    json_field("n_users", INT),
    json_field("n_items", INT),
    json_field("user_ids", STR_LIST),
    json_field("item_ids", STR_LIST),
    json_field("extra", OBJECT, required=False),
)


class Recommender(ABC):
    """Base class of all models. `__init__` only stores the config; `fit` sets all learned state."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type[ModelConfig]] = ModelConfig

    def __init__(self, config: ModelConfig | None = None, **params: Any) -> None:
        if config is not None and params:
            config = self.config_class.from_dict({**config.to_dict(), **params})
        elif config is None:
            config = self.config_class.from_dict(params)
        elif not isinstance(config, self.config_class):
            raise ConfigError(f"{type(self).__name__} expects a {self.config_class.__name__}")
        config.validate()
        self.config = config
        self.fitted_: bool = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # ------------------------------------------------------------------ fitting
    def fit(self: R, train: Dataset, *, valid: Dataset | None = None, options: TrainOptions | None = None) -> R:
        """Learn from `train` (early stopping, if any, looks at `valid`). Refitting starts over."""
        options = options or TrainOptions.from_env()
        self.n_users_ = train.n_users
        self.n_items_ = train.n_items
        self.user_vocab_ = train.users
        self.item_vocab_ = train.items
        self.seen_ = train.to_csr(values="ones")
        self.seen_.data[:] = 1.0
        self.item_popularity_ = train.item_popularity().astype(np.float32)
        with thread_limit(options.threads):
            self._fit(train, valid, options)
        self.fitted_ = True
        return self

    @abstractmethod
    def _fit(self, train: Dataset, valid: Dataset | None, options: TrainOptions) -> None:
        """Set learned state from `train`."""

    @abstractmethod
    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        """(len(users), n_items) float32 scores for known user indices; higher is better."""

    def _check_fitted(self) -> None:
        if not self.fitted_:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit() or load() first")

    # ---------------------------------------------------------------- scoring
    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Scores of candidate items per user: users (b,), items (b, c) -> (b, c) float32.

        Unknown users (index -1) get popularity scores. Models with a cheaper pairwise scorer override this.
        """
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        if items.ndim == 1:
            items = np.broadcast_to(items, (len(users), len(items)))
        out = np.empty(items.shape, dtype=np.float32)
        for start, stop in self._batches(len(users)):
            full = self._score_batch(users[start:stop])
            out[start:stop] = torch.gather(full, 1, torch.from_numpy(np.array(items[start:stop]))).numpy()
        return out

    def score_all(self, users: np.ndarray) -> torch.Tensor:
        """(len(users), n_items) float32 scores over the whole catalog, nothing excluded (e.g. for AUC).

        Unknown users (-1) get cold-start scores. Like in `recommend`, the result may be modified in place.
        Callers keep batches within SCORE_BUDGET floats.
        """
        self._check_fitted()
        return self._score_batch(np.atleast_1d(np.asarray(users, dtype=np.int64)))

    def _score_batch(self, users: np.ndarray) -> torch.Tensor:
        """Full-catalog scores for a batch that may contain unknown users (-1)."""
        known = (users >= 0) & (users < self.n_users_)
        if known.all():
            return self._score_users(users).float()
        scores = torch.empty((len(users), self.n_items_), dtype=torch.float32)
        if known.any():
            scores[torch.from_numpy(known)] = self._score_users(users[known]).float()
        scores[torch.from_numpy(~known)] = self._cold_start_scores()
        return scores

    def _cold_start_scores(self) -> torch.Tensor:
        """Scores for users the model has never seen: item popularity in training."""
        return torch.from_numpy(np.log1p(self.item_popularity_))

    def _batches(self, n: int, batch_size: int | None = None) -> list[tuple[int, int]]:
        size = batch_size or max(1, SCORE_BUDGET // max(self.n_items_, 1))
        return [(s, min(s + size, n)) for s in range(0, n, size)]

    # -------------------------------------------------------------- recommend
    def recommend(
        self,
        users: np.ndarray | list[int] | int,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        exclude: sp.csr_matrix | None = None,
        candidates: np.ndarray | None = None,
        batch_size: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-`n` items for a batch of users.

        users: (b,) dense user indices; -1 (unknown) takes the cold-start path.
        exclude_seen: drop each known user's training items.
        exclude: optional (b, n_items) sparse matrix of further items to drop per user (e.g. validation items).
        candidates: optional (c,) item indices that are allowed at all (e.g. in stock).
        Returns (items, scores), both (b, n); rows with fewer than n eligible items are padded with -1 / -inf.
        """
        self._check_fitted()
        if n <= 0:
            raise ConfigError(f"n must be > 0, got {n}")
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        if exclude is not None and exclude.shape != (len(users), self.n_items_):
            raise ConfigError(f"exclude must have shape ({len(users)}, {self.n_items_}), got {exclude.shape}")
        allowed = None
        if candidates is not None:
            allowed = torch.zeros(self.n_items_, dtype=torch.bool)
            allowed[torch.from_numpy(np.asarray(candidates, dtype=np.int64))] = True
        out_items = np.full((len(users), n), -1, dtype=np.int64)
        out_scores = np.full((len(users), n), -np.inf, dtype=np.float32)
        for start, stop in self._batches(len(users), batch_size):
            batch = users[start:stop]
            scores = self._score_batch(batch)
            if allowed is not None:
                scores.masked_fill_(~allowed, -torch.inf)
            if exclude_seen:
                self._mask(scores, self._seen_rows(batch))
            if exclude is not None:
                self._mask(scores, exclude[start:stop])
            out_items[start:stop], out_scores[start:stop] = top_n(scores, n)
        return out_items, out_scores

    def _seen_rows(self, users: np.ndarray) -> sp.csr_matrix:
        known = (users >= 0) & (users < self.n_users_)
        rows = self.seen_[np.where(known, users, 0)]
        if not known.all():
            rows = sp.diags(known.astype(np.float32)) @ rows
            rows.eliminate_zeros()
        return rows.tocsr()

    @staticmethod
    def _mask(scores: torch.Tensor, rows: sp.csr_matrix) -> None:
        if rows.nnz == 0:
            return
        row_idx = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
        scores[torch.from_numpy(row_idx), torch.from_numpy(rows.indices.astype(np.int64))] = -torch.inf

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted model as safetensors + JSON with checksums (never pickle)."""
        self._check_fitted()
        tensors = {f"model.{k}": _to_numpy(v) for k, v in self._state_tensors().items()}
        tensors.update(
            {
                "base.seen_indptr": self.seen_.indptr.astype(np.int64),
                "base.seen_indices": self.seen_.indices.astype(np.int64),
                "base.item_popularity": self.item_popularity_,
            }
        )
        state = {
            "model": self.name,
            "config": self.config.to_dict(),
            "n_users": self.n_users_,
            "n_items": self.n_items_,
            "user_ids": self.user_vocab_.to_list(),
            "item_ids": self.item_vocab_.to_list(),
            "extra": self._state_json(),
        }
        return write_artifact(path, kind="model", tensors=tensors, state=state)

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """Load a saved model; `Recommender.load` dispatches on the model name stored in the artifact.

        The manifest, checksums (and signature, when keyed), every state field and the finiteness of the
        weights are checked first: anything malformed is one ArtifactError naming the file and field."""
        from shoprec.models.registry import get_model_class

        _, tensors, state = read_artifact(path, kind="model")
        where = Path(path) / STATE
        check_fields(where, state, _STATE_FIELDS)
        try:
            model_cls = get_model_class(state["model"]) if cls is Recommender else cls
        except ConfigError as exc:
            raise ArtifactError(f"{where}: field 'model': {exc}") from None
        if model_cls.name != state["model"]:
            raise ArtifactError(f"{path}: holds a {state['model']!r} model, not {model_cls.name!r}")
        try:
            config = model_cls.config_class.from_dict(state["config"])
        except ConfigError as exc:
            raise ArtifactError(f"{where}: field 'config': {exc}") from None
        for side in ("user", "item"):
            if len(state[f"{side}_ids"]) != state[f"n_{side}s"]:
                raise ArtifactError(
                    f"{where}: field '{side}_ids' has {len(state[f'{side}_ids'])} ids; expected n_{side}s = "
                    f"{state[f'n_{side}s']}"
                )
        model = model_cls(config)
        try:
            model._restore(tensors, state)
        except (KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
            raise ArtifactError(f"{path}: malformed {state['model']!r} model state ({problem})") from None
        model.fitted_ = True
        return model

    def _restore(self, tensors: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        """Set the learned state from a verified artifact's tensors and checked state fields."""
        self.n_users_ = int(state["n_users"])
        self.n_items_ = int(state["n_items"])
        self.user_vocab_ = Vocabulary(np.asarray(state["user_ids"], dtype=str))
        self.item_vocab_ = Vocabulary(np.asarray(state["item_ids"], dtype=str))
        indptr, indices = tensors.pop("base.seen_indptr"), tensors.pop("base.seen_indices")
        self.seen_ = sp.csr_matrix(
            (np.ones(len(indices), np.float32), indices, indptr), shape=(self.n_users_, self.n_items_)
        )
        self.item_popularity_ = tensors.pop("base.item_popularity")
        if self.item_popularity_.shape != (self.n_items_,):
            shape = self.item_popularity_.shape
            raise ValueError(f"base.item_popularity has shape {shape}, expected ({self.n_items_},)")
        own = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
        self._load_state(own, state.get("extra", {}))

    def _state_tensors(self) -> dict[str, np.ndarray | torch.Tensor]:
        """Learned arrays to save; override in every model with learned state."""
        return {}

    def _state_json(self) -> dict[str, Any]:
        """Small JSON-able learned state to save (not arrays)."""
        return {}

    def _load_state(self, tensors: dict[str, np.ndarray], extra: dict[str, Any]) -> None:
        """Restore what `_state_tensors` / `_state_json` saved."""


class VectorRecommender(Recommender):
    """A retrieval model whose score is the dot product of a user vector and an item vector.

    Serving builds an ANN index over `item_vectors()` and refreshes `user_vectors` from new events.
    """

    @abstractmethod
    def user_vectors(self, users: np.ndarray | None = None) -> np.ndarray:
        """(len(users), d) float32 user vectors (all users when None)."""

    @abstractmethod
    def item_vectors(self, items: np.ndarray | None = None) -> np.ndarray:
        """(len(items), d) float32 item vectors (all items when None)."""

    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.user_vectors(users)) @ self._item_matrix().T

    def _item_matrix(self) -> torch.Tensor:
        return torch.from_numpy(self.item_vectors())


def top_n(scores: torch.Tensor, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-`n` of each row of (b, n_items) scores, where -inf marks excluded items.

    Returns (items int64, scores float32), both (b, n); rows with fewer than n finite scores are padded
    with -1 / -inf. Shared by `recommend` and the models' history-based (serving) paths.
    """
    k = min(n, scores.shape[1])
    top_scores, top_items = torch.topk(scores.float(), k, dim=1)
    valid = torch.isfinite(top_scores)
    items = np.full((scores.shape[0], n), -1, dtype=np.int64)
    out = np.full((scores.shape[0], n), -np.inf, dtype=np.float32)
    items[:, :k] = torch.where(valid, top_items, -1).numpy()
    out[:, :k] = torch.where(valid, top_scores, -torch.inf).numpy()
    return items, out


def _to_numpy(value: np.ndarray | torch.Tensor) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
