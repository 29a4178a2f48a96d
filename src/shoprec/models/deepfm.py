"""DeepFM (Guo, Tang, Ye, Li & He, IJCAI 2017): a factorisation machine and a DNN over shared field embeddings.

    logit = b + Σ_f w_f + ½ (‖Σ_f v_f‖² − Σ_f ‖v_f‖²) + DNN([v_1; …; v_F])

Every field f (user id, item id, the user and item features of `models.fields`, context, a retrieval
score) has one (k+1)-vector: k factors v_f and its first-order weight w_f. The FM term is the O(k·F) form
of Σ_{f<g} ⟨v_f, v_g⟩. With `fm=False, dnn=False` the model is logistic regression and with `dnn=False` a
plain FM, so those baselines run this very code.

Fields come in groups (user side, item side, per pair) whose leading dimensions broadcast: the user part
(b, 1, ·) is computed once per user and the item part (1, n_items, ·) once per catalog; only the sums, the
FM square and the DNN layers after the first (which is split by group) are per pair.

One network, three ways to train it:
    DeepFM.fit                      a Recommender on interactions: sampled negatives as label 0 (BCE), or MSE
    DeepFM.fit_ranker / rerank      the ranking stage over a retrieval model's candidates, their score a field
    DeepFMClassifier.fit / predict  explicitly labelled CTR rows (libFM files, CTR logs, ratings as clicks)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from shoprec.artifact_schema import LIST, OBJECT, check_fields, json_field
from shoprec.artifacts import STATE, read_artifact, write_artifact
from shoprec.config import ModelConfig, TrainOptions
from shoprec.data.dataset import Dataset
from shoprec.evaluation.labelled import log_loss, roc_auc
from shoprec.exceptions import ArtifactError, ConfigError, DataError, NotFittedError
from shoprec.models.base import Recommender
from shoprec.models.fields import Field, FieldEmbedding, FieldSchema, FieldStore, FieldValues, hidden_activation, mlp
from shoprec.models.registry import register
from shoprec.training import (
    CANDIDATE_LOSSES,
    OPTIMIZERS,
    Trainer,
    TrainerConfig,
    TrainTask,
    candidate_task,
    check_choices,
    l2_penalty,
)
from shoprec.training.batching import Batch

if TYPE_CHECKING:  # the CTR loaders need polars; the model itself does not
    from shoprec.data.sources.ctr import LabelledRows

LOSSES = (*CANDIDATE_LOSSES, "mse")
#: Activations held at once while scoring (pairs x widest layer), in floats.
_CHUNK_FLOATS = 1 << 23


@dataclass
class DeepFMConfig(ModelConfig):
    """The architecture defaults are BARS' DeepFM on Frappe_x1 (k = 10, DNN 400-400-400, dropout 0.2, batch
    4096, Adam 1e-3); its regularisation is opt-in: embedding_reg=0.05, batch_norm=True, plateau_decay=0.1.

    fm / dnn: keep the second-order / deep part (both off: logistic regression). features: use the data
    set's user and item features beside the ids. reg: L2 on the embedding rows a batch uses (lazy, per
    example); embedding_reg: L2 of the whole embedding tables every step, (embedding_reg / 2) · ‖W‖² as in
    FuxiCTR/BARS (needs dense tables, `sparse=False`). batch_norm: before each hidden ReLU of the DNN.
    plateau_decay: multiply the learning rate by this after a validated epoch without improvement.
    loss: bce, bpr or softmax over `negatives` sampled items, or mse on explicit ratings (Recommender
    fitting only; rankers and classifiers use labelled BCE).
    """

    embedding_size: int = 10
    layers: tuple[int, ...] = (400, 400, 400)
    dropout: float = 0.2
    batch_norm: bool = False
    fm: bool = True
    dnn: bool = True
    features: bool = True
    epochs: int = 20
    learning_rate: float = 0.001
    reg: float = 0.0
    embedding_reg: float = 0.0
    batch_size: int = 4096
    negatives: int = 4
    loss: str = "bce"
    optimizer: str = "adam"
    id_dropout: float = 0.0
    sparse: bool = False
    patience: int | None = 2
    plateau_decay: float = 1.0

    def validate(self) -> None:
        super().validate()
        check_choices(self, loss=LOSSES, optimizer=OPTIMIZERS)
        if self.dnn and (not self.layers or any(w <= 0 for w in self.layers)):
            raise ConfigError(f"DeepFMConfig.layers must be positive widths, got {self.layers}")
        if not 0.0 <= self.dropout < 1.0 or not 0.0 <= self.id_dropout < 1.0:
            raise ConfigError("DeepFMConfig.dropout and id_dropout must be in [0, 1)")
        if self.negatives < 1:
            raise ConfigError(f"DeepFMConfig.negatives must be >= 1, got {self.negatives}")
        if self.embedding_reg < 0 or (self.embedding_reg > 0 and self.sparse):
            raise ConfigError(
                f"DeepFMConfig.embedding_reg must be >= 0 and needs sparse=False, got {self.embedding_reg}"
            )


class DeepFMNet(nn.Module):
    """Field groups -> (logits, weighted L2 regularisation); the groups' leading dimensions broadcast."""

    def __init__(self, schemas: list[FieldSchema], cfg: DeepFMConfig) -> None:
        super().__init__()
        k = cfg.embedding_size if cfg.fm or cfg.dnn else 0
        self.k, self.fm, self.reg, self.embedding_reg = k, cfg.fm, cfg.reg, cfg.embedding_reg
        self.embeddings = nn.ModuleList(
            FieldEmbedding(s, k + 1, id_dropout=cfg.id_dropout, sparse=cfg.sparse) for s in schemas
        )
        self.bias = nn.Parameter(torch.zeros(()))
        self.first = nn.ModuleList(nn.Linear(s.n_fields * k, cfg.layers[0], bias=False) for s in schemas if cfg.dnn)
        self.first_bias = nn.Parameter(torch.zeros(cfg.layers[0] if cfg.dnn else 0))
        self.deep = (
            nn.Sequential(
                *hidden_activation(cfg.layers[0], cfg.dropout, batch_norm=cfg.batch_norm),
                mlp([*cfg.layers, 1], cfg.dropout, batch_norm=cfg.batch_norm),
            )
            if cfg.dnn
            else None
        )
        self.width = max(cfg.layers) if cfg.dnn else k + 1

    def forward(self, *groups: FieldValues) -> tuple[torch.Tensor, torch.Tensor]:
        embedded = [embed(values) for embed, values in zip(self.embeddings, groups, strict=True)]
        logits = self.bias + sum(e[..., self.k].sum(-1) for e in embedded)
        factors = [e[..., : self.k] for e in embedded]
        if self.fm:
            total = sum(v.sum(-2) for v in factors)
            squares = sum(v.square().sum((-2, -1)) for v in factors)
            logits = logits + 0.5 * (total.square().sum(-1) - squares)  # type: ignore[union-attr]
        if self.deep is not None:
            hidden = self.first_bias + sum(f(v.flatten(-2)) for f, v in zip(self.first, factors, strict=True))
            logits = logits + self.deep(hidden).squeeze(-1)
        penalty = self.reg * l2_penalty(*embedded)
        if self.embedding_reg:
            penalty = penalty + self.embedding_reg / 2 * sum(e.squared_norm() for e in self.embeddings)
        return logits, penalty  # type: ignore[return-value]


class _PairScorer(nn.Module):
    """Candidate scorer: users (b,), items (b or 1, c)[, scores (b, c)] -> (logits (b, c), penalty)."""

    def __init__(self, net: DeepFMNet, users: FieldStore, items: FieldStore) -> None:
        super().__init__()
        self.net, self.users, self.items = net, users, items

    def forward(
        self, users: torch.Tensor, items: torch.Tensor, scores: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        groups = [self.users.take(users[:, None]), self.items.take(items)]
        return self.net(*groups, *([] if scores is None else [FieldValues.partial(numbers=scores.unsqueeze(-1))]))


class _RowScorer(nn.Module):
    """CTR rows: the four encoded tensors of each row -> (logits (b,), penalty)."""

    def __init__(self, net: DeepFMNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, **values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(FieldValues(**values))


def _labelled_objective(module: nn.Module, batch: Batch) -> torch.Tensor:
    """loss(module, batch) for labelled rows: BCE of the logits against batch["labels"] plus the regularisation."""
    logits, penalty = module(**{k: v for k, v in batch.items() if k != "labels"})
    return functional.binary_cross_entropy_with_logits(logits, batch["labels"]) + penalty


def _device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


@register("deepfm")
class DeepFM(Recommender):
    """DeepFM over (user, item) pairs; also the ranking stage over a retrieval model's candidates."""

    config_class = DeepFMConfig
    config: DeepFMConfig

    # ------------------------------------------------------------------ fitting
    def fit(self, train: Dataset, *, valid: Dataset | None = None, options: TrainOptions | None = None) -> DeepFM:
        """Fit as a recommender over the whole catalog (sampled negatives, or MSE on ratings)."""
        self._plan: tuple[Recommender, Dataset | None, int] | None = None
        return super().fit(train, valid=valid, options=options)

    def fit_ranker(
        self,
        train: Dataset,
        retrieval: Recommender,
        *,
        positives: Dataset | None = None,
        candidates_per_user: int = 50,
        options: TrainOptions | None = None,
    ) -> DeepFM:
        """Fit as the ranking stage: rows are the top `candidates_per_user` items of the fitted `retrieval`
        model, labelled 1 when in `positives` (later events, e.g. a validation period; candidates then
        exclude train items) or else in `train` itself; the retrieval score is one more field."""
        if candidates_per_user < 1:
            raise ConfigError(f"candidates_per_user must be >= 1, got {candidates_per_user}")
        retrieval._check_fitted()
        self._plan = (retrieval, positives, candidates_per_user)
        return super().fit(train, options=options)

    def _fit(self, train: Dataset, valid: Dataset | None, options: TrainOptions) -> None:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        if cfg.loss == "mse" and not train.has_ratings:
            raise ConfigError(f"DeepFMConfig.loss='mse' needs explicit ratings, but {train.name!r} has none")
        self.retrieval_, self.candidates_ = None, 0
        self.offset_ = float(train.interactions.ratings.mean()) if cfg.loss == "mse" else 0.0  # type: ignore[union-attr]
        users = FieldSchema.infer(train.user_features if cfg.features else None, n_ids=train.n_users)
        items = FieldSchema.infer(train.item_features if cfg.features else None, n_ids=train.n_items)
        self.schemas_ = [users, items]
        stores = (
            FieldStore(users.encode(train.user_features, train.n_users)),
            FieldStore(items.encode(train.item_features, train.n_items)),
        )
        if self._plan is None:
            self.module_ = _PairScorer(DeepFMNet(self.schemas_, cfg), *stores)
            task = candidate_task(
                self,
                self.module_,
                train,
                valid,
                loss=cfg.loss,
                negatives=cfg.negatives,
                reg=1.0,  # the network weighs its own regularisation
                offset=self.offset_,
            )
        else:
            retrieval, positives, self.candidates_ = self._plan
            batch = self._ranker_rows(train, retrieval, positives)
            score_field = Field("retrieval_score", "numeric", mean=self.score_mean_, scale=self.score_scale_)
            self.schemas_.append(FieldSchema((score_field,)))
            self.module_ = _PairScorer(DeepFMNet(self.schemas_, cfg), *stores)
            task = TrainTask(self.module_, lambda epoch, seed: batch, _labelled_objective)
            self.retrieval_ = retrieval
        self.history_ = Trainer(TrainerConfig.from_model(cfg), options).fit(task).history
        self.module_.cpu().eval()

    def _ranker_rows(self, train: Dataset, retrieval: Recommender, positives: Dataset | None) -> Batch:
        """Labelled (user, candidate, standardised retrieval score) rows from the retrieval model's top lists."""
        labels_from = positives if positives is not None else train
        relevant = labels_from.to_csr(values="ones")
        users = np.flatnonzero(np.diff(relevant.indptr) > 0)
        items, scores = retrieval.recommend(users, n=self.candidates_, exclude_seen=positives is not None)
        rows = np.repeat(np.arange(len(users)), self.candidates_)
        hit = np.asarray(relevant[users][rows, np.maximum(items.ravel(), 0)]).reshape(-1) > 0
        keep = items.ravel() >= 0
        score = scores.ravel()[keep].astype(np.float64)
        if len(score) == 0:
            raise DataError(f"{train.name}: the retrieval model returned no candidates to rank")
        self.score_mean_, self.score_scale_ = float(score.mean()), float(score.std()) or 1.0
        return {
            "users": torch.from_numpy(users[rows[keep]]),
            "items": torch.from_numpy(items.ravel()[keep])[:, None],
            "scores": torch.from_numpy(((score - self.score_mean_) / self.score_scale_).astype(np.float32))[:, None],
            "labels": torch.from_numpy(hit[keep].astype(np.float32))[:, None],
        }

    # ---------------------------------------------------------------- scoring
    @torch.no_grad()
    def _pairs(self, users: np.ndarray, items: np.ndarray, scores: np.ndarray | None = None) -> np.ndarray:
        """(b, c) scores of users (b,) against items (b or 1, c), in chunks of bounded activation size."""
        device = _device(self.module_)
        out = np.empty((len(users), items.shape[1]), dtype=np.float32)
        step = max(1, _CHUNK_FLOATS // (items.shape[1] * self.module_.net.width))
        for start in range(0, len(users), step):
            part = slice(start, start + step)
            item_part = items if len(items) == 1 else items[part]
            extra = [] if scores is None else [torch.from_numpy(scores[part]).to(device)]
            logits, _ = self.module_(
                torch.from_numpy(users[part]).to(device), torch.from_numpy(item_part).to(device), *extra
            )
            out[part] = logits.float().cpu().numpy() + self.offset_
        return out

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """(b, c) network scores of candidate items per user (users (b,), items (b, c) or (c,))."""
        self._check_fitted()
        if self.candidates_:
            return super().score(users, items)
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        items = np.ascontiguousarray(np.broadcast_to(items, (len(users), items.shape[-1])))
        out = np.empty(items.shape, dtype=np.float32)
        known = (users >= 0) & (users < self.n_users_)
        out[~known] = self._cold_start_scores().numpy()[items[~known]]
        out[known] = self._pairs(users[known], items[known])
        return out

    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        if not self.candidates_:
            return torch.from_numpy(self._pairs(users, np.arange(self.n_items_)[None, :]))
        if self.retrieval_ is None:
            raise NotFittedError("this DeepFM ranker was loaded without its retrieval model: call attach_retrieval")
        items, scores = self.retrieval_.recommend(users, n=self.candidates_, exclude_seen=True)
        valid = items >= 0
        reranked = self.rerank(users, np.where(valid, items, 0), np.where(valid, scores, 0.0))
        out = torch.full((len(users), self.n_items_), -torch.inf)
        rows = np.repeat(np.arange(len(users)), items.shape[1]).reshape(items.shape)
        out[rows[valid], items[valid]] = torch.from_numpy(reranked[valid])
        return out

    # ---------------------------------------------------------------- ranking
    def rerank(self, users: np.ndarray, candidate_items: np.ndarray, retrieval_scores: np.ndarray) -> np.ndarray:
        """(b, c) ranking scores of candidate items (b, c) with their retrieval scores (b, c) for users (b,)."""
        self._check_fitted()
        if not self.candidates_:
            raise ConfigError("rerank needs a DeepFM fitted with fit_ranker")
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(candidate_items, dtype=np.int64)
        if items.shape != np.shape(retrieval_scores) or items.shape[0] != len(users):
            raise DataError(f"rerank: items {items.shape} and scores {np.shape(retrieval_scores)} must be (b, c)")
        scores = (np.asarray(retrieval_scores, np.float64) - self.score_mean_) / self.score_scale_
        return self._pairs(np.maximum(users, 0), items, scores.astype(np.float32))

    def attach_retrieval(self, retrieval: Recommender) -> DeepFM:
        """Reconnect a loaded ranker with its retrieval model (which is saved on its own)."""
        self.retrieval_ = retrieval
        return self

    # ------------------------------------------------------------ persistence
    def _state_tensors(self) -> dict[str, torch.Tensor]:
        return dict(self.module_.state_dict())

    def _state_json(self) -> dict:
        ranker = {"candidates": self.candidates_, "score_mean": 0.0, "score_scale": 1.0}
        if self.candidates_:
            ranker.update(score_mean=self.score_mean_, score_scale=self.score_scale_)
        return {"schemas": [s.to_json() for s in self.schemas_], "offset": self.offset_, **ranker}

    def _load_state(self, tensors: dict[str, np.ndarray], extra: dict) -> None:
        self.schemas_ = [FieldSchema.from_json(s) for s in extra["schemas"]]
        self.offset_, self.candidates_ = float(extra["offset"]), int(extra["candidates"])
        self.score_mean_, self.score_scale_ = float(extra["score_mean"]), float(extra["score_scale"])
        self.retrieval_ = None
        stores = FieldStore.from_state(tensors, "users"), FieldStore.from_state(tensors, "items")
        self.module_ = _PairScorer(DeepFMNet(self.schemas_, self.config), *stores)
        self.module_.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
        self.module_.eval()


class DeepFMClassifier:
    """DeepFM (or LR / FM through `fm` / `dnn`) on explicitly labelled rows; predicts click probabilities."""

    def __init__(self, config: DeepFMConfig | None = None, **params: object) -> None:
        self.config = DeepFMConfig.from_dict({**(config.to_dict() if config else {}), **params})

    def fit(
        self, train: LabelledRows, valid: LabelledRows | None = None, *, options: TrainOptions | None = None
    ) -> DeepFMClassifier:
        """Train on `train`; with `valid`, stop early on its AUC (keeping the best epoch's weights)."""
        cfg = self.config
        torch.manual_seed(cfg.seed)
        self.schema_ = FieldSchema.infer(train.features)
        self.module_ = _RowScorer(DeepFMNet([self.schema_], cfg))
        batch = {**self.schema_.encode(train.features, len(train))._asdict(), "labels": torch.from_numpy(train.labels)}
        validate = None if valid is None else (lambda: self.evaluate(valid))
        task = TrainTask(self.module_, lambda e, s: batch, _labelled_objective, validate, monitor="auc")
        self.history_ = Trainer(TrainerConfig.from_model(cfg), options or TrainOptions.from_env()).fit(task).history
        self.module_.cpu().eval()
        return self

    @torch.no_grad()
    def predict(self, rows: LabelledRows) -> np.ndarray:
        """(n,) click probabilities of `rows` (their labels are not used)."""
        if not hasattr(self, "module_"):
            raise NotFittedError("DeepFMClassifier is not fitted: call fit() or load() first")
        values = self.schema_.encode(rows.features, len(rows))
        device, step = _device(self.module_), max(1, _CHUNK_FLOATS // self.module_.net.width)
        parts = []
        for start in range(0, len(rows), step):
            chunk = values.take(slice(start, start + step))
            logits, _ = self.module_(**{k: v.to(device) for k, v in chunk._asdict().items()})
            parts.append(torch.sigmoid(logits).float().cpu())
        return torch.cat(parts).numpy() if parts else np.zeros(0, np.float32)

    def evaluate(self, rows: LabelledRows) -> dict[str, float]:
        """AUC and log loss of the predictions for `rows`."""
        probs = self.predict(rows)
        return {"auc": roc_auc(rows.labels, probs), "log_loss": log_loss(rows.labels, probs)}

    def save(self, path: str | Path) -> Path:
        """safetensors weights + JSON config and field schema (never pickle)."""
        tensors = {k: v.detach().cpu().numpy() for k, v in self.module_.state_dict().items()}
        state = {"config": self.config.to_dict(), "schema": self.schema_.to_json()}
        return write_artifact(path, kind="deepfm-classifier", tensors=tensors, state=state)

    @classmethod
    def load(cls, path: str | Path) -> DeepFMClassifier:
        _, tensors, state = read_artifact(path, kind="deepfm-classifier")
        check_fields(Path(path) / STATE, state, (json_field("config", OBJECT), json_field("schema", LIST)))
        try:
            model = cls(DeepFMConfig.from_dict(state["config"]))
        except ConfigError as exc:
            raise ArtifactError(f"{Path(path) / STATE}: field 'config': {exc}") from None
        try:
            model.schema_ = FieldSchema.from_json(state["schema"])
            model.module_ = _RowScorer(DeepFMNet([model.schema_], model.config))
            model.module_.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise ArtifactError(f"{path}: malformed classifier state ({type(exc).__name__}: {exc})") from None
        model.module_.eval()
        return model
