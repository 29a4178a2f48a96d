"""SASRec: self-attentive sequential recommendation (Kang & McAuley, ICDM 2018).

A user is the sequence of items they interacted with. Causal self-attention blocks read it left to
right; the hidden state at each position predicts the next item by a dot product with the item
embedding table. So the last hidden state is the user vector and the item table the item vectors: a
`VectorRecommender` whose user vector is recomputed from any history (`encode_history`), e.g. after a
new event, without retraining.

Training uses every position of every user's training sequence (targets = next items) with
    ce   full-catalog cross-entropy (SASRec-CE, Klenitskiy & Vasilev 2023; much better, the default)
    bce  binary cross-entropy against `negatives` sampled items per position (the original paper)
Prediction reads each user's training sequence; `use_history(train, valid)` makes it read train and
validation events instead, which is how the leave-one-out protocol predicts the test item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from shoprec.config import ModelConfig, TrainOptions
from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.sampling import NegativeSampler
from shoprec.exceptions import ConfigError, DataError
from shoprec.models.base import VectorRecommender, top_n
from shoprec.models.registry import register
from shoprec.models.sasrec_net import SASRecNet
from shoprec.models.sequences import ORDERS, Sequences
from shoprec.training import Batch, Trainer, TrainerConfig, TrainTask, bce_loss, full_softmax_loss, ranking_validator

LOSSES = ("ce", "bce")

#: Padded positions (rows x width) encoded at once when computing user vectors (bounds inference memory).
ENCODE_TOKENS = 1 << 16


@dataclass
class SASRecConfig(ModelConfig):
    """Hyperparameters (defaults: the paper's, with d = 64 and CE loss). `reg` is Adam weight decay; `negatives` per
    position for `loss="bce"`; `order`: sequences by "time", the rows' "given" order, or "auto"."""

    embedding_size: int = 64
    max_len: int = 50
    num_blocks: int = 2
    num_heads: int = 1
    dropout: float = 0.2
    loss: str = "ce"
    negatives: int = 1
    epochs: int = 200
    learning_rate: float = 0.001
    reg: float = 0.0
    batch_size: int = 128
    patience: int | None = 20
    order: str = "auto"

    def validate(self) -> None:
        super().validate()
        for name in ("max_len", "num_blocks", "num_heads", "negatives"):
            if getattr(self, name) < 1:
                raise ConfigError(f"SASRecConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.embedding_size % self.num_heads:
            raise ConfigError(
                f"SASRecConfig.embedding_size ({self.embedding_size}) must be divisible by num_heads ({self.num_heads})"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"SASRecConfig.dropout must be in [0, 1), got {self.dropout}")
        if self.loss not in LOSSES:
            raise ConfigError(f"SASRecConfig.loss must be one of {list(LOSSES)}, got {self.loss!r}")
        if self.order not in ORDERS:
            raise ConfigError(f"SASRecConfig.order must be one of {list(ORDERS)}, got {self.order!r}")


def _objective(loss: str) -> Callable[[nn.Module, Batch], torch.Tensor]:
    """loss(module, batch): CE of each position's next item over the catalog, or BCE against its negatives."""

    def cross_entropy(module: nn.Module, batch: Batch) -> torch.Tensor:
        return full_softmax_loss(module(batch["inputs"]), batch["targets"][batch["inputs"] > 0] - 1)

    def binary(module: nn.Module, batch: Batch) -> torch.Tensor:
        candidates = torch.cat([batch["targets"].unsqueeze(2), batch["negatives"]], dim=2)
        return bce_loss(module(batch["inputs"], candidates))

    return cross_entropy if loss == "ce" else binary


@register("sasrec")
class SASRec(VectorRecommender):
    """Sequential recommender: the user vector is the last hidden state over the user's item sequence.

    Users without any history get popularity scores (like unknown users) and a zero user vector.
    """

    config_class = SASRecConfig
    config: SASRecConfig

    def _fit(self, train: Dataset, valid: Dataset | None, options: TrainOptions) -> None:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        self.sequences_ = Sequences.from_dataset(train, cfg.order)
        self.net_ = self._net()
        validate = None if valid is None else ranking_validator(self, valid)
        task = TrainTask(self.net_, self._epoch_data(train), _objective(cfg.loss), validate)
        trainer = Trainer(TrainerConfig.from_model(cfg, weight_decay=cfg.reg), options)
        self.history_ = trainer.fit(task).history
        self.net_.cpu()

    def _net(self) -> SASRecNet:
        cfg = self.config
        return SASRecNet(self.n_items_, cfg.embedding_size, cfg.max_len, cfg.num_blocks, cfg.num_heads, cfg.dropout)

    def _epoch_data(self, train: Dataset) -> Callable[[int, int], Batch]:
        """epoch_data: {"inputs", "targets"} (w, max_len) windows, plus fresh "negatives" (w, max_len, k) for bce."""
        cfg = self.config
        users, inputs, targets = self.sequences_.windows(cfg.max_len)
        fixed = {"inputs": torch.from_numpy(inputs), "targets": torch.from_numpy(targets)}
        if cfg.loss == "ce":
            return lambda epoch, seed: fixed
        seen = train.to_csr(values="ones")

        def epoch_data(epoch: int, seed: int) -> Batch:
            negatives = NegativeSampler(seen, seed=seed).sample(users, cfg.max_len * cfg.negatives)
            return {**fixed, "negatives": torch.from_numpy(negatives.reshape(len(users), cfg.max_len, -1) + 1)}

        return epoch_data

    # ------------------------------------------------------------ history
    def use_history(self, *parts: Dataset) -> SASRec:
        """Predict from the events of `parts` together (e.g. train and valid) instead of the training sequences.

        Nothing is retrained and `recommend` still excludes only training items (`exclude_seen`); the
        evaluator excludes validation items on its own when ranking the test item.
        """
        self._check_fitted()
        if not parts:
            raise ConfigError("use_history needs at least one Dataset")
        for part in parts:
            if (part.n_users, part.n_items) != (self.n_users_, self.n_items_):
                raise DataError(
                    f"{part.name}: has {part.n_users} users and {part.n_items} items, "
                    f"expected the model's {self.n_users_} and {self.n_items_}"
                )
        merged = parts[0].with_interactions(Interactions.concat([p.interactions for p in parts]))
        self.sequences_ = Sequences.from_dataset(merged, self.config.order)
        return self

    def encode_history(self, items: np.ndarray) -> np.ndarray:
        """(d,) user vector of any item sequence (oldest first), e.g. a user's history after a new event."""
        items = self._check_items(items)
        if len(items) == 0:
            return np.zeros(self.config.embedding_size, dtype=np.float32)
        with self._inference():
            return self._last_states(items[-self.config.max_len :][None, :] + 1)[0]

    def recommend_from_history(
        self, items: np.ndarray, n: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n (items, scores), each (n,), for a user known only by an item sequence (the serving path)."""
        if n <= 0:
            raise ConfigError(f"n must be > 0, got {n}")
        items = self._check_items(items)
        if len(items):
            scores = self._item_matrix() @ torch.from_numpy(self.encode_history(items))
        else:
            scores = self._cold_start_scores().clone()
        if exclude_seen:
            scores[torch.from_numpy(items)] = -torch.inf
        top_items, top_scores = top_n(scores[None, :], n)
        return top_items[0], top_scores[0]

    def _check_items(self, items: np.ndarray) -> np.ndarray:
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64).reshape(-1)
        if len(items) and (items.min() < 0 or items.max() >= self.n_items_):
            raise DataError(f"history item index out of range 0..{self.n_items_ - 1}: {items.tolist()[:10]}")
        return items

    # ------------------------------------------------------------ vectors
    def user_vectors(self, users: np.ndarray | None = None) -> np.ndarray:
        """(b, d) last hidden state over each user's history (zero for users without history).

        Users are encoded sorted by length, in chunks of at most ENCODE_TOKENS padded positions, each
        chunk only as wide as its longest history: most shop histories are far shorter than max_len.
        """
        self._check_fitted()
        users = np.arange(self.n_users_) if users is None else np.asarray(users, dtype=np.int64)
        lengths = np.minimum(self.sequences_.lengths()[users], self.config.max_len)
        order = np.argsort(lengths, kind="stable")
        widths = np.maximum(lengths[order], 1)
        out = np.zeros((len(users), self.config.embedding_size), dtype=np.float32)
        with self._inference():
            start = 0
            while start < len(order):
                cost = np.arange(1, len(order) - start + 1) * widths[start:]  # rows x width of [start, stop)
                stop = start + max(1, int(np.searchsorted(cost, ENCODE_TOKENS, side="right")))
                rows = order[start:stop]
                out[rows] = self._last_states(self.sequences_.tails(users[rows], int(widths[stop - 1])))
                start = stop
        out[lengths == 0] = 0.0
        return out

    def item_vectors(self, items: np.ndarray | None = None) -> np.ndarray:
        """(b, d) rows of the item embedding table (the output layer)."""
        self._check_fitted()
        table = self.net_.items.weight[1:]
        rows = table if items is None else table[torch.as_tensor(np.asarray(items, dtype=np.int64)).to(table.device)]
        return rows.detach().float().cpu().numpy()

    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        scores = super()._score_users(users)
        empty = self.sequences_.lengths()[users] == 0
        if empty.any():
            scores[torch.from_numpy(empty)] = self._cold_start_scores()
        return scores

    @contextmanager
    def _inference(self) -> Iterator[None]:
        """Eval mode (no dropout) and no gradients inside; the net's previous mode is restored after."""
        training = self.net_.training
        self.net_.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.net_.train(training)

    def _last_states(self, padded: np.ndarray) -> np.ndarray:
        """(b, w) right-aligned item + 1 arrays -> (b, d) float32 hidden states at the last position."""
        inputs = torch.from_numpy(padded).to(self.net_.items.weight.device)
        return self.net_.encode(inputs)[:, -1].float().cpu().numpy()

    # -------------------------------------------------------- persistence
    def _state_tensors(self) -> dict[str, np.ndarray | torch.Tensor]:
        tensors: dict[str, np.ndarray | torch.Tensor] = {f"net.{k}": v for k, v in self.net_.state_dict().items()}
        tensors.update({"sequences.indptr": self.sequences_.indptr, "sequences.items": self.sequences_.items})
        return tensors

    def _load_state(self, tensors: dict[str, np.ndarray], extra: dict) -> None:
        self.net_ = self._net()
        net = {k.removeprefix("net."): torch.from_numpy(v) for k, v in tensors.items() if k.startswith("net.")}
        self.net_.load_state_dict(net)
        self.net_.eval()
        self.sequences_ = Sequences(tensors["sequences.indptr"], tensors["sequences.items"])
