"""95% confidence intervals for evaluation metrics.

Metrics that are means of per-user values (accuracy, novelty, diversity, ...) get the normal
approximation mean +- 1.96 * sd / sqrt(n), which is accurate for the thousands of users of a test set and
costs nothing. List-level metrics (coverage, Gini) are not means over users, so they get a bootstrap over
users (each replicate reweights the users' lists by Poisson(1) counts) whose spread is laid around the
estimate, so that every interval contains its estimate (see `bootstrap_interval`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

#: Two-sided 95% quantile of the standard normal distribution.
Z95 = 1.959963984540054

#: Bootstrap replicates for list-level metrics: a rough but usable 2.5% / 97.5% percentile, and fast
#: (each replicate costs one pass over all recommended items).
N_BOOTSTRAP = 100

#: Users per chunk of bootstrap weights (bounds their memory for large user bases).
BOOTSTRAP_CHUNK = 1 << 16


def finite_mean(values: np.ndarray) -> float:
    """Mean of the finite values (users where a metric is undefined are left out); NaN when there are none."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def normal_interval(values: np.ndarray) -> tuple[float, float]:
    """95% interval of the mean of the finite `values` (NaN, NaN with fewer than two)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    mean = values.mean()
    half = Z95 * values.std(ddof=1) / np.sqrt(len(values))
    return float(mean - half), float(mean + half)


def bootstrap_weights(n_users: int, n_boot: int = N_BOOTSTRAP, seed: int = 0) -> Iterator[tuple[slice, np.ndarray]]:
    """Poisson bootstrap: (users slice, (n_boot, chunk) float32 multiplicities) for consecutive user chunks.

    Each user's multiplicity in each replicate is Poisson(1), the large-sample limit of resampling users
    with replacement; drawing it chunk by chunk keeps memory at n_boot x BOOTSTRAP_CHUNK.
    """
    rng = np.random.default_rng(seed)
    for start in range(0, n_users, BOOTSTRAP_CHUNK):
        stop = min(start + BOOTSTRAP_CHUNK, n_users)
        yield slice(start, stop), rng.poisson(1.0, size=(n_boot, stop - start)).astype(np.float32)


def bootstrap_interval(estimate: float, replicates: np.ndarray) -> tuple[float, float]:
    """95% interval estimate +- 1.96 * sd of the bootstrap replicates (NaN ignored): always contains `estimate`.

    Percentile intervals fail for coverage: a replicate leaves out about 37% of the users, so its count of
    distinct recommended items is almost always below the estimate and the 2.5-97.5% band can sit wholly
    under it (0.4191 [0.372, 0.391] on ML-100K). The bootstrap is used only for the spread, which that bias
    does not distort much. NaN, NaN when the estimate is undefined or fewer than two replicates are finite.
    """
    replicates = np.asarray(replicates, dtype=np.float64)
    replicates = replicates[np.isfinite(replicates)]
    if not np.isfinite(estimate) or len(replicates) < 2:
        return float("nan"), float("nan")
    half = Z95 * replicates.std(ddof=1)
    return float(estimate - half), float(estimate + half)
