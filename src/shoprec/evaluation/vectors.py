"""Which item vectors intra-list diversity measures distance with."""

from __future__ import annotations

import numpy as np

from shoprec.data.dataset import Dataset
from shoprec.data.features import CategoricalColumn, MultiValuedColumn
from shoprec.evaluation.beyond import feature_vectors
from shoprec.exceptions import ConfigError
from shoprec.models.base import Recommender, VectorRecommender


def resolve_item_vectors(
    model: Recommender, train: Dataset, item_vectors: np.ndarray | str | None
) -> np.ndarray | None:
    """(n_items, d) vectors for diversity, or None when there are none (diversity is then not reported).

    An array is used as given; a string names a categorical or multi-valued item feature column (one-hot /
    multi-hot). None picks automatically: the first multi-valued, else categorical, item feature column
    (model-independent, so comparable across models), else the model's own item vectors.
    """
    if isinstance(item_vectors, np.ndarray):
        if item_vectors.ndim != 2 or item_vectors.shape[0] != train.n_items:
            raise ConfigError(f"item_vectors must have shape ({train.n_items}, d), got {item_vectors.shape}")
        return item_vectors
    features = train.item_features
    if isinstance(item_vectors, str):
        if features is None:
            raise ConfigError(f"item_vectors={item_vectors!r}: the data set has no item features")
        return feature_vectors(features, item_vectors)
    if features is not None:
        for kind in (MultiValuedColumn, CategoricalColumn):
            names = features.names(kind)
            if names:
                return feature_vectors(features, names[0])
    if isinstance(model, VectorRecommender):
        return model.item_vectors()
    return None
