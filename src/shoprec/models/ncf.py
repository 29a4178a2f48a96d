"""Neural collaborative filtering (He, Liao, Zhang, Nie, Hu & Chua, WWW 2017): GMF, MLP and NeuMF.

    GMF    ŷ = σ(hᵀ (p_u ⊙ q_i))                                 a learned weighting of the dot product
    MLP    ŷ = σ(hᵀ relu-tower([p'_u, q'_i]))                     tower sizes `layers`, layers[0] = 2 × emb
    NeuMF  ŷ = σ(hᵀ [p_u ⊙ q_i, relu-tower([p'_u, q'_i])])        both, with separate embeddings

trained with BCE on sampled negatives (the paper: 4 per positive, Adam, embeddings ~ N(0, 0.01)).
NeuMF's pretraining (section 3.4.1) trains GMF and MLP first, copies their weights and mixes their output
layers as h = [α h_gmf, (1 - α) h_mlp]; the paper then fine-tunes with plain SGD (`optimizer="sgd"`).
Scores are network outputs, so `score` runs the network on the candidate pairs only and full-catalog
ranking runs it over all items in bounded chunks.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from shoprec.config import ModelConfig, TrainOptions
from shoprec.data.dataset import Dataset
from shoprec.exceptions import ConfigError
from shoprec.models.base import Recommender
from shoprec.models.registry import register
from shoprec.training import CANDIDATE_LOSSES, OPTIMIZERS, Trainer, TrainerConfig, candidate_task, check_choices

#: Activations held at once while scoring a chunk of (user, item) pairs, in floats.
_CHUNK_FLOATS = 1 << 23


@dataclass
class GMFConfig(ModelConfig):
    """Shared NCF hyperparameters (paper defaults); `embedding_size` is the GMF factor count."""

    embedding_size: int = 8
    epochs: int = 20
    learning_rate: float = 0.001
    reg: float = 0.0
    batch_size: int = 256
    negatives: int = 4
    loss: str = "bce"
    optimizer: str = "adam"
    momentum: float = 0.0
    sparse: bool = True
    patience: int | None = None

    def validate(self) -> None:
        super().validate()
        check_choices(self, loss=CANDIDATE_LOSSES, optimizer=OPTIMIZERS)
        if self.negatives < 1:
            raise ConfigError(f"{type(self).__name__}.negatives must be >= 1, got {self.negatives}")


@dataclass
class MLPConfig(GMFConfig):
    """`layers`: tower widths; layers[0] is the concatenated input, so each MLP embedding is layers[0] // 2."""

    layers: tuple[int, ...] = (64, 32, 16, 8)

    def validate(self) -> None:
        super().validate()
        if not self.layers or any(w <= 0 for w in self.layers) or self.layers[0] % 2:
            raise ConfigError(
                f"{type(self).__name__}.layers must be positive widths, the first even; got {self.layers}"
            )


@dataclass
class NeuMFConfig(MLPConfig):
    """`pretrain`: train GMF and MLP first (Adam, `pretrain_learning_rate`); `pretrain_dirs`: load saved
    (gmf, mlp) artifacts instead; `alpha` weighs GMF against MLP in the pretrained output layer."""

    alpha: float = 0.5
    pretrain: bool = False
    pretrain_dirs: tuple[str, ...] | None = None
    pretrain_learning_rate: float = 0.001

    def validate(self) -> None:
        super().validate()
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"NeuMFConfig.alpha must be in [0, 1], got {self.alpha}")
        if self.pretrain_dirs is not None and len(self.pretrain_dirs) != 2:
            raise ConfigError(f"NeuMFConfig.pretrain_dirs must be (gmf_dir, mlp_dir), got {self.pretrain_dirs}")
        if self.pretrain and self.pretrain_dirs is not None:
            raise ConfigError("NeuMFConfig: set either pretrain=True or pretrain_dirs, not both")


class NCFModule(nn.Module):
    """Candidate scorer for GMF (`gmf_size`), MLP (`layers`) or NeuMF (both).

    forward: users (b,), items (b, c) -> (logits (b, c), (user rows (b, e), item rows (b, c, e))).
    GMF and MLP embeddings of an entity sit side by side in one table row ([:gmf_size] and [gmf_size:]),
    so a step does one gather and one sparse update per side instead of two. The MLP's first layer acts
    on [p'_u, q'_i]; it is applied as W_u p'_u + W_i q'_i so that the user half is computed once per row
    instead of once per candidate (the same function, c times less work).
    """

    def __init__(
        self, n_users: int, n_items: int, *, gmf_size: int | None, layers: tuple[int, ...] | None, sparse: bool
    ) -> None:
        super().__init__()
        if gmf_size is None and layers is None:
            raise ConfigError("NCFModule needs gmf_size, layers or both")
        self.gmf_size = gmf_size or 0
        self.mlp_size = layers[0] // 2 if layers else 0
        self.users = _embedding(n_users, self.gmf_size + self.mlp_size, sparse)
        self.items = _embedding(n_items, self.gmf_size + self.mlp_size, sparse)
        self.tower = nn.ModuleList(_lecun(nn.Linear(a, b)) for a, b in itertools.pairwise(layers or ()))
        head = self.gmf_size + ((layers[-1] if len(layers) > 1 else layers[0]) if layers else 0)
        self.output = _lecun(nn.Linear(head, 1))
        self.width = max(head, *(layers or (0,)))

    def forward(
        self, users: torch.Tensor, items: torch.Tensor
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        p, q = self.users(users), self.items(items)  # (b, e), (b, c, e)
        if not (self.gmf_size and self.mlp_size):
            h = p.unsqueeze(1) * q if self.gmf_size else self._tower(p, q)
            return self.output(h).squeeze(2), (p, q)
        # split (not slicing) and one linear per half (not a cat): their backward passes allocate no zeros.
        sizes = [self.gmf_size, self.mlp_size]
        (p_gmf, p_mlp), (q_gmf, q_mlp) = p.split(sizes, dim=1), q.split(sizes, dim=2)
        w_gmf, w_mlp = self.output.weight.split([self.gmf_size, self.output.in_features - self.gmf_size], dim=1)
        logits = functional.linear(p_gmf.unsqueeze(1) * q_gmf, w_gmf, self.output.bias)
        logits = logits + functional.linear(self._tower(p_mlp, q_mlp), w_mlp)
        return logits.squeeze(2), (p, q)

    def _tower(self, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """relu-tower([p, q]) for p (b, e), q (b, c, e) -> (b, c, layers[-1])."""
        if not self.tower:
            return torch.cat([p.unsqueeze(1).expand_as(q), q], dim=2)
        first = self.tower[0]
        e = p.shape[1]
        user_part = functional.linear(p, first.weight[:, :e], first.bias)  # (b, h1)
        h = torch.relu(user_part.unsqueeze(1) + functional.linear(q, first.weight[:, e:]))
        for layer in self.tower[1:]:
            h = torch.relu(layer(h))
        return h

    @torch.no_grad()
    def load_pretrained(self, gmf: NCFModule, mlp: NCFModule, alpha: float) -> None:
        """NeuMF init from trained GMF and MLP modules: copy embeddings and tower, mix the output layers."""
        for name, mine, theirs in (
            ("GMF embeddings", self.users.weight[:, : self.gmf_size], gmf.users.weight),
            ("GMF embeddings", self.items.weight[:, : self.gmf_size], gmf.items.weight),
            ("MLP embeddings", self.users.weight[:, self.gmf_size :], mlp.users.weight),
            ("MLP embeddings", self.items.weight[:, self.gmf_size :], mlp.items.weight),
            *((f"tower.{i}", a.weight, b.weight) for i, (a, b) in enumerate(zip(self.tower, mlp.tower, strict=False))),
        ):
            if mine.shape != theirs.shape or len(self.tower) != len(mlp.tower):
                raise ConfigError(f"pretrained {name} have shape {tuple(theirs.shape)}, expected {tuple(mine.shape)}")
            mine.copy_(theirs)
        for a, b in zip(self.tower, mlp.tower, strict=True):
            a.bias.copy_(b.bias)
        self.output.weight.copy_(torch.cat([alpha * gmf.output.weight, (1 - alpha) * mlp.output.weight], dim=1))
        self.output.bias.copy_(alpha * gmf.output.bias + (1 - alpha) * mlp.output.bias)


def _embedding(n: int, dim: int, sparse: bool) -> nn.Embedding:
    """An embedding table initialised N(0, 0.01) as in the paper."""
    table = nn.Embedding(n, dim, sparse=sparse)
    nn.init.normal_(table.weight, std=0.01)
    return table


def _lecun(layer: nn.Linear) -> nn.Linear:
    """LeCun-uniform weights and zero bias (the paper's Keras initialisation)."""
    bound = float(np.sqrt(3.0 / layer.in_features))
    nn.init.uniform_(layer.weight, -bound, bound)
    nn.init.zeros_(layer.bias)
    return layer


class _NCFBase(Recommender):
    """Fitting, pairwise and full-catalog scoring, and persistence shared by the three NCF models."""

    config: GMFConfig
    gmf = True
    mlp = False

    def _module(self) -> NCFModule:
        cfg = self.config
        return NCFModule(
            self.n_users_,
            self.n_items_,
            gmf_size=cfg.embedding_size if self.gmf else None,
            layers=tuple(cfg.layers) if self.mlp else None,  # type: ignore[attr-defined]
            sparse=cfg.sparse,
        )

    def _fit(self, train: Dataset, valid: Dataset | None, options: TrainOptions) -> None:
        torch.manual_seed(self.config.seed)
        self.module_ = self._module()
        self._initialise(train, valid, options)
        self._train(train, valid, options)

    def _initialise(self, train: Dataset, valid: Dataset | None, options: TrainOptions) -> None:
        """Hook for NeuMF's pretraining; plain GMF and MLP start from the module's random init."""

    def _train(self, train: Dataset, valid: Dataset | None, options: TrainOptions) -> None:
        cfg = self.config
        task = candidate_task(self, self.module_, train, valid, loss=cfg.loss, negatives=cfg.negatives, reg=cfg.reg)
        self.history_ = Trainer(TrainerConfig.from_model(cfg), options).fit(task).history
        self.module_.cpu()

    @torch.no_grad()
    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """(b, c) network scores of candidate items per user; unknown users get popularity scores."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        items = np.broadcast_to(np.asarray(items, dtype=np.int64), (len(users), np.shape(items)[-1]))
        out = np.empty(items.shape, dtype=np.float32)
        known = (users >= 0) & (users < self.n_users_)
        out[~known] = self._cold_start_scores().numpy()[items[~known]]
        rows = np.flatnonzero(known)
        step = max(1, _CHUNK_FLOATS // (items.shape[1] * self.module_.width))
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            out[chunk] = self._forward(users[chunk], np.ascontiguousarray(items[chunk]))
        return out

    @torch.no_grad()
    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        """Full-catalog scores, chunked so activations stay within `_CHUNK_FLOATS`."""
        all_items = np.broadcast_to(np.arange(self.n_items_), (len(users), self.n_items_))
        return torch.from_numpy(self.score(users, all_items))

    def _forward(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        device = next(self.module_.parameters()).device
        scores, _ = self.module_(torch.from_numpy(users).to(device), torch.from_numpy(items).to(device))
        return scores.float().cpu().numpy()

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        return dict(self.module_.state_dict())

    def _load_state(self, tensors: dict[str, np.ndarray], extra: dict) -> None:
        self.module_ = self._module()
        self.module_.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
        self.module_.eval()


@register("gmf")
class GMF(_NCFBase):
    """Generalised matrix factorisation: a weighted dot product of user and item embeddings."""

    config_class = GMFConfig


@register("mlp")
class MLP(_NCFBase):
    """A ReLU tower over concatenated user and item embeddings."""

    config_class = MLPConfig
    config: MLPConfig
    gmf = False
    mlp = True


@register("neumf")
class NeuMF(_NCFBase):
    """GMF and MLP side by side under one output layer, optionally initialised from trained GMF and MLP."""

    config_class = NeuMFConfig
    config: NeuMFConfig
    mlp = True

    def _initialise(self, train: Dataset, valid: Dataset | None, options: TrainOptions) -> None:
        cfg = self.config
        if cfg.pretrain_dirs is not None:
            gmf, mlp = GMF.load(cfg.pretrain_dirs[0]), MLP.load(cfg.pretrain_dirs[1])  # ArtifactError if not
        elif cfg.pretrain:
            shared = {k: v for k, v in cfg.to_dict().items() if k in MLPConfig.__dataclass_fields__}
            shared.update(optimizer="adam", learning_rate=cfg.pretrain_learning_rate)
            quiet = replace(options, log_path=None, checkpoint_dir=None, resume=False)
            gmf = GMF(GMFConfig.from_dict({k: v for k, v in shared.items() if k != "layers"}))
            mlp = MLP(MLPConfig.from_dict(shared))
            gmf.fit(train, valid=valid, options=quiet)
            mlp.fit(train, valid=valid, options=quiet)
        else:
            return
        self.module_.load_pretrained(gmf.module_, mlp.module_, cfg.alpha)
        self.pretrain_history_ = {"gmf": getattr(gmf, "history_", []), "mlp": getattr(mlp, "history_", [])}
