"""SASRec: sequence building, causality, padding invariance, a known-answer next-item task, history, round trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.models.suite import ModelSuite

from shoprec.config import TrainOptions
from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.split import leave_one_out
from shoprec.data.vocabulary import Vocabulary
from shoprec.evaluation import evaluate
from shoprec.exceptions import ConfigError, DataError, NotFittedError
from shoprec.models.base import Recommender
from shoprec.models.registry import create_model
from shoprec.models.sasrec import SASRec
from shoprec.models.sasrec_net import SASRecNet
from shoprec.models.sequences import Sequences

FAST = {
    "embedding_size": 16,
    "max_len": 8,
    "num_blocks": 1,
    "num_heads": 2,
    "dropout": 0.0,
    "epochs": 30,
    "batch_size": 16,
    "learning_rate": 0.01,
    "patience": None,
}
ONE_THREAD = TrainOptions(threads=1)


class TestSASRec(ModelSuite):
    """The shared contract on the block data set: timestamps are random, so the next item is any item of the
    user's block and the encoder must infer the block from the history. Without dropout the model
    memorises the training next-items (which recommend excludes) and ranks the rest of the block worse."""

    model_name = "sasrec"
    params: ClassVar[dict[str, Any]] = {**FAST, "max_len": 12, "dropout": 0.5, "epochs": 20}
    seed_sensitive = True


def make_dataset(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, **kw: np.ndarray) -> Dataset:
    return Dataset(
        name="seq",
        interactions=Interactions.build(users, items, **kw),
        users=Vocabulary(np.array([f"u{i}" for i in range(n_users)])),
        items=Vocabulary(np.array([f"i{i}" for i in range(n_items)])),
    )


def chain_dataset(n_users: int = 60, n_items: int = 12, length: int = 6, seed: int = 0) -> Dataset:
    """Every user walks item k -> k + 1 (mod n_items) from a random start; rows shuffled, time = step."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, n_items, n_users)
    users = np.repeat(np.arange(n_users), length)
    items = ((start[:, None] + np.arange(length)) % n_items).ravel()
    steps = np.tile(np.arange(length), n_users)
    perm = rng.permutation(len(users))
    return make_dataset(users[perm], items[perm], n_users, n_items, timestamps=steps[perm])


@pytest.fixture(scope="module")
def chain_split():
    return leave_one_out(chain_dataset(), valid=True, by="time")


@pytest.fixture(scope="module")
def chain_model(chain_split) -> SASRec:
    return SASRec(**FAST).fit(chain_split.train, options=ONE_THREAD)


# ------------------------------------------------------------------ sequences
def test_sequences_order_by_time_ties_by_row() -> None:
    data = make_dataset(
        np.array([1, 0, 1, 0, 1]), np.array([5, 3, 4, 2, 6]), 3, 8, timestamps=np.array([2, 1, 1, 1, 0])
    )
    by_time = Sequences.from_dataset(data)
    np.testing.assert_array_equal(by_time.indptr, [0, 2, 5, 5])
    np.testing.assert_array_equal(by_time.items, [3, 2, 6, 4, 5])
    np.testing.assert_array_equal(Sequences.from_dataset(data, "given").items, [3, 2, 5, 4, 6])
    untimed = make_dataset(np.array([0]), np.array([1]), 1, 2)
    with pytest.raises(DataError, match="no timestamps"):
        Sequences.from_dataset(untimed, "time")
    with pytest.raises(ConfigError, match="order"):
        Sequences.from_dataset(data, "newest")


def test_tails_are_right_aligned_last_items_plus_one() -> None:
    seqs = Sequences(np.array([0, 2, 5, 5]), np.array([3, 2, 6, 4, 5]))
    np.testing.assert_array_equal(seqs.tails(np.array([1, 0, 2]), 2), [[5, 6], [4, 3], [0, 0]])
    np.testing.assert_array_equal(seqs.tails(np.array([1, 0]), 4), [[0, 7, 5, 6], [0, 0, 4, 3]])


def test_windows_cover_every_target_from_the_end() -> None:
    seqs = Sequences(np.array([0, 5, 6, 8]), np.array([10, 11, 12, 13, 14, 7, 1, 2]))  # user 1 has one item
    users, inputs, targets = seqs.windows(3)
    np.testing.assert_array_equal(users, [0, 0, 2])
    np.testing.assert_array_equal(inputs, [[0, 0, 11], [12, 13, 14], [0, 0, 2]])
    np.testing.assert_array_equal(targets, [[0, 0, 12], [13, 14, 15], [0, 0, 3]])
    with pytest.raises(ConfigError):
        seqs.windows(0)


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 12), min_size=1, max_size=6),
    width=st.integers(1, 5),
    seed=st.integers(0, 1000),
)
def test_windows_and_tails_match_a_python_reference(lengths: list[int], width: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    seqs = Sequences(indptr, rng.integers(0, 9, indptr[-1]))
    per_user = [seqs.items[indptr[u] : indptr[u + 1]] for u in range(len(lengths))]
    users, inputs, targets = seqs.windows(width)
    assert np.array_equal(inputs > 0, targets > 0)
    for u, seq in enumerate(per_user):  # a user's windows, read in order, are its (previous, next) pairs
        rows = users == u
        got_in, got_out = inputs[rows][inputs[rows] > 0] - 1, targets[rows][targets[rows] > 0] - 1
        np.testing.assert_array_equal(got_in, seq[:-1])
        np.testing.assert_array_equal(got_out, seq[1:])
        assert np.all(targets[rows][:, -1] > 0)  # right-aligned: every window ends with an item
    tails = seqs.tails(np.arange(len(lengths)), width)
    for u, seq in enumerate(per_user):
        expected = np.zeros(width, np.int64)
        tail = seq[len(seq) - min(len(seq), width) :] + 1
        expected[width - len(tail) :] = tail
        np.testing.assert_array_equal(tails[u], expected)


# ------------------------------------------------------------------ the network
def tiny_net(seed: int = 0) -> SASRecNet:
    torch.manual_seed(seed)
    return SASRecNet(n_items=20, dim=16, max_len=8, num_blocks=2, heads=2, dropout=0.3).eval()


def test_causality_later_items_do_not_change_earlier_states() -> None:
    net = tiny_net()
    inputs = torch.tensor([[0, 0, 3, 7, 1, 9, 4, 2], [5, 6, 7, 8, 9, 10, 11, 12]])
    changed = inputs.clone()
    changed[:, 5] = torch.tensor([15, 1])
    with torch.no_grad():
        before, after = net.encode(inputs), net.encode(changed)
    torch.testing.assert_close(before[:, :5], after[:, :5], rtol=0, atol=1e-6)
    assert (before[:, 5:] - after[:, 5:]).abs().amax(dim=2).min() > 1e-4  # the change reaches later positions


def test_padding_invariance_and_no_nan() -> None:
    net = tiny_net()
    history = torch.tensor([3, 7, 1, 9])
    narrow = history[None, :]  # no padding at all
    wide = torch.cat([torch.zeros(1, 4, dtype=torch.long), narrow], dim=1)  # four padding columns
    with torch.no_grad():
        a, b = net.encode(narrow), net.encode(wide)
        empty = net.encode(torch.zeros(2, 8, dtype=torch.long))
    torch.testing.assert_close(a, b[:, 4:], rtol=1e-5, atol=1e-6)
    assert torch.isfinite(b).all() and torch.isfinite(empty).all()


def test_forward_scores_item_positions_only() -> None:
    net = tiny_net()
    inputs = torch.tensor([[0, 0, 0, 0, 0, 3, 7, 1], [0, 0, 0, 0, 0, 0, 2, 5]])
    with torch.no_grad():
        logits = net(inputs)
        hidden = net.encode(inputs)[inputs > 0]
        picked = net(inputs, torch.tensor([[[1, 2]] * 8, [[4, 20]] * 8]))
    assert logits.shape == (5, 20)
    torch.testing.assert_close(logits, hidden @ net.items.weight[1:].T)
    torch.testing.assert_close(picked, logits[:, [0, 1]].where(torch.arange(5)[:, None] < 3, logits[:, [3, 19]]))


# ------------------------------------------------------------------ learning
def top1_next_item_accuracy(model: SASRec, n_items: int) -> float:
    """Share of items k for which the history (k-2, k-1, k) gets k + 1 as its first recommendation."""
    hits = [
        model.recommend_from_history(np.array([k - 2, k - 1, k]) % n_items, n=1)[0][0] == (k + 1) % n_items
        for k in range(n_items)
    ]
    return float(np.mean(hits))


def test_learns_the_next_item_and_test_needs_the_validation_history(chain_split, chain_model: SASRec) -> None:
    assert top1_next_item_accuracy(chain_model, 12) == 1.0
    train_only = evaluate(chain_model, chain_split, ks=[1], beyond_accuracy=False, segments=False, ci=False)
    chain_model.use_history(chain_split.train, chain_split.valid)
    with_valid = evaluate(chain_model, chain_split, ks=[1], beyond_accuracy=False, segments=False, ci=False)
    chain_model.use_history(chain_split.train)
    # test is two steps after the training sequence: only the history that includes valid predicts it exactly
    assert with_valid.metrics["hr@1"] == 1.0
    assert train_only.metrics["hr@1"] < 0.9


def test_bce_with_sampled_negatives_learns_it_too(chain_split) -> None:
    model = SASRec(**{**FAST, "epochs": 40}, loss="bce", negatives=2).fit(chain_split.train, options=ONE_THREAD)
    assert top1_next_item_accuracy(model, 12) >= 0.9


def test_validation_metrics_per_epoch_and_early_stopping(chain_split) -> None:
    model = SASRec(**{**FAST, "epochs": 40, "patience": 3}).fit(
        chain_split.train, valid=chain_split.valid, options=ONE_THREAD
    )
    assert all({"hr@10", "ndcg@10"} <= set(r.metrics) for r in model.history_)
    assert max(r.metrics["ndcg@10"] for r in model.history_) == 1.0
    assert len(model.history_) < 40  # stopped once validation NDCG stopped improving


def test_same_seed_same_model(chain_split) -> None:
    params = {**FAST, "epochs": 3, "dropout": 0.2}
    a = SASRec(**params).fit(chain_split.train, options=ONE_THREAD)
    b = SASRec(**params).fit(chain_split.train, options=ONE_THREAD)
    np.testing.assert_array_equal(a.user_vectors(), b.user_vectors())


# ------------------------------------------------------------------ vectors and history
def test_vectors_reproduce_scores(chain_model: SASRec) -> None:
    users, items = np.array([0, 5, 9]), np.array([[1, 2], [7, 0], [11, 4]])
    by_vectors = np.einsum("bd,bcd->bc", chain_model.user_vectors(users), chain_model.item_vectors(items))
    np.testing.assert_allclose(chain_model.score(users, items), by_vectors, rtol=1e-5, atol=1e-5)
    assert chain_model.user_vectors().shape == (60, 16)
    assert chain_model.item_vectors().shape == (12, 16)


def test_encode_history_matches_user_vectors_and_follows_new_events(chain_model: SASRec) -> None:
    seqs = chain_model.sequences_
    history = seqs.items[seqs.indptr[3] : seqs.indptr[4]]
    vector = chain_model.encode_history(history)
    np.testing.assert_allclose(vector, chain_model.user_vectors(np.array([3]))[0], rtol=1e-5, atol=1e-6)
    after = chain_model.encode_history(np.append(history, (history[-1] + 1) % 12))
    assert np.abs(after - vector).max() > 1e-3
    items, _ = chain_model.recommend_from_history(history, n=5)
    np.testing.assert_array_equal(items, chain_model.recommend(3, n=5)[0][0])
    assert not np.isin(items, history).any()
    long = np.arange(30) % 12  # longer than max_len: only the last 8 items count
    np.testing.assert_allclose(chain_model.encode_history(long), chain_model.encode_history(long[-8:]), atol=1e-6)


def test_no_history_falls_back_to_popularity() -> None:
    data = chain_dataset(n_users=20)
    inter = data.interactions
    keep = inter.users != 4  # user 4 keeps its index but has no events
    train = data.with_interactions(inter.take(keep))
    model = SASRec(**{**FAST, "epochs": 2}).fit(train, options=ONE_THREAD)
    log_popularity = np.log1p(np.bincount(inter.items[keep], minlength=12)).astype(np.float32)
    top3 = np.sort(log_popularity)[::-1][:3]
    for user in (4, -1):  # no history, and unknown
        items, scores = model.recommend(user, n=3)
        np.testing.assert_allclose(scores[0], log_popularity[items[0]])
        np.testing.assert_allclose(scores[0], top3)
    assert not model.user_vectors(np.array([4])).any()
    items, scores = model.recommend_from_history(np.array([], dtype=np.int64), n=3)
    np.testing.assert_allclose(scores, top3)


def test_history_errors(chain_model: SASRec) -> None:
    with pytest.raises(DataError, match="out of range"):
        chain_model.encode_history(np.array([3, 12]))
    with pytest.raises(ConfigError):
        chain_model.recommend_from_history(np.array([1]), n=0)
    with pytest.raises(DataError, match="expected the model's"):
        chain_model.use_history(chain_dataset(n_users=7))
    with pytest.raises(ConfigError):
        chain_model.use_history()
    with pytest.raises(NotFittedError):
        SASRec().encode_history(np.array([1]))


def test_round_trip_keeps_weights_and_history(chain_split, chain_model: SASRec, tmp_path: Path) -> None:
    chain_model.use_history(chain_split.train, chain_split.valid)
    try:
        loaded = Recommender.load(chain_model.save(tmp_path / "sasrec"))
        assert isinstance(loaded, SASRec)
        assert loaded.config == chain_model.config
        np.testing.assert_array_equal(loaded.sequences_.items, chain_model.sequences_.items)
        np.testing.assert_array_equal(loaded.user_vectors(), chain_model.user_vectors())
        np.testing.assert_array_equal(
            loaded.recommend(np.arange(60), n=4)[0], chain_model.recommend(np.arange(60), n=4)[0]
        )
        assert not loaded.net_.training
    finally:
        chain_model.use_history(chain_split.train)


# ------------------------------------------------------------------ config
def test_registered_and_configured_by_name() -> None:
    model = create_model("sasrec", embedding_size=32, num_heads=4, loss="bce")
    assert isinstance(model, SASRec)
    assert (model.config.embedding_size, model.config.num_heads, model.config.loss) == (32, 4, "bce")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"embedding_size": 10, "num_heads": 3}, "num_heads"),
        ({"loss": "bpr"}, "loss"),
        ({"dropout": 1.0}, "dropout"),
        ({"max_len": 0}, "max_len"),
        ({"num_blocks": 0}, "num_blocks"),
        ({"negatives": 0}, "negatives"),
        ({"order": "newest"}, "order"),
        ({"epochs": 0}, "epochs"),
    ],
)
def test_invalid_config_names_the_parameter(params: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        SASRec(**params)


# ------------------------------------------------------------------ real data
@pytest.mark.realdata
def test_beauty_sequences_follow_the_file(real_data_dir: Path) -> None:
    from shoprec.data.sources import load_dataset

    data = load_dataset("amazon-beauty", data_dir=real_data_dir)
    seqs = Sequences.from_dataset(data)
    lines = (real_data_dir / "amazon-beauty" / "Beauty.txt").read_text().split("\n")
    for line in [lines[0], lines[1000], lines[-2] or lines[-1]]:
        user, *items = line.split()
        u = data.users.index_of(user)
        np.testing.assert_array_equal(data.items.external(seqs.items[seqs.indptr[u] : seqs.indptr[u + 1]]), items)
