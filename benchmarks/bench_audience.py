"""Audience precision: of the users picked for an item, how many interact with it in the test period.

Global temporal split (the last 20% of events by time are the test period). iALS is trained on the rest and
served through `RecommendationService` (pipeline + bundle + event store, exactly as `shoprec audience`
runs). For each of the `--items` items with the most test-period users, an audience of `--size` users is
picked three ways among the users the model knows who have not interacted with the item in training
(a campaign promotes an item to people who do not have it yet; the service's list is asked for that many
more users and those are dropped from it):
    service   the served audience: users whose vector scores highest against the item's vector;
    active    the users with the most training events (a "target the heavy buyers" baseline);
    random    a seeded uniform sample.
precision = |picked ∩ users interacting with the item in the test period| / size, averaged over items.
Prints a table and appends a JSON line to benchmarks/results/audience.jsonl.

    python -m benchmarks.bench_audience                                   # the synthetic shop
    SHOPREC_DATA_DIR=../shared/data python -m benchmarks.bench_audience --data ml-100k
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.results_io import with_provenance
from shoprec.config import TrainOptions
from shoprec.data.dataset import Dataset
from shoprec.data.sources import load_dataset
from shoprec.data.split import split_dataset
from shoprec.models.base import VectorRecommender
from shoprec.models.registry import create_model
from shoprec.serving.bundle import write_bundle
from shoprec.serving.pipeline import PipelineConfig
from shoprec.serving.results import AudienceRequest
from shoprec.serving.service import RecommendationService

RESULTS = Path(__file__).parent / "results" / "audience.jsonl"
SHOP = {"n_users": 5000, "n_items": 1000, "n_events": 150_000, "seed": 0}


def precision(picked: np.ndarray, buyers: np.ndarray) -> float:
    return float(np.isin(picked, buyers).mean())


def run(name: str, size: int, n_items: int, threads: int, seed: int) -> dict:
    options = SHOP if name == "synthetic-shop" else {}
    data = load_dataset(name, data_dir=os.environ.get("SHOPREC_DATA_DIR"), **options)
    split = split_dataset(data, "temporal", test=0.2, valid=0.0)
    model = create_model("ials", embedding_size=32, seed=seed).fit(split.train, options=TrainOptions(threads=threads))
    test = split.test.interactions
    test_users = np.bincount(np.unique(test.items * data.n_users + test.users) // data.n_users, minlength=data.n_items)
    targets = np.argsort(-test_users, kind="stable")[:n_items]
    activity = split.train.user_activity()
    train = split.train.interactions
    rng = np.random.default_rng(seed)
    scores: dict[str, list[float]] = {"service": [], "active": [], "random": []}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, _service(model, split.train, Path(tmp)) as service:
        for item in targets:
            buyers = np.unique(test.users[test.items == item])
            had = np.unique(train.users[train.items == item])
            eligible = np.setdiff1d(np.flatnonzero(activity > 0), had)
            members = service.audience(AudienceRequest(items=[data.items.ids[item]], size=size + len(had)))
            picked = data.users.index([user for user, _ in members])
            scores["service"].append(precision(picked[~np.isin(picked, had)][:size], buyers))
            scores["active"].append(precision(eligible[np.argsort(-activity[eligible], kind="stable")[:size]], buyers))
            scores["random"].append(precision(rng.choice(eligible, size, replace=False), buyers))
    result = {
        "benchmark": "audience",
        "dataset": name,
        "size": size,
        "items": len(targets),
        "users_with_vectors": int((activity > 0).sum()),
        **{f"precision_{k}": round(float(np.mean(v)), 4) for k, v in scores.items()},
        "audience_seconds": round(time.perf_counter() - started, 3),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    with open(RESULTS, "a") as fh:
        fh.write(json.dumps(with_provenance(result, seed=seed, threads=threads)) + "\n")
    return result


def _service(model: VectorRecommender, train: Dataset, root: Path) -> RecommendationService:
    """The served pipeline of `model`: artifact, bundle and an empty event store in `root`."""
    model.save(root / "model")
    write_bundle(train, root / "bundle")
    config = PipelineConfig(retrieval=root / "model", bundle=root / "bundle", store=root / "events.sqlite")
    return RecommendationService.open(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", default=["synthetic-shop"])
    parser.add_argument("--size", type=int, default=100, help="users per audience")
    parser.add_argument("--items", type=int, default=50, help="target items (most test-period users first)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{'data':<16}{'items':>6}{'size':>6}{'service':>9}{'active':>8}{'random':>8}")
    for name in args.data:
        r = run(name, args.size, args.items, args.threads, args.seed)
        print(
            f"{name:<16}{r['items']:>6}{r['size']:>6}"
            f"{r['precision_service']:>9.3f}{r['precision_active']:>8.3f}{r['precision_random']:>8.3f}"
        )


if __name__ == "__main__":
    main()
