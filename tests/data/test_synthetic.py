"""The synthetic shop: exact size, determinism, a consistent funnel, sessions, power law and learnable signal."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from shoprec.data import synthetic
from shoprec.data.dataset import Dataset
from shoprec.data.split import leave_one_out
from shoprec.data.synthetic import EVENT_TYPES, generate_shop
from shoprec.exceptions import ConfigError


@pytest.fixture(scope="module")
def shop() -> Dataset:
    return generate_shop(n_users=400, n_items=300, n_events=30_000, seed=3)


def frame(data: Dataset) -> pl.DataFrame:
    inter = data.interactions
    return pl.DataFrame(
        {
            "user": inter.users,
            "item": inter.items,
            "time": inter.timestamps,
            "event": inter.events,
            "category": data.item_features["category"].codes[inter.items] - 1,
        }
    )


def test_shape_types_and_features(shop: Dataset) -> None:
    inter = shop.interactions
    assert len(shop) == 30_000 and shop.n_users == 400 and shop.n_items == 300
    assert shop.event_types == EVENT_TYPES == ("view", "cart", "purchase")
    assert (np.diff(inter.timestamps) >= 0).all()
    assert set(np.unique(inter.events).tolist()) == {0, 1, 2}
    assert np.array_equal(inter.weights, np.array([1.0, 3.0, 5.0], dtype=np.float32)[inter.events])
    assert shop.users.ids[:2].tolist() == ["u000", "u001"] and shop.items.ids[-1] == "i299"
    items, users = shop.item_features, shop.user_features
    assert items.names() == ["category", "brand", "price"] and users.names() == ["segment", "age"]
    assert items["category"].values[:2] == ("c00", "c01") and len(items["brand"].values) == 50
    assert items["category"].codes.min() >= 1 and (items["price"].values > 0).all()
    assert users["segment"].values == ("budget", "mainstream", "premium")
    assert set(np.unique(users["age"].codes).tolist()) <= {1, 2, 3, 4, 5}
    assert shop.metadata["seed"] == 3 and shop.metadata["n_events"] == 30_000


def test_deterministic_per_seed(shop: Dataset) -> None:
    again = generate_shop(n_users=400, n_items=300, n_events=30_000, seed=3)
    other = generate_shop(n_users=400, n_items=300, n_events=30_000, seed=4)
    for column in ("users", "items", "timestamps", "events"):
        assert np.array_equal(getattr(again.interactions, column), getattr(shop.interactions, column))
    assert np.array_equal(again.item_features["price"].values, shop.item_features["price"].values)
    assert not np.array_equal(other.interactions.items, shop.interactions.items)


def test_funnel_is_consistent_and_purchases_repeat(shop: Dataset) -> None:
    """Per (user, item): a cart comes after a view, a purchase after a cart; some purchases repeat."""
    firsts = (
        frame(shop)
        .group_by("user", "item", "event")
        .agg(pl.col("time").min().alias("first"), pl.len().alias("n"))
        .pivot(on="event", index=["user", "item"], values=["first", "n"])
    )
    carts = firsts.filter(pl.col("first_1").is_not_null())
    assert (carts["first_0"] <= carts["first_1"]).all()
    buys = firsts.filter(pl.col("first_2").is_not_null())
    assert buys["first_1"].is_not_null().all() and (buys["first_1"] <= buys["first_2"]).all()
    assert (buys["n_2"] > buys["n_1"]).sum() > 20  # repeat purchases (more purchases than carts)
    views, carts_n, purchases = np.bincount(shop.interactions.events, minlength=3)
    assert views > 3 * carts_n and carts_n > purchases > 0


def test_sessions_stay_in_a_category(shop: Dataset) -> None:
    views = frame(shop).filter(pl.col("event") == 0).sort("user", "time")
    user, time, category = (views[c].to_numpy() for c in ("user", "time", "category"))
    same_user = user[1:] == user[:-1]
    same_session = same_user & (np.diff(time) < 1800)
    long_gap = same_user & (np.diff(time) > 86_400)
    assert same_session.mean() > 0.4 and long_gap.mean() > 0.1  # bursts of clicks, days apart
    same_category = category[1:] == category[:-1]
    share = np.bincount(category) / len(category)
    assert same_category[same_session].mean() > 0.6 > 3 * (share**2).sum()  # vs. two independent views


def test_popularity_has_a_long_tail(shop: Dataset) -> None:
    counts = np.sort(shop.item_popularity())[::-1]
    assert counts[:30].sum() > 0.35 * counts.sum()  # top 10% of items: over a third of the events
    assert counts[150:].sum() < 0.15 * counts.sum()  # bottom half: under 15%


def test_price_sensitive_segments_buy_less_of_expensive_items(shop: Dataset) -> None:
    inter = shop.interactions
    price = shop.item_features["price"].values[inter.items]
    expensive = price > np.median(shop.item_features["price"].values)
    segment = shop.user_features["segment"].codes[inter.users] - 1

    def conversion(seg: int) -> float:
        rows = expensive & (segment == seg)
        return (inter.events[rows] == 2).sum() / (inter.events[rows] == 1).sum()

    assert conversion(0) < 0.8 * conversion(2)  # budget vs premium


def test_history_category_beats_popularity_beats_random(shop: Dataset) -> None:
    """Leave-one-out HR@10: popularity within the user's past categories >> popularity >> random."""
    split = leave_one_out(shop)
    train, test = split.train.interactions, split.test.interactions
    category = shop.item_features["category"].codes - 1
    popularity = split.train.item_popularity().astype(np.float64)
    taste = np.zeros((shop.n_users, category.max() + 1))
    np.add.at(taste, (train.users, category[train.items]), 1.0)

    def hit_rate(scores: np.ndarray) -> float:
        top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
        return float((top == test.items[:, None]).any(axis=1).mean())

    personal = hit_rate(taste[test.users][:, category] * popularity)
    popular = hit_rate(np.tile(popularity, (len(test), 1)))
    random = hit_rate(np.random.default_rng(0).random((len(test), shop.n_items)))
    assert personal > 1.5 * popular and popular > 3 * random


def test_generates_in_chunks_to_the_exact_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synthetic, "SESSIONS_PER_CHUNK", 50)
    data = generate_shop(n_users=30, n_items=40, n_events=2_001, n_categories=50, seed=1)
    assert len(data) == 2_001 and (np.diff(data.interactions.timestamps) >= 0).all()
    used = np.unique(data.item_features["category"].codes[data.interactions.items])
    assert len(used) <= 40  # more categories than items: empty ones are never drawn


def test_invalid_parameters_are_named() -> None:
    with pytest.raises(ConfigError, match="n_users"):
        generate_shop(n_users=0)
    with pytest.raises(ConfigError, match="latent_dim"):
        generate_shop(latent_dim=2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="event_weights"):
        generate_shop(event_weights={"view": 1.0, "purchase": 5.0})
