"""Profiling a log before training (exact numbers on a hand-made log) and exporting a data set as shop files."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.export import export_dataset
from shoprec.data.profile import profile_dataset
from shoprec.data.sources.local import load_local
from shoprec.data.synthetic import generate_shop
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import ConfigError

DAY = 86_400
pytestmark = pytest.mark.filterwarnings("ignore:.*exact duplicate row")


def _log(timestamps: bool = True) -> Dataset:
    """u0: i0 view, i0 cart, i1 purchase; u1: i1 view; u2: i2 view. Five catalog items, two never touched."""
    users, items, events = [0, 0, 0, 1, 2], [0, 0, 1, 1, 2], [0, 1, 2, 0, 0]
    times = np.array([0, DAY, 2 * DAY, 0, 3 * DAY]) if timestamps else None
    return Dataset(
        name="log",
        interactions=Interactions.build(np.array(users), np.array(items), timestamps=times, events=np.array(events)),
        users=Vocabulary(np.array(["u0", "u1", "u2"])),
        items=Vocabulary(np.array([f"i{k}" for k in range(5)])),
        event_types=("view", "cart", "purchase"),
    )


def test_profile_numbers_of_a_hand_made_log() -> None:
    profile = profile_dataset(_log(), ["a loader warning"])
    assert (profile["events"], profile["users"], profile["items"]) == (5, 3, 3)
    assert (profile["catalog_items"], profile["cold_items"], profile["cold_users"]) == (5, 2, 0)
    assert Fraction(profile["density"]).limit_denominator(100) == Fraction(5, 9)
    assert Fraction(profile["users_with_one_event"]).limit_denominator(100) == Fraction(2, 3)
    assert Fraction(profile["repeat_rate"]).limit_denominator(100) == Fraction(1, 5)  # (u0, i0) twice
    per_user = profile["events_per_user"]
    assert (per_user["min"], per_user["p50"], per_user["max"]) == (1, 1, 3)
    assert per_user["mean"] == pytest.approx(5 / 3)
    assert profile["event_types"]["view"] == {"events": 3, "share": pytest.approx(0.6)}
    time = profile["time"]
    assert (time["first"], time["last"], time["days"]) == ("1970-01-01T00:00:00Z", "1970-01-04T00:00:00Z", 3.0)
    assert time["events_per_day"] == {"mean": 1.25, "median": 1.0, "max": 2, "days_without_events": 0}
    assert profile["warnings"] == ["a loader warning"]
    assert profile["suggested_split"]["method"] == "temporal"
    flags = " | ".join(profile["flags"])
    assert "67% of users have a single event" in flags
    assert "only 5 events" in flags
    assert "40% of catalog items have no events" in flags


def test_without_timestamps_the_split_is_not_temporal_and_that_is_flagged() -> None:
    profile = profile_dataset(_log(timestamps=False))
    assert profile["time"] is None
    assert profile["suggested_split"]["method"] == "random"  # median user has one event
    assert any(flag.startswith("no timestamps") for flag in profile["flags"])


def test_export_then_load_gives_back_events_and_features(tmp_path: Path) -> None:
    shop = generate_shop(n_users=30, n_items=20, n_events=300, seed=1)
    written = export_dataset(shop, tmp_path, fmt="parquet")
    assert [p.name for p in written] == ["events.parquet", "items.parquet", "users.parquet"]
    back = load_local(tmp_path)
    assert back.items.to_list() == shop.items.to_list() and back.users.to_list() == shop.users.to_list()
    rows = {(u, i, t) for u, i, t in zip(shop.users.external(shop.interactions.users),
                                            shop.items.external(shop.interactions.items),
                                            shop.interactions.timestamps, strict=True)}  # fmt: skip
    got = set(zip(back.users.external(back.interactions.users), back.items.external(back.interactions.items),
                  back.interactions.timestamps, strict=True))  # fmt: skip
    assert got == rows
    for name in ("category", "brand"):
        original, loaded = shop.item_features[name], back.item_features[name]
        assert [original.values[c - 1] for c in original.codes] == [loaded.values[c - 1] for c in loaded.codes]
    np.testing.assert_allclose(back.item_features["price"].values, shop.item_features["price"].values, rtol=1e-6)


def test_export_writes_titles_and_refuses_an_unknown_format(tmp_path: Path) -> None:
    shop = generate_shop(n_users=5, n_items=4, n_events=20, seed=0)
    titled = replace(shop, metadata={**shop.metadata, "item_titles": ["A", "B", "C", "D"]})
    export_dataset(titled, tmp_path, fmt="csv")
    catalog = pl.read_csv(tmp_path / "items.csv")
    assert catalog.columns == ["item_id", "title", "category", "brand", "price"]
    assert catalog["title"].to_list() == ["A", "B", "C", "D"]
    assert load_local(tmp_path).metadata["item_titles"] == ["A", "B", "C", "D"]  # the title column is guessed
    with pytest.raises(ConfigError, match=r"--format: expected one of \['csv', 'tsv', 'parquet', 'jsonl'\]"):
        export_dataset(shop, tmp_path, fmt="xlsx")
