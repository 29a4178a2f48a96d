"""Two-tower deep collaborative filtering (Covington, Adams & Sargin 2016; Yi et al. 2019).

A user tower and an item tower, each an MLP over field embeddings (`models.fields`), scored by cosine
similarity / temperature or by a dot product (sigmoid under BCE):

    user tower   user id, user features, and the mean embedding of the user's last `history_len` items
    item tower   item id, item features (categorical, multi-valued, numeric) and, when the data set has
                 them, precomputed text vectors (`Dataset.metadata[TEXT_VECTORS]`, projected linearly)

Losses: `in_batch` softmax, the other rows' items being the negatives, with the log-Q correction for how
often popular items appear there (Yi et al. 2019); `softmax` / `bce` over uniformly sampled negatives;
`mse` on explicit ratings (score + mean rating predicts the rating). Each training row's history holds
only the items before it (by time; without timestamps in a seeded random order), never its target.

The history is an input, so a new event changes a user's vector with one forward pass and no retraining
(`encode_history`, shaped like iALS's fold-in); `id_dropout` trains the item tower to embed an item from
its attributes alone (`embed_items`), the cold-start path for new catalog items.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from shoprec.config import ModelConfig, TrainOptions
from shoprec.data.dataset import Dataset
from shoprec.data.features import FeatureTable
from shoprec.exceptions import ConfigError, DataError
from shoprec.models.base import VectorRecommender, top_n
from shoprec.models.fields import TEXT_VECTORS, Field, FieldEmbedding, FieldSchema, FieldStore, FieldValues, mlp
from shoprec.models.registry import register
from shoprec.training import (
    OPTIMIZERS,
    Trainer,
    TrainerConfig,
    TrainTask,
    candidate_epochs,
    candidate_loss,
    check_choices,
    in_batch_softmax_loss,
    l2_penalty,
    mse_loss,
    ranking_validator,
    rating_validator,
)
from shoprec.training.batching import Batch
from shoprec.training.candidates import rating_epochs

LOSSES = ("in_batch", "softmax", "bce", "mse")
SIMILARITIES = ("cosine", "dot")
#: Rows encoded per tower call at inference.
_ROWS_PER_CALL = 1 << 14


@dataclass
class TwoTowerConfig(ModelConfig):
    """embedding_size: the output vectors; field_size: each input field's embedding; layers: hidden widths
    of each tower. features: use user/item features and text vectors beside the ids. plateau_decay:
    multiply the learning rate by this after a validated epoch without improvement."""

    embedding_size: int = 64
    field_size: int = 32
    layers: tuple[int, ...] = (128,)
    dropout: float = 0.0
    history_len: int = 20
    similarity: str = "cosine"
    temperature: float = 0.05
    loss: str = "in_batch"
    negatives: int = 32
    id_dropout: float = 0.1
    features: bool = True
    epochs: int = 20
    learning_rate: float = 0.001
    reg: float = 0.0
    batch_size: int = 512
    optimizer: str = "adam"
    sparse: bool = False
    patience: int | None = 3
    plateau_decay: float = 1.0

    def validate(self) -> None:
        super().validate()
        check_choices(self, loss=LOSSES, similarity=SIMILARITIES, optimizer=OPTIMIZERS)
        checks = {
            "temperature": (self.temperature > 0, "> 0"),
            "field_size": (self.field_size > 0, "> 0"),
            "history_len": (self.history_len >= 0, ">= 0"),
            "layers": (all(w > 0 for w in self.layers), "positive widths"),
            "negatives": (self.negatives >= 1 or self.loss in ("in_batch", "mse"), ">= 1 for sampled losses"),
            "dropout": (0.0 <= self.dropout < 1.0 and 0.0 <= self.id_dropout < 1.0, "in [0, 1) (and id_dropout)"),
        }
        for name, (ok, expected) in checks.items():
            if not ok:
                raise ConfigError(f"TwoTowerConfig.{name} must be {expected}, got {getattr(self, name)!r}")


def windows(sequence: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor, length: int) -> torch.Tensor:
    """(b, length) item codes of sequence[start:end] for each row, the last `length` of them, right-aligned
    and left-padded with 0. `sequence` holds item index + 1 per event, sorted by user then time."""
    index = ends[:, None] - length + torch.arange(length, device=ends.device)
    return torch.where(index >= starts[:, None], sequence[index.clamp(min=0)], 0)


class Tower(nn.Module):
    """Field groups -> MLP over their concatenated embeddings -> (vectors (..., d), L2 penalty)."""

    def __init__(self, schemas: list[FieldSchema], cfg: TwoTowerConfig) -> None:
        super().__init__()
        self.embeddings = nn.ModuleList(
            FieldEmbedding(s, cfg.field_size, id_dropout=cfg.id_dropout, sparse=cfg.sparse) for s in schemas
        )
        width = sum(s.n_fields for s in schemas) * cfg.field_size
        self.mlp = mlp([width, *cfg.layers, cfg.embedding_size], cfg.dropout)

    def forward(self, *groups: FieldValues) -> tuple[torch.Tensor, torch.Tensor]:
        embedded = [embed(values) for embed, values in zip(self.embeddings, groups, strict=True)]
        return self.mlp(torch.cat([e.flatten(-2) for e in embedded], dim=-1)), l2_penalty(*embedded)


class TwoTowerModule(nn.Module):
    """Both towers with each side's encoded rows; forward serves training (see `TwoTower._objective`).

    Persistent state: the towers, the encoded user and item rows and every user's history window.
    `sequence` (training events' item codes) and `log_q` (log share of each item among positives) are
    training-only buffers, left out of the saved state.
    """

    def __init__(
        self,
        schemas: list[FieldSchema],
        cfg: TwoTowerConfig,
        stores: tuple[FieldStore, FieldStore],
        user_history: torch.Tensor,
        sequence: torch.Tensor | None = None,
        log_q: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.length = cfg.history_len
        self.normalize = cfg.similarity == "cosine"
        self.user_tower = Tower(schemas[:1] + (schemas[2:] if self.length else []), cfg)
        self.item_tower = Tower(schemas[1:2], cfg)
        self.users, self.items = stores
        self.register_buffer("user_history", user_history)
        self.register_buffer("sequence", torch.zeros(0, dtype=torch.long) if sequence is None else sequence, False)
        self.register_buffer("log_q", torch.zeros(0) if log_q is None else log_q, persistent=False)

    def encode_users(self, values: FieldValues, history: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoded user rows (b) and history windows (b, L) -> (vectors (b, d), penalty)."""
        groups = [values, FieldValues.partial(bags=history[:, None, :])] if self.length else [values]
        return self._finish(*self.user_tower(*groups))

    def encode_items(self, values: FieldValues) -> tuple[torch.Tensor, torch.Tensor]:
        return self._finish(*self.item_tower(values))

    def _finish(self, vectors: torch.Tensor, penalty: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (functional.normalize(vectors, dim=-1) if self.normalize else vectors), penalty

    def forward(
        self, users: torch.Tensor, items: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """users (b,), items (b, c), each row's window bounds -> (u (b, d), i (b, c, d), log_q (b,), penalty)."""
        u, user_penalty = self.encode_users(self.users.take(users), windows(self.sequence, starts, ends, self.length))
        i, item_penalty = self.encode_items(self.items.take(items))
        return u, i, self.log_q[items[:, 0]], user_penalty + item_penalty


def _sequences(train: Dataset, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(sequence, user_starts, user_ends, event_positions): events sorted by user, then time (a seeded random
    order without timestamps); sequence[p] = item + 1 of the p-th event; event r sits at event_positions[r]."""
    inter = train.interactions
    key = inter.timestamps if inter.timestamps is not None else np.random.default_rng(seed).random(len(inter))
    order = np.lexsort((np.arange(len(inter)), key, inter.users))
    positions = np.empty(len(inter), dtype=np.int64)
    positions[order] = np.arange(len(inter))
    sorted_users = inter.users[order]
    starts = np.searchsorted(sorted_users, np.arange(train.n_users), side="left")
    ends = np.searchsorted(sorted_users, np.arange(train.n_users), side="right")
    return inter.items[order] + 1, starts, ends, positions


@register("two_tower")
class TwoTower(VectorRecommender):
    """Two-tower retrieval model; `user_vectors · item_vectors` is exactly `score`."""

    config_class = TwoTowerConfig
    config: TwoTowerConfig

    def _fit(self, train: Dataset, valid: Dataset | None, options: TrainOptions) -> None:
        cfg = self.config
        if cfg.loss == "mse" and not train.has_ratings:
            raise ConfigError(f"TwoTowerConfig.loss='mse' needs explicit ratings, but {train.name!r} has none")
        torch.manual_seed(cfg.seed)
        self.offset_ = float(train.interactions.ratings.mean()) if cfg.loss == "mse" else 0.0  # type: ignore[union-attr]
        text = train.metadata.get(TEXT_VECTORS) if cfg.features else None
        user_table, item_table = (train.user_features, train.item_features) if cfg.features else (None, None)
        width = 0 if text is None else np.shape(text)[1]
        self.schemas_ = [
            FieldSchema.infer(user_table, n_ids=train.n_users),
            FieldSchema.infer(item_table, n_ids=train.n_items, vector_width=width),
            FieldSchema((Field("history", "multi", train.n_items + 1),)),
        ]
        stores = (
            FieldStore(self.schemas_[0].encode(user_table, train.n_users)),
            FieldStore(self.schemas_[1].encode(item_table, train.n_items, vectors=text)),
        )
        sequence, user_starts, user_ends, positions = _sequences(train, cfg.seed)
        sequence, user_starts, user_ends = (torch.from_numpy(a) for a in (sequence, user_starts, user_ends))
        counts = np.bincount(train.interactions.items, minlength=train.n_items).astype(np.float64)
        log_q = torch.from_numpy(np.log(np.maximum(counts, 0.5) / max(len(train), 1)).astype(np.float32))
        history = windows(sequence, user_starts, user_ends, cfg.history_len)
        self.module_ = TwoTowerModule(self.schemas_, cfg, stores, history, sequence, log_q)
        event_starts = user_starts[torch.from_numpy(train.interactions.users)]
        epochs = self._epochs(train, {"starts": event_starts, "ends": torch.from_numpy(positions)})
        if cfg.loss == "mse":
            validate, monitor, mode = (None if valid is None else rating_validator(self, valid)), "rmse", "min"
        else:
            validate, monitor, mode = (None if valid is None else ranking_validator(self, valid)), "ndcg@10", "max"
        per_row = 1 + cfg.negatives if cfg.loss in ("softmax", "bce") else 1
        task = TrainTask(self.module_, epochs, self._objective(), validate, per_row, monitor, mode)
        self.history_ = Trainer(TrainerConfig.from_model(cfg), options).fit(task).history
        self.module_.cpu().eval()

    def _epochs(self, train: Dataset, bounds: Batch) -> Callable[[int, int], Batch]:
        """epoch_data: users, items (n, 1 [+ negatives]) [, ratings], and each event's history bounds."""
        cfg = self.config
        if cfg.loss == "mse":
            rows = rating_epochs(train, self.offset_)
        elif cfg.loss == "in_batch":
            inter = train.interactions
            fixed = {"users": torch.from_numpy(inter.users), "items": torch.from_numpy(inter.items)[:, None]}

            def rows(epoch: int, seed: int) -> Batch:  # the same positives every epoch
                return fixed

        else:
            rows = candidate_epochs(train, cfg.negatives)
        return lambda epoch, seed: {**rows(epoch, seed), **bounds}

    def _objective(self) -> Callable[[nn.Module, Batch], torch.Tensor]:
        """loss(module, batch): the configured loss over the towers' vectors plus `reg` × penalty."""
        cfg = self.config
        tau = cfg.temperature if cfg.similarity == "cosine" else 1.0
        sampled = None if cfg.loss in ("in_batch", "mse") else candidate_loss(cfg.loss)

        def objective(module: nn.Module, batch: Batch) -> torch.Tensor:
            u, i, log_q, penalty = module(batch["users"], batch["items"], batch["starts"], batch["ends"])
            if cfg.loss == "in_batch":
                return in_batch_softmax_loss(u, i[:, 0], log_q, temperature=tau) + cfg.reg * penalty
            scores = torch.bmm(i, u.unsqueeze(2)).squeeze(2) / tau
            main = mse_loss(scores[:, 0], batch["ratings"]) if sampled is None else sampled(scores)
            return main + cfg.reg * penalty

        return objective

    # ---------------------------------------------------------------- vectors
    @torch.no_grad()
    def _user_out(self, values: FieldValues, history: torch.Tensor) -> np.ndarray:
        """Final user vectors: the tower's output scaled by 1 / temperature (cosine), [.., 1] under MSE."""
        device = next(self.module_.parameters()).device
        moved = FieldValues(*(t.to(device) for t in values))
        vectors, _ = self.module_.encode_users(moved, history.to(device))
        if self.config.similarity == "cosine":
            vectors = vectors / self.config.temperature
        if self.config.loss == "mse":
            vectors = torch.cat([vectors, torch.ones(len(vectors), 1, device=device)], dim=1)
        return vectors.float().cpu().numpy()

    @torch.no_grad()
    def _item_out(self, values: FieldValues) -> np.ndarray:
        """Final item vectors: the tower's output, [.., mean rating] under MSE."""
        device = next(self.module_.parameters()).device
        vectors, _ = self.module_.encode_items(FieldValues(*(t.to(device) for t in values)))
        if self.config.loss == "mse":
            vectors = torch.cat([vectors, torch.full((len(vectors), 1), self.offset_, device=device)], dim=1)
        return vectors.float().cpu().numpy()

    def user_vectors(self, users: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        index = torch.arange(self.n_users_) if users is None else torch.as_tensor(np.asarray(users, dtype=np.int64))
        parts = [
            self._user_out(self.module_.users.take(chunk), self.module_.user_history[chunk])
            for chunk in index.split(_ROWS_PER_CALL)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self._width()), np.float32)

    def item_vectors(self, items: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        index = torch.arange(self.n_items_) if items is None else torch.as_tensor(np.asarray(items, dtype=np.int64))
        parts = [self._item_out(self.module_.items.take(chunk)) for chunk in index.split(_ROWS_PER_CALL)]
        return np.concatenate(parts) if parts else np.zeros((0, self._width()), np.float32)

    def _width(self) -> int:
        return self.config.embedding_size + int(self.config.loss == "mse")

    def encode_history(self, items: np.ndarray, user: int = -1) -> np.ndarray:
        """(d,) vector of a user from their items so far (oldest first; the last `history_len` count).

        user: a known user's index keeps their id and features; -1 (default) is a new user known only by
        these events. This is the serving path after a new event: one user-tower pass, no retraining.
        """
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64).reshape(-1)
        if len(items) and (items.min() < 0 or items.max() >= self.n_items_):
            raise DataError(f"history item index out of range 0..{self.n_items_ - 1}: {items.tolist()[:10]}")
        length = self.config.history_len
        window = np.zeros((1, length), dtype=np.int64)
        recent = items[len(items) - min(length, len(items)) :] + 1
        window[0, length - len(recent) :] = recent
        known = 0 <= user < self.n_users_
        values = (
            self.module_.users.take(torch.tensor([user]))
            if known
            else self.schemas_[0].encode(None, 1, ids=np.array([-1]))
        )
        return self._user_out(values, torch.from_numpy(window))[0]

    def recommend_from_history(
        self, items: np.ndarray, n: int = 10, *, user: int = -1, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n (items, scores), each (n,), for a user known by these events: the serving path after an event."""
        if n <= 0:
            raise ConfigError(f"n must be > 0, got {n}")
        scores = torch.from_numpy(self.item_vectors() @ self.encode_history(items, user))[None, :]
        if exclude_seen:
            scores[0, torch.as_tensor(np.asarray(items, dtype=np.int64))] = -torch.inf
        top_items, top_scores = top_n(scores, n)
        return top_items[0], top_scores[0]

    def embed_items(self, features: FeatureTable, text_vectors: np.ndarray | None = None) -> np.ndarray:
        """(n, d) vectors of items never seen in training, from their attributes alone (id unknown).

        Categories are matched to the training ones by name; absent columns count as missing values."""
        self._check_fitted()
        values = self.schemas_[1].encode(features, features.n, ids=np.full(features.n, -1), vectors=text_vectors)
        return self._item_out(values)

    # ------------------------------------------------------------ persistence
    def _state_tensors(self) -> dict[str, torch.Tensor]:
        return dict(self.module_.state_dict())

    def _state_json(self) -> dict:
        return {"schemas": [s.to_json() for s in self.schemas_], "offset": self.offset_}

    def _load_state(self, tensors: dict[str, np.ndarray], extra: dict) -> None:
        self.schemas_ = [FieldSchema.from_json(s) for s in extra["schemas"]]
        self.offset_ = float(extra["offset"])
        stores = FieldStore.from_state(tensors, "users"), FieldStore.from_state(tensors, "items")
        history = torch.from_numpy(tensors["user_history"])
        self.module_ = TwoTowerModule(self.schemas_, self.config, stores, history)
        self.module_.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
        self.module_.eval()
