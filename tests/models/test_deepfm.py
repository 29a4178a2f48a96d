"""DeepFM: the shared suite, the FM/DNN algebra against naive sums, LR/FM flags, CTR rows, the ranking stage."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from tests.conftest import make_block_dataset
from tests.core.tamper import edit_json, reseal
from tests.models.suite import ModelSuite
from tests.models.test_mf import rank_one_ratings

from shoprec.config import TrainOptions
from shoprec.data.dataset import Dataset
from shoprec.data.features import CategoricalColumn, FeatureTable
from shoprec.data.sources.ctr import LabelledRows
from shoprec.data.split import leave_one_out
from shoprec.exceptions import ArtifactError, ConfigError, DataError, NotFittedError
from shoprec.models.base import Recommender
from shoprec.models.deepfm import DeepFM, DeepFMClassifier, DeepFMConfig, DeepFMNet
from shoprec.models.fields import FieldSchema
from shoprec.models.popularity import Popularity
from shoprec.training import Trainer, TrainerConfig, TrainTask

FAST = {"embedding_size": 8, "layers": (16, 8), "epochs": 8, "batch_size": 64, "learning_rate": 0.01, "dropout": 0.0}
OPTS = TrainOptions(threads=1)


class TestDeepFM(ModelSuite):
    model_name = "deepfm"
    params: ClassVar[dict] = {**FAST, "epochs": 12, "negatives": 4}
    seed_sensitive = True


def schema_of(sizes: list[int]) -> FieldSchema:
    columns = {
        f"f{j}": CategoricalColumn(np.zeros(1, np.int64), tuple(map(str, range(s)))) for j, s in enumerate(sizes)
    }
    return FieldSchema.infer(FeatureTable(1, columns))


def test_fm_and_dnn_equal_the_naive_formula() -> None:
    """logit = b + Σ w_f + Σ_{f<g} <v_f, v_g> + DNN([v_1; ...; v_F]) with a single group of 4 fields."""
    torch.manual_seed(0)
    cfg = DeepFMConfig(embedding_size=3, layers=(5, 4), dropout=0.0)
    schema = schema_of([2, 3, 4, 2])
    net = DeepFMNet([schema], cfg).eval()
    codes = torch.tensor([[1, 2, 3, 0], [0, 1, 2, 1]])
    values = schema.encode(None, 2)._replace(codes=codes)
    with torch.no_grad():
        e = net.embeddings[0](values)  # (2, 4, 4)
        v, w = e[..., :3], e[..., 3]
        pairs = sum((v[:, f] * v[:, g]).sum(-1) for f in range(4) for g in range(f + 1, 4))
        hidden = torch.relu(net.first[0](v.flatten(1)) + net.first_bias)
        deep = net.deep[-1](hidden).squeeze(-1)
        expected = net.bias + w.sum(1) + pairs + deep
        torch.testing.assert_close(net(values)[0], expected)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_groups_broadcast_like_one_concatenated_group(batch_norm: bool) -> None:
    """Scoring users (b, 1) against items (1, c) equals scoring every pair with all fields in one group."""
    torch.manual_seed(0)
    cfg = DeepFMConfig(embedding_size=3, layers=(6, 5), dropout=0.0, batch_norm=batch_norm)
    user_schema, item_schema = schema_of([4, 2]), schema_of([5])
    net = DeepFMNet([user_schema, item_schema], cfg).eval()
    for norm in (m for m in net.deep.modules() if isinstance(m, torch.nn.BatchNorm1d)):
        norm.running_mean.uniform_(-1, 1), norm.running_var.uniform_(0.5, 2)
    user_codes, item_codes = torch.tensor([[1, 0], [3, 1]]), torch.tensor([[0], [4], [2]])
    users = user_schema.encode(None, 2)._replace(codes=user_codes)
    items = item_schema.encode(None, 3)._replace(codes=item_codes)
    joint = DeepFMNet([schema_of([4, 2, 5])], cfg).eval()
    with torch.no_grad():
        joint.embeddings[0].table.weight.copy_(
            torch.cat([net.embeddings[0].table.weight, net.embeddings[1].table.weight])
        )
        joint.first[0].weight.copy_(torch.cat([net.first[0].weight, net.first[1].weight], dim=1))
        joint.first_bias.copy_(net.first_bias)
        joint.deep.load_state_dict(net.deep.state_dict())
        joint.bias.copy_(net.bias)
        grid = net(users.take(torch.tensor([[0], [1]])), items.take(torch.tensor([[0, 1, 2]])))[0]
        pairs = torch.cat([user_codes[:, None, :].expand(2, 3, 2), item_codes[None].expand(2, 3, 1)], dim=2)
        flat = joint(schema_of([4, 2, 5]).encode(None, 1)._replace(codes=pairs))[0]
    torch.testing.assert_close(grid, flat)


def test_flags_make_logistic_regression_and_fm() -> None:
    schema = schema_of([3, 3])
    lr = DeepFMNet([schema], DeepFMConfig(fm=False, dnn=False))
    assert lr.embeddings[0].table.embedding_dim == 1 and lr.deep is None and len(lr.first) == 0
    values = schema.encode(None, 1)._replace(codes=torch.tensor([[2, 1]]))
    weight = lr.embeddings[0].table.weight[:, 0]
    torch.testing.assert_close(lr(values)[0], (lr.bias + weight[2] + weight[5]).reshape(1))
    fm = DeepFMNet([schema], DeepFMConfig(dnn=False, embedding_size=4))
    assert fm.deep is None and fm.embeddings[0].table.embedding_dim == 5


def test_embedding_reg_is_half_lambda_times_the_squared_tables() -> None:
    schema = schema_of([3, 2])
    net = DeepFMNet([schema], DeepFMConfig(embedding_size=2, layers=(4,), embedding_reg=0.1))
    values = schema.encode(None, 2)._replace(codes=torch.tensor([[1, 2], [3, 0]]))
    expected = 0.05 * net.embeddings[0].table.weight.square().sum()
    torch.testing.assert_close(net(values)[1], expected)
    rows = DeepFMNet([schema], DeepFMConfig(embedding_size=2, layers=(4,), reg=0.5))
    embedded = rows.embeddings[0](values)
    torch.testing.assert_close(rows(values)[1], 0.5 * embedded.square().sum() / 2)  # per example, rows used
    with pytest.raises(ConfigError, match="embedding_reg"):
        DeepFMConfig.from_dict({"embedding_reg": 0.1, "sparse": True})


def test_trainer_decays_the_learning_rate_on_plateau() -> None:
    """The trainer hook behind `plateau_decay`: SGD on loss = w moves w by lr per epoch (one batch each);
    the metric never improves after epoch 0, so the steps are 1, 1, 0.5, 0.25."""
    module = torch.nn.Linear(1, 1, bias=False)
    seen: list[float] = []

    def validate() -> dict[str, float]:
        seen.append(float(module.weight))
        return {"auc": 0.5}

    task = TrainTask(
        module, lambda e, s: {"x": torch.ones(1, 1)}, lambda m, b: m(b["x"]).sum(), validate, monitor="auc"
    )
    config = TrainerConfig(epochs=4, batch_size=1, learning_rate=1.0, optimizer="sgd", plateau_decay=0.5)
    start = float(module.weight.detach())
    Trainer(config, OPTS).fit(task)
    np.testing.assert_allclose(-np.diff([start, *seen]), [1.0, 1.0, 0.5, 0.25], rtol=1e-6)
    with pytest.raises(ConfigError, match="plateau_decay"):
        TrainerConfig(epochs=1, batch_size=1, learning_rate=1.0, plateau_decay=0.0)


def checkerboard_rows(n: int, seed: int) -> LabelledRows:
    """Click iff a + b is even: a pure pairwise interaction that no first-order model can express."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 4, n), rng.integers(0, 4, n)
    names = ("0", "1", "2", "3")
    columns = {"a": CategoricalColumn(a + 1, names), "b": CategoricalColumn(b + 1, names)}
    return LabelledRows(((a + b) % 2 == 0).astype(np.float32), FeatureTable(n, columns))


@pytest.mark.parametrize(
    ("flags", "low", "high"), [({"fm": False, "dnn": False}, 0.4, 0.6), ({"dnn": False}, 0.99, 1.0)]
)
def test_only_second_order_models_learn_an_interaction(flags: dict, low: float, high: float) -> None:
    params = {**FAST, "epochs": 40, "batch_size": 128, "learning_rate": 0.05, **flags}
    model = DeepFMClassifier(**params).fit(checkerboard_rows(800, 0), options=OPTS)
    auc = model.evaluate(checkerboard_rows(400, 1))["auc"]
    assert low <= auc <= high


def test_classifier_validates_saves_and_loads(tmp_path: Path) -> None:
    train, valid = checkerboard_rows(600, 0), checkerboard_rows(200, 1)
    model = DeepFMClassifier(**{**FAST, "epochs": 15, "patience": 3}).fit(train, valid, options=OPTS)
    assert all({"auc", "log_loss"} <= set(r.metrics) for r in model.history_)
    assert model.evaluate(valid)["auc"] > 0.95
    loaded = DeepFMClassifier.load(model.save(tmp_path / "ctr"))
    np.testing.assert_array_equal(loaded.predict(valid), model.predict(valid))
    probs = model.predict(valid)
    assert probs.shape == (200,) and ((probs > 0) & (probs < 1)).all()
    with pytest.raises(NotFittedError):
        DeepFMClassifier().predict(valid)
    for i, (change, message) in enumerate(
        [
            (lambda state: state.pop("schema"), "state.json: field 'schema' missing; expected a list"),
            (lambda state: state["config"].update(loss=3), "state.json: field 'config'"),
            (lambda state: state["schema"][0].pop("name"), "malformed classifier state"),
        ]
    ):
        edited = shutil.copytree(tmp_path / "ctr", tmp_path / f"edited-{i}")
        edit_json(edited / "state.json", change)
        reseal(edited)
        with pytest.raises(ArtifactError, match=message):
            DeepFMClassifier.load(edited)


def test_config_errors_name_the_parameter() -> None:
    for bad, name in [({"loss": "hinge"}, "loss"), ({"layers": (4, 0)}, "layers"), ({"dropout": 1.0}, "dropout")]:
        with pytest.raises(ConfigError, match=name):
            DeepFM(**bad)


def test_mse_predicts_held_out_ratings() -> None:
    split = leave_one_out(rank_one_ratings(), valid=True, by="random", seed=1)
    params = {**FAST, "loss": "mse", "epochs": 20, "learning_rate": 0.03, "patience": None}
    model = DeepFM(**params).fit(split.train, valid=split.valid, options=OPTS)
    test = split.test.interactions
    predicted = model.score(test.users, test.items[:, None])[:, 0]
    rmse = float(np.sqrt(np.mean((predicted - test.ratings) ** 2)))
    assert rmse < 0.3 * float(np.std(test.ratings))  # the mean rating alone scores the std
    assert model.history_[-1].metrics["rmse"] < 0.3 * float(np.std(split.valid.interactions.ratings))


def block_split() -> tuple[Dataset, Dataset]:
    """Train on 70% of the block data set; the held-out 30% are the later events that label the ranker."""
    data = make_block_dataset(n_users=40, n_items=30, density=0.8, seed=3)
    later = np.random.default_rng(5).random(len(data)) < 0.3
    return data.with_interactions(data.interactions.take(~later)), data.with_interactions(data.interactions.take(later))


def test_ranker_reorders_popularity_candidates_by_block(tmp_path: Path) -> None:
    train, later = block_split()
    retrieval = Popularity().fit(train)
    ranker = DeepFM(**FAST).fit_ranker(train, retrieval, positives=later, candidates_per_user=20, options=OPTS)
    users = np.arange(train.n_users)
    candidates, scores = retrieval.recommend(users, n=20)
    reranked = ranker.rerank(users, candidates, scores)
    order = np.take_along_axis(candidates, np.argsort(-reranked, axis=1), 1)

    def own(items: np.ndarray) -> float:
        return float((items[:, :5] % 2 == users[:, None] % 2).mean())

    assert own(order) >= 0.9 > own(candidates) + 0.2
    top, _ = ranker.recommend(users, n=5)  # the two-stage path: retrieve 20, rerank, cut to 5
    np.testing.assert_array_equal(top, order[:, :5])
    loaded = Recommender.load(ranker.save(tmp_path / "ranker"))
    np.testing.assert_allclose(loaded.rerank(users, candidates, scores), reranked, rtol=1e-6)
    with pytest.raises(NotFittedError, match="attach_retrieval"):
        loaded.recommend(users, n=5)
    np.testing.assert_array_equal(loaded.attach_retrieval(retrieval).recommend(users, n=5)[0], top)


def test_ranker_input_errors() -> None:
    train, _ = block_split()
    plain = DeepFM(**{**FAST, "epochs": 1}).fit(train, options=OPTS)
    with pytest.raises(ConfigError, match="fit_ranker"):
        plain.rerank(np.array([0]), np.array([[1]]), np.array([[0.5]]))
    with pytest.raises(ConfigError, match="candidates_per_user"):
        DeepFM(**FAST).fit_ranker(train, plain, candidates_per_user=0)
    ranker = DeepFM(**{**FAST, "epochs": 1}).fit_ranker(train, plain, candidates_per_user=5, options=OPTS)
    with pytest.raises(DataError, match="must be"):
        ranker.rerank(np.array([0, 1]), np.array([[1, 2]]), np.array([[0.5, 0.1]]))
    assert ranker.fit(train, options=OPTS).candidates_ == 0  # a plain refit is a recommender again
