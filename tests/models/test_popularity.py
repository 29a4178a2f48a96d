"""Popularity: the shared suite, plus its known answer (counts, optionally weighted)."""

from __future__ import annotations

import numpy as np
from tests.models.suite import ModelSuite

from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.vocabulary import Vocabulary
from shoprec.models.popularity import Popularity


class TestPopularity(ModelSuite):
    model_name = "popularity"
    expects_personalisation = False


def test_scores_are_counts_or_summed_weights() -> None:
    inter = Interactions.build([0, 1, 1, 2, 2, 2], [2, 2, 0, 2, 1, 0], weights=[1, 1, 5, 1, 1, 5])
    data = Dataset("tiny", inter, Vocabulary(np.array(["a", "b", "c"])), Vocabulary(np.array(["x", "y", "z", "w"])))
    counts = Popularity().fit(data)
    np.testing.assert_array_equal(counts.score(np.array([0]), np.arange(4)), [[2, 1, 3, 0]])
    weighted = Popularity(weighted=True).fit(data)
    np.testing.assert_array_equal(weighted.score(np.array([0]), np.arange(4)), [[10, 1, 3, 0]])
    items, scores = weighted.recommend(np.array([0]), n=4)
    np.testing.assert_array_equal(items, [[0, 1, 3, -1]])
    np.testing.assert_array_equal(scores, [[10, 1, 0, -np.inf]])
