"""Re-ranking: composable steps over batches of (items, scores) — MMR diversity, category caps, a long-tail
boost and business rules — shared by offline evaluation (`RerankedRecommender`) and serving (`Reranker`)."""

from shoprec.rerank.caps import CategoryCap
from shoprec.rerank.context import RerankContext, RerankStep
from shoprec.rerank.long_tail import LongTailBoost
from shoprec.rerank.mmr import MMR
from shoprec.rerank.recommender import RerankedRecommender
from shoprec.rerank.reranker import STEP_BUILDERS, Reranker, build_steps
from shoprec.rerank.rules import BusinessRules

__all__ = [
    "MMR",
    "STEP_BUILDERS",
    "BusinessRules",
    "CategoryCap",
    "LongTailBoost",
    "RerankContext",
    "RerankStep",
    "RerankedRecommender",
    "Reranker",
    "build_steps",
]
