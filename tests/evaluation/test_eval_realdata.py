"""Known answers on the public ML-1M NCF split (needs SHOPREC_DATA_DIR)."""

from __future__ import annotations

import dataclasses

import pytest

from shoprec.data.sources import load_dataset
from shoprec.evaluation import evaluate
from shoprec.models.popularity import Popularity


@pytest.mark.realdata
def test_item_popularity_on_the_ncf_protocol_matches_the_paper(real_data_dir):
    split = load_dataset("ml-1m-ncf", data_dir=real_data_dir)
    model = Popularity().fit(split.train)
    sampled = evaluate(model, split, ks=(10,), segments=False, ci=False)
    # He et al. 2017 (NCF), ItemPop on MovieLens-1M: HR@10 0.454, NDCG@10 0.254
    assert sampled.protocol == "ncf" and sampled.n_users == 6040
    assert sampled.metrics["hr@10"] == pytest.approx(0.454, abs=0.005)
    assert sampled.metrics["ndcg@10"] == pytest.approx(0.254, abs=0.005)
    full = evaluate(model, dataclasses.replace(split, protocol="full"), ks=(10,), segments=False, ci=False)
    # uniform sampled negatives make the sampled AUC an unbiased estimate of the full-catalog AUC
    assert full.metrics["auc"] == pytest.approx(sampled.metrics["auc"], abs=0.01)
    assert full.metrics["hr@10"] < sampled.metrics["hr@10"] / 5  # full ranking is far harder
