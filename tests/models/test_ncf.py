"""NCF family: the module's algebra against naive references, pretraining's output mixing, learning blocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from tests.conftest import make_block_dataset
from tests.models.suite import ModelSuite
from tests.models.test_mf import own_block_share

from shoprec.config import TrainOptions
from shoprec.exceptions import ArtifactError, ConfigError
from shoprec.models.base import Recommender
from shoprec.models.ncf import GMF, MLP, NCFModule, NeuMF, NeuMFConfig
from shoprec.models.registry import get_model_class

FAST = {"embedding_size": 4, "epochs": 10, "batch_size": 64, "negatives": 4, "learning_rate": 0.01}
OPTS = TrainOptions(threads=1)
# The MLP first learns item popularity only (below chance on block data) and needs room to break out of it;
# NeuMF's GMF half gets a rank-2 factor so that it cannot memorise the training pairs instead.
PARAMS: dict[str, dict[str, Any]] = {
    "gmf": FAST,
    "mlp": {**FAST, "layers": (16, 8), "epochs": 20, "learning_rate": 0.05},
    "neumf": {**FAST, "layers": (16, 8), "epochs": 12, "learning_rate": 0.03, "embedding_size": 2},
}


class TestGMF(ModelSuite):
    model_name = "gmf"
    params: ClassVar[dict[str, Any]] = PARAMS["gmf"]
    seed_sensitive = True


class TestMLP(TestGMF):
    model_name = "mlp"
    params: ClassVar[dict[str, Any]] = PARAMS["mlp"]


class TestNeuMF(TestGMF):
    model_name = "neumf"
    params: ClassVar[dict[str, Any]] = PARAMS["neumf"]


def test_split_first_layer_equals_concatenation() -> None:
    torch.manual_seed(0)
    module = NCFModule(5, 7, gmf_size=None, layers=(6, 4, 2), sparse=False)
    users, items = torch.tensor([0, 4]), torch.tensor([[1, 2, 6], [0, 0, 3]])
    p, q = module.users(users), module.items(items)  # an MLP-only table holds the MLP embeddings alone
    h = torch.cat([p.unsqueeze(1).expand(-1, 3, -1), q], dim=2)  # the paper's [p_u, q_i]
    for layer in module.tower:
        h = torch.relu(layer(h))
    naive = module.output(h).squeeze(2)
    torch.testing.assert_close(module(users, items)[0], naive)


def test_gmf_is_a_weighted_dot_product_and_returns_the_rows_used() -> None:
    torch.manual_seed(0)
    module = NCFModule(3, 4, gmf_size=2, layers=None, sparse=False)
    users, items = torch.tensor([1]), torch.tensor([[0, 3]])
    p, q = module.users.weight[1], module.items.weight[[0, 3]]
    expected = (p * q) @ module.output.weight[0] + module.output.bias
    scores, (p_used, q_used) = module(users, items)
    torch.testing.assert_close(scores[0], expected)
    torch.testing.assert_close(p_used[0], p)
    torch.testing.assert_close(q_used[0], q)


def test_neumf_tables_hold_gmf_then_mlp_halves() -> None:
    torch.manual_seed(0)
    module = NCFModule(3, 4, gmf_size=2, layers=(6, 3), sparse=False)
    users, items = torch.tensor([2]), torch.tensor([[1]])
    p, q = module.users.weight[2], module.items.weight[1]
    hidden = torch.relu(module.tower[0](torch.cat([p[2:], q[2:]])))
    expected = module.output(torch.cat([p[:2] * q[:2], hidden]))
    torch.testing.assert_close(module(users, items)[0][0], expected)


def test_pretrained_neumf_mixes_gmf_and_mlp_logits() -> None:
    torch.manual_seed(0)
    gmf = NCFModule(6, 9, gmf_size=3, layers=None, sparse=False)
    mlp = NCFModule(6, 9, gmf_size=None, layers=(8, 4), sparse=False)
    neumf = NCFModule(6, 9, gmf_size=3, layers=(8, 4), sparse=False)
    neumf.load_pretrained(gmf, mlp, alpha=0.3)
    users, items = torch.tensor([0, 5, 2]), torch.tensor([[1, 8], [3, 3], [0, 7]])
    expected = 0.3 * gmf(users, items)[0] + 0.7 * mlp(users, items)[0]
    torch.testing.assert_close(neumf(users, items)[0], expected)
    with pytest.raises(ConfigError, match="expected"):
        NCFModule(6, 9, gmf_size=5, layers=(8, 4), sparse=False).load_pretrained(gmf, mlp, 0.5)


@pytest.mark.parametrize("model_cls", [GMF, MLP, NeuMF])
def test_each_model_learns_the_blocks(model_cls: type[Recommender]) -> None:
    data = make_block_dataset(n_users=40, n_items=30, n_blocks=2, density=0.5)
    model = model_cls(**PARAMS[model_cls.name]).fit(data, options=OPTS)
    assert own_block_share(model, data, 2) >= 0.95  # chance level is 0.5


def test_pair_scores_match_full_catalog_and_unknown_users_get_popularity() -> None:
    data = make_block_dataset(n_users=12, n_items=10)
    model = NeuMF(**{**FAST, "epochs": 2, "layers": (8, 4)}).fit(data, options=OPTS)
    users = np.array([0, 5, 11])
    full = model._score_users(users).numpy()
    items = np.array([[1, 2, 9], [0, 0, 4], [7, 3, 5]])
    np.testing.assert_allclose(model.score(users, items), np.take_along_axis(full, items, 1), rtol=1e-5)
    cold = model.score(np.array([-1]), np.array([[0, 1]]))
    np.testing.assert_allclose(cold[0], np.log1p(model.item_popularity_[[0, 1]]))


def test_pretraining_and_loading_pretrained_artifacts(tmp_path: Path) -> None:
    data = make_block_dataset(n_users=20, n_items=16)
    shared = {**FAST, "epochs": 3, "layers": (8, 4)}
    neumf = NeuMF(**{**shared, "learning_rate": 0.05}, pretrain=True, optimizer="sgd").fit(data, options=OPTS)
    assert len(neumf.pretrain_history_["gmf"]) == 3 and len(neumf.pretrain_history_["mlp"]) == 3
    gmf = GMF(**{k: v for k, v in shared.items() if k != "layers"}).fit(data, options=OPTS)
    mlp = MLP(**shared).fit(data, options=OPTS)
    gmf.save(tmp_path / "gmf")
    mlp.save(tmp_path / "mlp")
    # Fine-tuning needs >= 1 epoch, so look at the initialisation through one SGD epoch at a negligible rate:
    # NeuMF's logit is then exactly alpha * GMF's + (1 - alpha) * MLP's.
    dirs = (str(tmp_path / "gmf"), str(tmp_path / "mlp"))
    params = {**shared, "epochs": 1, "learning_rate": 1e-12, "optimizer": "sgd"}
    loaded = NeuMF(**params, pretrain_dirs=dirs).fit(data, options=OPTS)
    users, items = np.arange(20), np.broadcast_to(np.arange(16), (20, 16))
    mixed = 0.5 * gmf.score(users, items) + 0.5 * mlp.score(users, items)
    np.testing.assert_allclose(loaded.score(users, items), mixed, rtol=1e-4, atol=1e-5)
    with pytest.raises(ArtifactError, match="holds a 'mlp' model, not 'gmf'"):
        NeuMF(**shared, pretrain_dirs=(str(tmp_path / "mlp"), str(tmp_path / "mlp"))).fit(data, options=OPTS)


def test_round_trip_and_registry(tmp_path: Path) -> None:
    data = make_block_dataset(n_users=12, n_items=10)
    model = MLP(**{**FAST, "epochs": 2, "layers": (8, 4)}).fit(data, options=OPTS)
    loaded = Recommender.load(model.save(tmp_path / "mlp"))
    np.testing.assert_array_equal(loaded.score(np.arange(12), np.arange(10)), model.score(np.arange(12), np.arange(10)))
    assert [get_model_class(n) for n in ("gmf", "mlp", "neumf")] == [GMF, MLP, NeuMF]


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="alpha"):
        NeuMFConfig.from_dict({"alpha": 1.5})
    with pytest.raises(ConfigError, match="layers"):
        NeuMFConfig.from_dict({"layers": [7, 4]})
    with pytest.raises(ConfigError, match="either pretrain"):
        NeuMFConfig.from_dict({"pretrain": True, "pretrain_dirs": ["a", "b"]})
    with pytest.raises(ConfigError, match="negatives"):
        NeuMFConfig.from_dict({"negatives": 0})
    assert NeuMFConfig.from_dict(NeuMFConfig(layers=(16, 8)).to_dict()).layers == (16, 8)
