"""Metrics of labelled predictions (click / no click, ratings): AUC, group AUC, log loss, RMSE, MAE.

AUC is computed from mid-ranks (Mann-Whitney U), so tied scores count one half, as in scikit-learn's
`roc_auc_score`; group AUC ranks inside each user's impressions in one vectorised pass.
"""

from __future__ import annotations

import numpy as np

from shoprec.exceptions import DataError


def _arrays(*arrays: np.ndarray, names: tuple[str, ...]) -> list[np.ndarray]:
    out = [np.asarray(a).reshape(-1) for a in arrays]
    for name, arr in zip(names[1:], out[1:], strict=True):
        if len(arr) != len(out[0]):
            raise DataError(f"{name} has {len(arr)} values, expected {len(out[0])} like {names[0]}")
    return out


def group_auc(groups: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-group AUC and group size: groups, labels, scores (n,) -> (auc (g,), size (g,)), g = max(groups) + 1.

    AUC is NaN for groups lacking a positive or a negative. Ranks are mid-ranks within each group.
    """
    groups, labels, scores = _arrays(groups, labels, scores, names=("groups", "labels", "scores"))
    groups = groups.astype(np.int64)
    labels = labels.astype(bool)
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    order = np.lexsort((scores, groups))
    g, s = groups[order], scores[order]
    new_run = np.ones(len(g), dtype=bool)
    new_run[1:] = (g[1:] != g[:-1]) | (s[1:] != s[:-1])
    run_id = np.cumsum(new_run) - 1
    run_start = np.flatnonzero(new_run)
    run_end = np.append(run_start[1:], len(g)) - 1
    mid = (run_start + run_end)[run_id] / 2.0  # 0-based global mid-position of each tie run
    size = np.bincount(groups, minlength=n_groups)
    group_start = np.concatenate([[0], np.cumsum(size)[:-1]])
    rank = mid - group_start[g] + 1.0  # 1-based mid-rank within the group
    pos_label = labels[order]
    n_pos = np.bincount(g, weights=pos_label, minlength=n_groups)
    n_neg = size - n_pos
    rank_sum = np.bincount(g, weights=rank * pos_label, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    auc[(n_pos == 0) | (n_neg == 0)] = np.nan
    return auc, size


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties one half); NaN with one class."""
    labels = np.asarray(labels).reshape(-1)
    auc, _ = group_auc(np.zeros(len(labels), dtype=np.int64), labels, scores)
    return float(auc[0]) if len(auc) else float("nan")


def gauc(user_ids: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> float:
    """Group AUC: per-user AUC averaged with weights = #impressions, over users having both classes."""
    _, inverse = np.unique(np.asarray(user_ids).reshape(-1), return_inverse=True)
    auc, size = group_auc(inverse.reshape(-1), labels, scores)
    defined = ~np.isnan(auc)
    if not defined.any():
        return float("nan")
    return float((auc[defined] * size[defined]).sum() / size[defined].sum())


def log_loss(labels: np.ndarray, probs: np.ndarray, *, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy; probabilities are clipped to [eps, 1 - eps] so a confident miss is finite."""
    labels, probs = _arrays(labels, probs, names=("labels", "probs"))
    if len(labels) == 0:
        return float("nan")
    p = np.clip(probs.astype(np.float64), eps, 1 - eps)
    y = labels.astype(np.float64)
    return float(-(y * np.log(p) + (1 - y) * np.log1p(-p)).mean())


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error; NaN when empty."""
    y_true, y_pred = _arrays(y_true, y_pred, names=("y_true", "y_pred"))
    return float(np.sqrt(np.mean((y_true.astype(np.float64) - y_pred) ** 2))) if len(y_true) else float("nan")


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error; NaN when empty."""
    y_true, y_pred = _arrays(y_true, y_pred, names=("y_true", "y_pred"))
    return float(np.mean(np.abs(y_true.astype(np.float64) - y_pred))) if len(y_true) else float("nan")
