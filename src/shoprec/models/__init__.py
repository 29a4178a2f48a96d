"""Recommender models behind one contract (`Recommender`), found by name through the registry."""

from shoprec.models.base import Recommender, VectorRecommender, top_n
from shoprec.models.ease import EASE, EASEConfig
from shoprec.models.ials import IALS, IALSConfig
from shoprec.models.item_knn import ItemKNN, ItemKNNConfig
from shoprec.models.popularity import Popularity, PopularityConfig
from shoprec.models.registry import available_models, create_model, get_model_class, register

__all__ = [
    "EASE",
    "IALS",
    "EASEConfig",
    "IALSConfig",
    "ItemKNN",
    "ItemKNNConfig",
    "Popularity",
    "PopularityConfig",
    "Recommender",
    "VectorRecommender",
    "available_models",
    "create_model",
    "get_model_class",
    "register",
    "top_n",
]
