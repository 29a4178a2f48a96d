"""The data layer: datasets and vocabularies, loaders, filtering, splits, negative sampling, synthetic shops."""

from shoprec.data.dataset import DEFAULT_EVENT_WEIGHTS, Dataset, Interactions, Split
from shoprec.data.features import CategoricalColumn, FeatureTable, MultiValuedColumn, NumericColumn
from shoprec.data.filtering import compact, deduplicate, k_core, to_implicit
from shoprec.data.sampling import NegativeSampler, sample_eval_negatives
from shoprec.data.split import split_dataset
from shoprec.data.synthetic import generate_shop
from shoprec.data.vocabulary import UNKNOWN, Vocabulary

__all__ = [
    "DEFAULT_EVENT_WEIGHTS",
    "UNKNOWN",
    "CategoricalColumn",
    "Dataset",
    "FeatureTable",
    "Interactions",
    "MultiValuedColumn",
    "NegativeSampler",
    "NumericColumn",
    "Split",
    "Vocabulary",
    "compact",
    "deduplicate",
    "generate_shop",
    "k_core",
    "sample_eval_negatives",
    "split_dataset",
    "to_implicit",
]
