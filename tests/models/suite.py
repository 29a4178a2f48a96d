"""The conformance suite every Recommender passes; a model's test module subclasses it in a few lines:

    class TestEASE(ModelSuite):
        model_name = "ease"
        params: ClassVar[dict[str, Any]] = {"reg": 5.0}

Hooks (class attributes / methods to override):
    params                   small, fast hyperparameters for the tiny data sets
    make_dataset(seed)       the data (default: the block data set of conftest; keep its block layout, user u and
                             item i in block u % n_blocks and i % n_blocks, or override `blocks`)
    expects_personalisation  run the block known-answer test (False for popularity)
    min_block_accuracy       share of a user's top-m that lies in their block, m = their unseen in-block items
    supports_unknown_users   unknown users (-1) get a full list instead of an error
    cold_start_is_popularity unknown users are ranked by training popularity
    seed_sensitive           different seeds give different models (random initialisation)
    score_atol               tolerance when the same scores are computed along different paths
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import scipy.sparse as sp
from safetensors.numpy import load_file
from tests.conftest import make_block_dataset

from shoprec.config import TrainOptions
from shoprec.data.dataset import Dataset
from shoprec.exceptions import ArtifactError, ConfigError, NotFittedError
from shoprec.models.base import Recommender
from shoprec.models.registry import create_model, get_model_class

#: Share of each user's interactions held out of training in the known-answer test.
HOLDOUT = 0.25


def ncf_accuracy(model: Recommender, data_dir: Path) -> tuple[float, float]:
    """(HR@10, NDCG@10) of `model` fitted on the NCF ML-1M split, its 99 given negatives per test user."""
    from shoprec.data.sources import load_ncf_split
    from shoprec.evaluation import sampled_ranking

    split = load_ncf_split(data_dir / "ml-1m-ncf" / "ml-1m.train.rating")
    model.fit(split.train)
    run = sampled_ranking(model, split.test, split.test_negative_users, split.test_negatives, ks=(10,))
    return float(np.nanmean(run.per_user["hr@10"])), float(np.nanmean(run.per_user["ndcg@10"]))


class ModelSuite:
    """Shared tests; not collected by itself (no `Test` prefix), only through subclasses."""

    model_name: ClassVar[str] = ""
    params: ClassVar[dict[str, Any]] = {}
    expects_personalisation: ClassVar[bool] = True
    min_block_accuracy: ClassVar[float] = 0.9
    supports_unknown_users: ClassVar[bool] = True
    cold_start_is_popularity: ClassVar[bool] = True
    seed_sensitive: ClassVar[bool] = False
    score_atol: ClassVar[float] = 1e-5
    n_blocks: ClassVar[int] = 2
    fit_options: ClassVar[TrainOptions] = TrainOptions(threads=1)

    # ------------------------------------------------------------------ hooks
    def make_dataset(self, seed: int = 0) -> Dataset:
        return make_block_dataset(n_users=40, n_items=30, n_blocks=self.n_blocks, density=0.7, seed=seed)

    def make_model(self, **overrides: Any) -> Recommender:
        return create_model(self.model_name, **{**self.params, **overrides})

    def blocks(self, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
        """(user_block, item_block) of the data set from `make_dataset`."""
        return np.arange(dataset.n_users) % self.n_blocks, np.arange(dataset.n_items) % self.n_blocks

    # --------------------------------------------------------------- fixtures
    @pytest.fixture(scope="class")
    @classmethod
    def train(cls) -> Dataset:
        """The block data set with HOLDOUT of its interactions removed (those are the answers)."""
        full = cls().make_dataset()
        keep = np.random.default_rng(99).random(len(full)) >= HOLDOUT
        return full.with_interactions(full.interactions.take(keep))

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls, train: Dataset) -> Recommender:
        return cls().make_model().fit(train, options=cls.fit_options)

    # ----------------------------------------------------------------- helpers
    def all_scores(self, model: Recommender, users: np.ndarray) -> np.ndarray:
        return model.score(users, np.arange(model.n_items_))

    def assert_equivalent(self, model: Recommender, users: np.ndarray, a: tuple, b: tuple) -> None:
        """Two top-n results agree: same scores, and every item of `b` truly has the score `b` reports.

        Item order may differ only among (near-)ties, which other batch shapes may break differently.
        """
        np.testing.assert_allclose(a[1], b[1], rtol=1e-5, atol=self.score_atol)
        valid = b[0] >= 0
        np.testing.assert_array_equal(valid, a[0] >= 0)
        full = self.all_scores(model, users)
        picked = np.take_along_axis(full, np.where(valid, b[0], 0), axis=1)
        np.testing.assert_allclose(picked[valid], b[1][valid], rtol=1e-5, atol=self.score_atol)

    # ------------------------------------------------------------------ tests
    def test_registered_under_its_name(self) -> None:
        cls = get_model_class(self.model_name)
        assert cls.name == self.model_name
        assert isinstance(self.make_model(), cls)

    def test_predicting_before_fit_raises(self, tmp_path: Path) -> None:
        model = self.make_model()
        with pytest.raises(NotFittedError):
            model.recommend(np.array([0]), n=3)
        with pytest.raises(NotFittedError):
            model.score(np.array([0]), np.array([[0, 1]]))
        with pytest.raises(NotFittedError):
            model.save(tmp_path / "model")

    def test_fit_returns_self(self, train: Dataset) -> None:
        model = self.make_model()
        assert model.fit(train, options=self.fit_options) is model

    def test_recommend_shapes_and_order(self, fitted: Recommender, train: Dataset) -> None:
        users = np.array([0, 3, 7])
        items, scores = fitted.recommend(users, n=5)
        assert items.shape == scores.shape == (3, 5)
        assert items.dtype == np.int64 and scores.dtype == np.float32
        assert ((items >= 0) & (items < train.n_items)).all()
        assert (np.diff(scores, axis=1) <= 0).all(), "scores must be sorted best first"
        assert all(len(set(row)) == 5 for row in items.tolist()), "an item appears twice in one list"
        single, _ = fitted.recommend(3, n=5)
        assert single.shape == (1, 5)

    def test_seen_items_are_excluded(self, fitted: Recommender, train: Dataset) -> None:
        users = np.arange(train.n_users)
        items, _ = fitted.recommend(users, n=10)
        seen = train.to_csr().toarray() > 0
        valid = items >= 0
        assert not seen[np.repeat(users, 10)[valid.ravel()], items[valid]].any()
        assert (valid.sum(axis=1) == np.minimum(10, (~seen).sum(axis=1))).all()

    def test_seen_items_allowed_when_not_excluded(self, fitted: Recommender, train: Dataset) -> None:
        users = np.arange(train.n_users)
        items, scores = fitted.recommend(users, n=train.n_items, exclude_seen=False)
        np.testing.assert_array_equal(np.sort(items, axis=1), np.broadcast_to(np.arange(train.n_items), items.shape))
        assert np.isfinite(scores).all()

    def test_candidates_restrict_the_ranking(self, fitted: Recommender, train: Dataset) -> None:
        users = np.arange(train.n_users)
        candidates = np.random.default_rng(1).choice(train.n_items, size=8, replace=False)
        items, scores = fitted.recommend(users, n=8, candidates=candidates, exclude_seen=False)
        assert np.isin(items, candidates).all()
        expected = -np.sort(-self.all_scores(fitted, users)[:, candidates], axis=1)
        np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=self.score_atol)

    def test_exclude_matrix_is_respected_and_lists_are_padded(self, fitted: Recommender, train: Dataset) -> None:
        users = np.arange(train.n_users)
        exclude = sp.random(len(users), train.n_items, density=0.3, format="csr", random_state=2)
        items, scores = fitted.recommend(users, n=train.n_items, exclude=exclude)
        banned = (exclude.toarray() != 0) | (train.to_csr().toarray() > 0)
        valid = items >= 0
        assert not banned[np.repeat(users, train.n_items)[valid.ravel()], items[valid]].any()
        np.testing.assert_array_equal(valid.sum(axis=1), (~banned).sum(axis=1))
        assert (valid[:, :-1] >= valid[:, 1:]).all(), "padding must come after every real item"
        assert np.isneginf(scores[~valid]).all() and np.isfinite(scores[valid]).all()

    def test_pads_with_minus_one_when_too_few_items(self, fitted: Recommender, train: Dataset) -> None:
        items, scores = fitted.recommend(np.array([0]), n=5, candidates=np.array([4, 9, 2]), exclude_seen=False)
        assert sorted(items[0, :3].tolist()) == [2, 4, 9]
        np.testing.assert_array_equal(items[0, 3:], [-1, -1])
        assert np.isneginf(scores[0, 3:]).all()
        seen_by_0 = train.to_csr()[0].indices
        items, _ = fitted.recommend(np.array([0]), n=3, candidates=seen_by_0)
        np.testing.assert_array_equal(items, [[-1, -1, -1]])

    def test_unknown_users_get_the_cold_start_list(self, fitted: Recommender, train: Dataset) -> None:
        if not self.supports_unknown_users:
            pytest.skip(f"{self.model_name} does not serve unknown users")
        items, scores = fitted.recommend(np.array([-1, train.n_users]), n=train.n_items)
        assert (items >= 0).all() and np.isfinite(scores).all()
        np.testing.assert_array_equal(items[0], items[1])
        if self.cold_start_is_popularity:
            popularity = train.item_popularity()[items[0]]
            assert (np.diff(popularity) <= 0).all(), "unknown users must be ranked by popularity"

    def test_list_length_must_be_positive(self, fitted: Recommender) -> None:
        for n in (0, -3):
            with pytest.raises(ConfigError, match="n must be > 0"):
                fitted.recommend(np.array([0]), n=n)

    def test_score_agrees_with_recommend(self, fitted: Recommender, train: Dataset) -> None:
        users = np.arange(train.n_users)
        if self.supports_unknown_users:
            users = np.append(users, -1)
        full = self.all_scores(fitted, users)
        assert full.shape == (len(users), train.n_items) and full.dtype == np.float32
        items, scores = fitted.recommend(users, n=5)
        np.testing.assert_allclose(np.take_along_axis(full, items, 1), scores, rtol=1e-5, atol=self.score_atol)
        seen = np.zeros_like(full, dtype=bool)
        seen[users >= 0] = train.to_csr().toarray()[users[users >= 0]] > 0
        expected = -np.sort(-np.where(seen, -np.inf, full), axis=1)[:, :5]
        np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=self.score_atol)

    def test_block_structure_is_recovered(self, fitted: Recommender, train: Dataset) -> None:
        """Known answer: each user's top-m are the m unseen items of their own block (random: ~m / unseen)."""
        if not self.expects_personalisation:
            pytest.skip(f"{self.model_name} is not personalised")
        user_block, item_block = self.blocks(train)
        in_block = user_block[:, None] == item_block[None, :]
        unseen = ~(train.to_csr().toarray() > 0)
        targets = (in_block & unseen).sum(axis=1)
        users = np.arange(train.n_users)
        items, _ = fitted.recommend(users, n=int(targets.max()))
        counted = (np.arange(items.shape[1]) < targets[:, None]) & (items >= 0)
        hits = in_block[users[:, None], np.where(counted, items, 0)] & counted
        accuracy = hits.sum() / targets.sum()
        random = (targets / unseen.sum(axis=1)).mean()
        assert accuracy >= max(self.min_block_accuracy, 2 * random), (
            f"block accuracy {accuracy:.3f}, random {random:.3f}"
        )

    def test_save_load_round_trip(self, fitted: Recommender, train: Dataset, tmp_path: Path) -> None:
        path = fitted.save(tmp_path / "model")
        names = sorted(p.name for p in path.iterdir())
        assert names == ["manifest.json", "state.json", "tensors.safetensors"], "only JSON and safetensors"
        json.loads((path / "manifest.json").read_text())
        json.loads((path / "state.json").read_text())
        assert load_file(str(path / "tensors.safetensors"))
        loaded = Recommender.load(path)
        assert type(loaded) is type(fitted) and loaded.config == fitted.config
        users = np.array([0, 5, 11, -1]) if self.supports_unknown_users else np.array([0, 5, 11])
        for a, b in zip(fitted.recommend(users, n=7), loaded.recommend(users, n=7), strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(self.all_scores(fitted, users), self.all_scores(loaded, users))

    def test_tampered_artifact_is_refused(self, fitted: Recommender, tmp_path: Path) -> None:
        path = fitted.save(tmp_path / "model")
        tensors = path / "tensors.safetensors"
        raw = bytearray(tensors.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        tensors.write_bytes(bytes(raw))
        with pytest.raises(ArtifactError, match="checksum"):
            Recommender.load(path)

    def test_refit_starts_over(self, train: Dataset) -> None:
        users = np.arange(train.n_users)
        fresh = self.make_model().fit(train, options=self.fit_options)
        refit = self.make_model().fit(self.make_dataset(seed=1), options=self.fit_options)
        refit.fit(train, options=self.fit_options)
        np.testing.assert_allclose(self.all_scores(refit, users), self.all_scores(fresh, users), rtol=1e-5, atol=1e-6)

    def test_same_seed_same_model(self, fitted: Recommender, train: Dataset) -> None:
        users = np.arange(train.n_users)
        again = self.make_model().fit(train, options=self.fit_options)
        np.testing.assert_allclose(self.all_scores(again, users), self.all_scores(fitted, users), rtol=1e-5, atol=1e-6)
        if self.seed_sensitive:
            other = self.make_model(seed=fitted.config.seed + 1).fit(train, options=self.fit_options)
            assert not np.allclose(self.all_scores(other, users), self.all_scores(fitted, users))

    def test_config_json_round_trip(self) -> None:
        config = self.make_model().config
        again = type(config).from_dict(json.loads(json.dumps(config.to_dict())))
        assert again == config
        assert type(config) is get_model_class(self.model_name).config_class

    def test_unknown_config_key_is_named(self) -> None:
        with pytest.raises(ConfigError, match="no_such_param"):
            self.make_model(no_such_param=1)

    def test_batches_agree_with_single_users(self, fitted: Recommender) -> None:
        users = np.array([4, 9, -1]) if self.supports_unknown_users else np.array([4, 9])
        together = fitted.recommend(users, n=6)
        for row, user in enumerate(users):
            alone = fitted.recommend(np.array([user]), n=6)
            self.assert_equivalent(
                fitted, users[row : row + 1], (together[0][row : row + 1], together[1][row : row + 1]), alone
            )
        self.assert_equivalent(fitted, users, together, fitted.recommend(users, n=6, batch_size=1))
