"""Evaluation: metrics (pure functions), protocols (full / sampled / ratings), beyond accuracy, segments, report."""

from shoprec.evaluation.batch import RANKING_METRICS, catalog_auc, ranking_metrics
from shoprec.evaluation.beyond import (
    HEAD_SHARE,
    coverage,
    exposure_counts,
    feature_vectors,
    gini,
    head_items,
    intra_list_diversity,
    self_information,
)
from shoprec.evaluation.evaluator import DEFAULT_KS, EvaluationResult, evaluate
from shoprec.evaluation.labelled import gauc, log_loss, mae, rmse, roc_auc
from shoprec.evaluation.metrics import (
    auc,
    average_precision,
    f1,
    graded_ndcg,
    hit_rate,
    mrr,
    ndcg,
    precision,
    recall,
)
from shoprec.evaluation.protocols import evaluate_ratings, full_ranking, sampled_ranking
from shoprec.evaluation.report import leaderboard_markdown, write_html_report

__all__ = [
    "DEFAULT_KS",
    "HEAD_SHARE",
    "RANKING_METRICS",
    "EvaluationResult",
    "auc",
    "average_precision",
    "catalog_auc",
    "coverage",
    "evaluate",
    "evaluate_ratings",
    "exposure_counts",
    "f1",
    "feature_vectors",
    "full_ranking",
    "gauc",
    "gini",
    "graded_ndcg",
    "head_items",
    "hit_rate",
    "intra_list_diversity",
    "leaderboard_markdown",
    "log_loss",
    "mae",
    "mrr",
    "ndcg",
    "precision",
    "ranking_metrics",
    "recall",
    "rmse",
    "roc_auc",
    "sampled_ranking",
    "self_information",
    "write_html_report",
]
