"""Live user state: the least-squares fold-in against a dense reference and against IALS.fold_in, the MF
fold-in on block data, each family's history encoder and LiveUsers' bookkeeping (growth, events, deletion)."""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import make_block_dataset

from shoprec.config import TrainOptions
from shoprec.data.dataset import Dataset
from shoprec.exceptions import ConfigError, DataError
from shoprec.models.ials import IALS
from shoprec.models.mf import MF
from shoprec.models.sasrec import SASRec
from shoprec.models.two_tower import TwoTower
from shoprec.serving.audience import audience
from shoprec.serving.live import LeastSquaresFoldIn, LiveUsers, grow, history_encoder, training_histories

ONE_THREAD = TrainOptions(threads=1)
WEIGHTS = {"view": 1.0, "cart": 3.0, "purchase": 5.0}


@pytest.fixture(scope="module")
def blocks() -> Dataset:
    return make_block_dataset()


@pytest.fixture(scope="module")
def ials(blocks: Dataset) -> IALS:
    return IALS(embedding_size=6, epochs=4, reg=0.1, alpha=5.0, solver="cholesky").fit(blocks, options=ONE_THREAD)


def test_grow_doubles_capacity_so_appends_copy_rarely() -> None:
    array, copies = np.zeros((1, 3), np.float32), 0
    for rows in range(2, 1001):
        grown = grow(array, rows)
        copies += grown is not array
        array = grown
    assert copies <= 8  # 16, 32, ..., 1024: log2(1000 / 16) + 1 = 7 copies, not 999
    assert array.shape[1:] == (3,) and len(array) >= 1000
    assert grow(array, 5) is array


def test_fold_in_solves_the_dense_normal_equations(rng: np.random.Generator) -> None:
    """Independent reference: with c = 1 + alpha·w on the history and 1 elsewhere, p = 1 on the history,
    u solves (Vᵀ C V + λ I) u = Vᵀ C p with λ = reg · (Σ c)^reg_exponent; repeated items add weights up."""
    v = rng.standard_normal((12, 4))
    alpha, reg, exponent = 2.0, 0.3, 0.5
    items, weights = np.array([1, 5, 5, 9]), np.array([1.0, 2.0, 3.0, 4.0])
    w = np.zeros(12)
    np.add.at(w, items, weights)
    c = 1.0 + alpha * w
    lam = reg * c.sum() ** exponent
    expected = np.linalg.solve(v.T @ (c[:, None] * v) + lam * np.eye(4), v.T @ (c * (w > 0)))
    fold = LeastSquaresFoldIn(v, alpha=alpha, reg=reg, reg_exponent=exponent)
    np.testing.assert_allclose(fold(items, weights), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(fold(np.zeros(0, np.int64), np.zeros(0)), np.zeros(4))


def test_generic_fold_in_matches_ials_fold_in(ials: IALS) -> None:
    fold = LeastSquaresFoldIn.for_model(ials)
    items, weights = np.array([0, 2, 4, 4, 10]), np.array([1.0, 3.0, 1.0, 2.0, 5.0], np.float32)
    np.testing.assert_allclose(fold(items, weights), ials.fold_in(items, weights), atol=1e-5)
    trained = ials.seen_[3].indices  # the model's last half-step solved exactly this (weights 1)
    np.testing.assert_allclose(fold(trained, np.ones(len(trained))), ials.user_vectors([3])[0], atol=1e-5)


def test_bad_fold_in_settings_name_the_parameters() -> None:
    with pytest.raises(ConfigError, match="reg"):
        LeastSquaresFoldIn(np.eye(3), reg=0.0)


def test_mf_fold_in_ranks_held_out_block_items_first() -> None:
    """A user's vector folded in from their training items alone ranks their held-out (own-block) items above
    the other block's items, like the trained MF does."""
    data = make_block_dataset()
    hold = np.random.default_rng(0).random(len(data)) < 0.25
    train = data.with_interactions(data.interactions.take(~hold))
    params = {"embedding_size": 2, "epochs": 8, "batch_size": 512, "negatives": 4, "learning_rate": 0.1}
    model = MF(**params, reg=0.001).fit(train, options=ONE_THREAD)
    encode, vectors = history_encoder(model), model.item_vectors()
    inter, hits, total = train.interactions, 0, 0
    for user in range(data.n_users):
        seen = inter.items[inter.users == user]
        held = data.interactions.items[(data.interactions.users == user) & hold]
        scores = vectors @ encode(seen, np.ones(len(seen), np.float32), user)
        scores[seen] = -np.inf
        top = np.argsort(-scores, kind="stable")[: len(held)]
        hits, total = hits + int((top % 2 == user % 2).sum()), total + len(held)
    assert hits / total >= 0.9


def test_ials_live_users_follow_events(ials: IALS) -> None:
    live = LiveUsers(ials, WEIGHTS)
    np.testing.assert_allclose(live.all_vectors(), ials.user_vectors())
    assert live.n_users == 40 and live.dim == 6
    before = ials.user_vectors([5])[0].copy()
    vector = live.observe(5, np.array([1, 3]), ["view", "purchase"])
    trained = ials.seen_[5].indices
    np.testing.assert_array_equal(live.history(5), np.concatenate([trained, [1, 3]]))
    weights = np.concatenate([np.ones(len(trained)), [1.0, 5.0]])
    np.testing.assert_allclose(vector, ials.fold_in(live.history(5), weights), atol=1e-5)
    np.testing.assert_allclose(live.vector(5), vector)
    np.testing.assert_array_equal(ials.user_vectors([5])[0], before)  # the model is never modified


def test_new_users_get_a_vector_after_their_first_event(ials: IALS) -> None:
    live = LiveUsers(ials, WEIGHTS)
    first, second = live.add_user(), live.add_user()
    assert (first, second, live.n_users) == (40, 41, 42)
    assert live.vector(first) is None
    np.testing.assert_array_equal(live.vectors(np.array([first, 0]))[0], np.zeros(6))
    vector = live.observe(first, np.array([2, 4, 4]), ["view", "cart", "view"])
    np.testing.assert_allclose(vector, ials.fold_in(np.array([2, 4, 4]), np.array([1.0, 3.0, 1.0])), atol=1e-5)
    assert live.vector(second) is None
    np.testing.assert_allclose(live.all_vectors()[first], vector)


def test_many_new_users_keep_earlier_vectors(ials: IALS) -> None:
    live = LiveUsers(ials, WEIGHTS)
    users = [live.add_user() for _ in range(100)]
    vector = live.observe(users[0], np.array([0]), ["view"])
    for user in users[1:]:
        live.observe(user, np.array([user % 30]), ["view"])
    np.testing.assert_allclose(live.vector(users[0]), vector)
    np.testing.assert_allclose(live.all_vectors()[:40], ials.user_vectors())
    assert live.all_vectors().shape == (140, 6)


def test_forget_removes_vector_and_history(ials: IALS) -> None:
    live = LiveUsers(ials, WEIGHTS)
    live.observe(7, np.array([1]), ["cart"])
    live.forget(7)
    assert live.vector(7) is None
    assert len(live.history(7)) == 0
    np.testing.assert_array_equal(live.all_vectors()[7], np.zeros(6))
    newcomer = live.add_user()  # no events yet: no vector either
    picked, _ = audience(live.all_vectors(), ials.user_vectors([7])[0], live.n_users)
    assert len(picked) == 39 and 7 not in picked.tolist() and newcomer not in picked.tolist()
    vector = live.observe(7, np.array([9]), ["view"])  # back as a new user: nothing trained is resurrected
    np.testing.assert_array_equal(live.history(7), [9])
    np.testing.assert_allclose(vector, ials.fold_in(np.array([9])), atol=1e-5)


def test_bad_events_are_refused(ials: IALS) -> None:
    live = LiveUsers(ials, WEIGHTS)
    with pytest.raises(ConfigError, match="events"):
        live.observe(0, np.array([1]), ["click"])
    with pytest.raises(DataError, match="item index"):
        live.observe(0, np.array([30]), ["view"])
    with pytest.raises(DataError, match="user index"):
        live.vector(40)
    with pytest.raises(DataError, match="2 items but 1 events"):
        live.observe(0, np.array([1, 2]), ["view"])


def test_two_tower_encoder_reads_its_history_windows(blocks: Dataset) -> None:
    params = {"embedding_size": 8, "field_size": 4, "layers": (8,), "epochs": 1, "history_len": 4}
    model = TwoTower(**params).fit(blocks, options=ONE_THREAD)
    indptr, items = training_histories(model)
    window = model.module_.user_history.numpy()  # the last 4 training items of each user, in time order
    for user in range(blocks.n_users):  # every seen item, the window's items last and in order
        history, recent = items[indptr[user] : indptr[user + 1]], window[user][window[user] > 0] - 1
        assert set(history.tolist()) == set(model.seen_[user].indices.tolist())
        np.testing.assert_array_equal(history[len(history) - len(recent) :], recent)
        assert len(history) == model.seen_[user].nnz + len(recent) - len(set(recent.tolist()))
    live = LiveUsers(model, WEIGHTS)
    np.testing.assert_allclose(live.all_vectors()[2], model.user_vectors([2])[0], atol=1e-6)
    vector = live.observe(2, np.array([6]), ["view"])
    np.testing.assert_allclose(vector, model.encode_history(live.history(2), 2), atol=1e-6)
    assert live.history(2)[-1] == 6
    new = live.add_user()
    np.testing.assert_allclose(live.observe(new, np.array([3]), ["view"]), model.encode_history(np.array([3])))


def test_sasrec_encoder_keeps_sequence_order(blocks: Dataset) -> None:
    params = {"embedding_size": 8, "max_len": 6, "num_blocks": 1, "num_heads": 1, "epochs": 1, "patience": None}
    model = SASRec(**params).fit(blocks, options=ONE_THREAD)
    live = LiveUsers(model, WEIGHTS)
    seq = model.sequences_
    np.testing.assert_array_equal(live.history(4), seq.items[seq.indptr[4] : seq.indptr[5]])
    vector = live.observe(4, np.array([8, 0]), ["view", "view"])
    np.testing.assert_array_equal(live.history(4)[-2:], [8, 0])
    np.testing.assert_allclose(vector, model.encode_history(live.history(4)), atol=1e-6)
    np.testing.assert_array_equal(training_histories(model)[1], seq.items)
