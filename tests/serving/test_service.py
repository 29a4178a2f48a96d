"""RecommendationService over a tiny trained shop: every method, restarts, tampering, swaps under load."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tests.serving.shop import pipeline, train_split, trained_run

from shoprec.exceptions import ArtifactError, ConfigError, DataError, NotFoundError
from shoprec.experiment import load_run
from shoprec.serving.catalog import Catalog, ItemFilter
from shoprec.serving.coldstart import ColdStart
from shoprec.serving.pipeline import PipelineConfig
from shoprec.serving.results import AudienceRequest
from shoprec.serving.rwlock import ReadWriteLock
from shoprec.serving.service import RecommendationService
from shoprec.serving.store import Event


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return trained_run(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def model(run):
    return load_run(run)[1]


@pytest.fixture(scope="module")
def shared(run, tmp_path_factory) -> PipelineConfig:
    return pipeline(run, tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="module")
def catalog(shared) -> Catalog:
    return Catalog.load(shared.bundle / "catalog")


@pytest.fixture
def config(shared, tmp_path) -> PipelineConfig:
    """The shared artifacts with an event store of this test's own."""
    return replace(shared, store=tmp_path / "events.sqlite")


@pytest.fixture
def service(config):
    with RecommendationService.open(config) as opened:
        yield opened


def ids(result) -> list[str]:
    return [r.item for r in (result.items if hasattr(result, "items") else result)]


# ---------------------------------------------------------------------------------------------- recommend
def test_personal_list_is_the_models_own_top_n_with_history_reasons(service, model):
    user = model.user_vocab_.index_of("u000")
    expected, scores = model.recommend(np.array([user]), 10)
    result = service.recommend("u000", 10)
    assert result.source == "personal" and result.version == service.version
    assert ids(result) == model.item_vocab_.external(expected[0]).tolist()
    np.testing.assert_allclose([r.score for r in result.items], scores[0], rtol=1e-4, atol=1e-6)
    history = set(model.item_vocab_.external(model.seen_[user].indices).tolist())
    for r in result.items:
        assert r.reason.startswith("because you viewed ") and r.reason.removeprefix("because you viewed ") in history


def test_filters_are_honoured(service, catalog):
    name = catalog.category_names[1]
    in_category = service.recommend("u004", 8, filters=ItemFilter(categories=[name]))
    assert in_category.items and all(catalog.category[catalog.index_of([i])[0]] == 1 for i in ids(in_category))
    low, high = np.nanpercentile(catalog.price, [25, 75])
    priced = service.recommend("u004", 8, filters=ItemFilter(price_min=float(low), price_max=float(high)))
    prices = catalog.price[catalog.index_of(ids(priced))]
    assert len(prices) == 8 and ((prices >= low) & (prices <= high)).all()
    top = ids(service.recommend("u004", 5))[0]
    service.upsert_item(top, {"in_stock": False})
    assert top in ids(service.recommend("u004", 5))
    assert top not in ids(service.recommend("u004", 5, filters=ItemFilter(in_stock=True)))


def test_a_purchase_is_never_recommended_and_moves_the_vector(config):
    with RecommendationService.open(replace(config, exclude_seen=False)) as service:
        before = service.recommend("u005", 10)
        top = before.items[0].item
        service.ingest([Event("u005", top, "view")])
        viewed = service.recommend("u005", 10)
        assert top in ids(viewed)  # seen items may come back when exclude_seen is off...
        moved = {r.item: r.score for r in viewed.items}
        assert any(abs(moved[r.item] - r.score) > 1e-6 for r in before.items if r.item in moved)
        service.ingest([Event("u005", top, "purchase")])
        assert top not in ids(service.recommend("u005", 60))  # ...purchased ones never


def test_cold_start_follows_the_profile_segment(service, shared, catalog):
    coldstart = ColdStart.load(shared.bundle / "coldstart")
    lists = {}
    for segment in ("budget", "premium"):
        service.put_profile(f"new-{segment}", {"segment": segment})
        result = service.recommend(f"new-{segment}", 10)
        assert result.source == "cold_start"
        assert {r.reason for r in result.items} == {f"popular with {segment} shoppers"}
        best = np.sort(coldstart.scores({"segment": segment}))[::-1][:10]
        np.testing.assert_allclose([r.score for r in result.items], best, rtol=1e-6)
        lists[segment] = ids(result)
    assert lists["budget"] != lists["premium"]
    name = catalog.category_names[2]
    browsing = service.recommend("someone-new", 5, context_category=name)
    assert all(catalog.category[catalog.index_of([i])[0]] == 2 for i in ids(browsing))
    assert browsing.items[0].reason == f"popular in {name}"


def test_a_new_user_becomes_personal_after_a_first_event(service):
    assert service.recommend("visitor", 5).source == "cold_start"
    service.ingest([Event("visitor", "i10", "cart")])
    result = service.recommend("visitor", 5)
    assert result.source == "personal" and "i10" not in ids(result)
    assert {r.reason for r in result.items} == {"because you viewed i10"}


def test_request_knobs_change_the_list(config, model):
    with RecommendationService.open(replace(config, rerank=[{"step": "mmr", "lambda": 0.0}])) as service:
        configured = service.recommend("u010", 10)
        plain = service.recommend("u010", 10, diversity=0.0)  # 0 turns the configured MMR off
        assert ids(plain) == ids(service.recommend("u010", 10, diversity=0.0, long_tail=0.0))
        assert set(ids(configured)) != set(ids(plain))
        assert ids(service.recommend("u010", 10, diversity=1.0)) == ids(configured)  # 1 = MMR with lambda 0
        popularity = model.item_popularity_[model.item_vocab_.index(ids(plain))].mean()
        boosted = service.recommend("u010", 10, diversity=0.0, long_tail=10.0)
        assert model.item_popularity_[model.item_vocab_.index(ids(boosted))].mean() < popularity
        with pytest.raises(ConfigError, match="diversity"):
            service.recommend("u010", 10, diversity=1.5)
        with pytest.raises(ConfigError, match="n must be"):
            service.recommend("u010", 0)


def test_similar_items_are_the_exact_inner_product_neighbours(service, model):
    vectors = model.item_vectors()
    item = model.item_vocab_.index_of("i07")
    scores = vectors @ vectors[item]
    scores[item] = -np.inf
    expected = model.item_vocab_.external(np.argsort(-scores, kind="stable")[:6]).tolist()
    result = service.similar("i07", 6)
    assert ids(result) == expected and result[0].reason == "similar to i07"
    with pytest.raises(NotFoundError, match="i99"):
        service.similar("i99")


# ----------------------------------------------------------------------------------------------- writes
def test_a_new_item_is_searchable_at_once_with_its_category_mean_vector(service, model, catalog):
    name = catalog.category_names[0]
    index, created = service.upsert_item("fresh", {"category": name, "price": 9.5, "title": "Fresh thing"})
    assert created and index == model.n_items_
    assert service.upsert_item("fresh", {"price": 8.0}) == (index, False)
    peers = np.flatnonzero(catalog.category[: model.n_items_] == 0)
    vectors = model.item_vectors()
    mean = vectors[peers].mean(axis=0)
    neighbours = service.similar("fresh", 5)
    expected = vectors[model.item_vocab_.index(ids(neighbours))] @ mean
    np.testing.assert_allclose([r.score for r in neighbours], expected, rtol=1e-4)
    everything = service.recommend("u011", len(peers) + 1, filters=ItemFilter(categories=[name]))
    assert "fresh" in ids(everything)
    assert next(r.title for r in everything.items if r.item == "fresh") == "Fresh thing"
    with pytest.raises((ConfigError, DataError)):
        service.upsert_item("broken", {"price": -1})


def test_ingest_refuses_unknown_items_and_event_types_and_stores_nothing(service):
    with pytest.raises(NotFoundError, match=r"events\[1\]: unknown item 'nope'"):
        service.ingest([Event("u000", "i01", "view"), Event("u000", "nope", "view")])
    with pytest.raises(DataError, match="event"):
        service.ingest([Event("u000", "i01", "wishlist")])
    assert service.stats()["events"] == 0
    assert service.ingest([Event("u000", "i01"), Event("u004", "i02", "purchase")]) == [1, 2]
    assert service.stats()["events"] == 2


def test_health_and_stats(service, model):
    health = service.health()
    assert health == {"status": "ok", "version": service.version, "items": model.n_items_, "users": model.n_users_}
    stats = service.stats()
    assert stats["index_size"] == model.n_items_ and stats["index_kind"] == "exact"
    assert stats["event_lag_seconds"] is None
    service.ingest([Event("u000", "i01", timestamp=1.0)])
    assert service.stats()["event_lag_seconds"] > 1e9


# ---------------------------------------------------------------------------------------------- audience
def brute_force_audience(model, target: np.ndarray, size: int) -> list[str]:
    active = np.diff(model.seen_.indptr) > 0
    scores = np.where(active, model.user_vectors() @ target, -np.inf)
    return model.user_vocab_.external(np.argsort(-scores, kind="stable")[:size]).tolist()


def test_audience_picks_the_best_scoring_users(service, model, catalog):
    item = model.item_vocab_.index_of("i05")
    members = service.audience(AudienceRequest(items=["i05"], size=10))
    assert [u for u, _ in members] == brute_force_audience(model, model.item_vectors()[item], 10)
    assert all(a >= b for (_, a), (_, b) in itertools.pairwise(members))
    in_category = np.flatnonzero(catalog.category[: model.n_items_] == 3)
    target = model.item_vectors()[in_category].mean(axis=0)
    by_category = service.audience(AudienceRequest(category=catalog.category_names[3], size=7))
    assert [u for u, _ in by_category] == brute_force_audience(model, target, 7)
    with pytest.raises(NotFoundError):
        service.audience(AudienceRequest(category="no such category"))
    with pytest.raises(NotFoundError):
        service.audience(AudienceRequest(items=["i99"]))


def test_audience_leaves_out_recent_buyers_and_respects_the_frequency_cap(service):
    first = [u for u, _ in service.audience(AudienceRequest(items=["i05"], size=5))]
    service.ingest([Event(first[0], "i05", "purchase")])
    again = [u for u, _ in service.audience(AudienceRequest(items=["i05"], size=5, exclude_purchased_days=30))]
    assert first[0] not in again and again[:4] == first[1:]
    campaign_a = [u for u, _ in service.audience(AudienceRequest(items=["i05"], size=5, campaign="a"))]
    capped = AudienceRequest(items=["i05"], size=5, frequency_cap=1, campaign="b")
    campaign_b = [u for u, _ in service.audience(capped)]
    assert not set(campaign_a) & set(campaign_b) and len(campaign_b) == 5
    loose = AudienceRequest(items=["i05"], size=5, frequency_cap=3)
    assert [u for u, _ in service.audience(loose)] == campaign_a  # one or two sends each: under the cap of 3


def test_audience_min_score_and_min_score_monotonicity(service):
    everyone = service.audience(AudienceRequest(items=["i01"], size=1000))
    threshold = everyone[20][1]
    kept = service.audience(AudienceRequest(items=["i01"], size=1000, min_score=threshold))
    assert [u for u, _ in kept] == [u for u, s in everyone if s >= threshold]


# ---------------------------------------------------------------------------------------------- deletion
def test_delete_user_removes_everything_served_and_survives_restart(config):
    with RecommendationService.open(config) as service:
        service.put_profile("u006", {"segment": "budget"})
        service.ingest([Event("u006", "i01", "view"), Event("u006", "i02", "cart")])
        service.audience(AudienceRequest(items=["i01"], size=1000, campaign="spring"))
        removed = service.delete_user("u006")
        assert removed == {"events": 2, "profile": 1, "sends": 1, "vector": 1}
        assert service.recommend("u006", 5).source == "cold_start"
        assert "u006" not in {u for u, _ in service.audience(AudienceRequest(items=["i01"], size=1000))}
        assert service.delete_user("u006") == {"events": 0, "profile": 0, "sends": 0, "vector": 0}
        with pytest.raises(NotFoundError, match="ghost"):
            service.delete_user("ghost")
    with RecommendationService.open(config) as reopened:
        assert reopened.recommend("u006", 5).source == "cold_start"
        reopened.ingest([Event("u006", "i03", "view")])  # a deleted user may come back, from scratch
        assert reopened.recommend("u006", 5).source == "personal"


# ----------------------------------------------------------------------------------------------- restart
def test_a_restart_serves_exactly_what_was_served(config):
    users = ["u000", "u008", "newcomer", "profile-only"]
    with RecommendationService.open(config) as service:
        service.upsert_item("fresh", {"category": "c1", "price": 3.0})
        service.put_profile("profile-only", {"segment": "premium"})
        service.ingest([Event("u000", "i03", "purchase"), Event("newcomer", "i04", "view")])
        service.ingest([Event("newcomer", "fresh", "view"), Event("u008", "i08", "cart"), Event("u000", "i09")])
        before = {u: service.recommend(u, 10) for u in users}
        version = service.version
    with RecommendationService.open(config) as reopened:
        assert reopened.version == version and reopened.stats()["replayed_events"] == 5
        for user in users:
            after = reopened.recommend(user, 10)
            assert (after.source, ids(after)) == (before[user].source, ids(before[user]))
            np.testing.assert_allclose([r.score for r in after.items], [r.score for r in before[user].items], rtol=1e-5)


def test_a_tampered_artifact_is_refused_naming_the_file(config, run, tmp_path):
    import shutil

    copy = shutil.copytree(run / "model", tmp_path / "model")
    tensors = copy / "tensors.safetensors"
    data = bytearray(tensors.read_bytes())
    data[-1] ^= 0xFF
    tensors.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=f"{tensors}: checksum mismatch"):
        RecommendationService.open(replace(config, retrieval=copy))
    bundle = shutil.copytree(config.bundle, tmp_path / "bundle")
    (bundle / "coldstart" / "state.json").write_text("{}")
    with pytest.raises(ArtifactError, match=r"coldstart/state\.json: checksum mismatch"):
        RecommendationService.open(replace(config, bundle=bundle))


# -------------------------------------------------------------------------------------------------- swap
def test_swap_while_reading_from_threads_drops_nothing(config, tmp_path):
    other = pipeline(trained_run(tmp_path / "run2", seed=7), tmp_path / "pipeline2", store=config.store)
    errors: list[BaseException] = []
    versions: set[str] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                versions.add(service.recommend("u000", 5).version)
                service.similar("i01", 3)
            except BaseException as exc:  # any failure of a read is what this test looks for
                errors.append(exc)

    with RecommendationService.open(config) as service:
        first = service.version
        readers = [threading.Thread(target=read) for _ in range(3)]
        for thread in readers:
            thread.start()
        service.ingest([Event("u000", "i02", "view")])
        second = service.swap(other)
        assert service.stats()["replayed_events"] == 1  # the swapped-in state replayed the first event
        service.ingest([Event("u000", "i03", "view")])
        deadline = time.monotonic() + 10
        while second not in versions and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
        for thread in readers:
            thread.join()
    assert errors == [] and second != first and {first, second} <= versions


# ------------------------------------------------------------------------------------------------ ranker
def test_a_ranker_reorders_the_retrieval_candidates(config, model, tmp_path):
    from shoprec.models.deepfm import DeepFM

    ranker = DeepFM(embedding_size=4, layers=(8,), epochs=1, seed=0)
    ranker.fit_ranker(train_split(), model, candidates_per_user=10)
    ranker.save(tmp_path / "ranker")
    user = model.user_vocab_.index_of("u000")
    candidates, scores = model.recommend(np.array([user]), 20)
    ranked = ranker.rerank(np.array([user]), candidates, scores)[0]
    expected = model.item_vocab_.external(candidates[0][np.argsort(-ranked, kind="stable")[:5]]).tolist()
    with RecommendationService.open(replace(config, ranker=tmp_path / "ranker", candidates=20)) as service:
        result = service.recommend("u000", 5)
    assert ids(result) == expected
    np.testing.assert_allclose([r.score for r in result.items], np.sort(ranked)[::-1][:5], rtol=1e-5)


def test_the_lock_lets_readers_share_and_a_writer_wait_for_them_and_go_first():
    lock, order = ReadWriteLock(), []
    first_in, release = threading.Event(), threading.Event()

    def first_reader() -> None:
        with lock.read():
            first_in.set()
            release.wait(5)
            order.append("first read")

    def writer() -> None:
        with lock.write():
            order.append("write")

    def late_reader() -> None:
        with lock.read():
            order.append("late read")

    threads = [threading.Thread(target=first_reader)]
    threads[0].start()
    first_in.wait(5)
    with lock.read():  # readers share the lock
        order.append("second read")
    threads += [threading.Thread(target=writer), threading.Thread(target=late_reader)]
    threads[1].start()
    deadline = time.monotonic() + 5
    while not lock._writers_waiting and time.monotonic() < deadline:  # the writer is queued
        time.sleep(0.001)
    threads[2].start()
    time.sleep(0.05)
    assert order == ["second read"]  # the writer waits for the first reader; the late reader for the writer
    release.set()
    for thread in threads:
        thread.join(5)
    assert order == ["second read", "first read", "write", "late read"]


# ------------------------------------------------------------------------------------------- index settings
def test_an_ivf_index_is_calibrated_on_the_models_users_unless_nprobe_is_fixed(config, model):
    with RecommendationService.open(replace(config, index={"exact_below": 1, "nlist": 4})) as service:
        stats = service.stats()
        assert stats["index_kind"] == "ivf"
        assert stats["index_calibration_recall"] >= 0.95
        assert 1 <= stats["index_nprobe"] <= 4
    fixed = replace(config, index={"exact_below": 1, "nlist": 4, "nprobe": 3})
    with RecommendationService.open(fixed) as service:
        assert service.stats()["index_nprobe"] == 3 and "index_calibration_recall" not in service.stats()


def test_a_filtered_cold_start_list_beyond_the_ranking_comes_from_every_item(service, shared, catalog, monkeypatch):
    """With a ranking of 3 items a one-category filter leaves too few: the list is ranked over every item."""
    monkeypatch.setattr("shoprec.serving.coldstart.RANKED", 3)
    coldstart = ColdStart.load(shared.bundle / "coldstart")
    name = catalog.category_names[1]
    result = service.recommend("filtered-visitor", 5, filters=ItemFilter(categories=[name]))
    assert result.source == "cold_start" and len(result.items) == 5
    in_category = np.flatnonzero(catalog.category[: coldstart.n_items] == 1)
    best = np.sort(coldstart.scores()[in_category])[::-1][:5]
    np.testing.assert_allclose([r.score for r in result.items], best, rtol=1e-6)
    assert all(catalog.category[catalog.index_of([i])[0]] == 1 for i in ids(result))
