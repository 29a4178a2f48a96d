"""Train / validation / test splits of a `Dataset`, all returning a `Split` over the input's vocabularies.

Every splitter labels each event with a part (train, valid, test) in one vectorised pass: global
methods use a permutation or time cut points, per-user methods sort events by (user, rank) with one
argsort and read each event's position inside its user's sequence. Parts keep the input's row
order. `split_dataset` dispatches on a method name, as the CLI and configs spell it.

Cold-start hold-out (`user_holdout`) puts *all* events of held-out users into valid/test: models see
nothing of them in training, and evaluation measures the cold-start path (features, popularity, or a
fold-in of whatever history the evaluator chooses to reveal from the test events).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Literal

import numpy as np

from shoprec.data.dataset import Dataset, Split
from shoprec.exceptions import ConfigError, DataError

TRAIN, VALID, TEST = 0, 1, 2


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"split: {name} must be a fraction in [0, 1), got {value!r}")


def _check_fractions(test: float, valid: float, names: tuple[str, str] = ("test", "valid")) -> None:
    _check_fraction(names[0], test)
    _check_fraction(names[1], valid)
    if test + valid >= 1.0:
        raise ConfigError(f"split: {names[0]} + {names[1]} must be < 1, got {test} + {valid}")


def _require_timestamps(dataset: Dataset, method: str) -> np.ndarray:
    if dataset.interactions.timestamps is None:
        raise DataError(
            f"{dataset.name}: has no timestamps, so the {method!r} split cannot order events in time; "
            "use 'random', 'user-random' or 'loo-random' (or 'loo-order' when rows are in time order)"
        )
    return dataset.interactions.timestamps


def _count(fraction: float, n: int) -> int:
    """Events a fraction of n stands for, rounded half up (so 0.1 of 15 is 2 and of 14 is 1)."""
    return int(fraction * n + 0.5)


def _assemble(dataset: Dataset, part: np.ndarray, method: str, with_valid: bool) -> Split:
    """Cut the data set by the part label of every event (TRAIN/VALID/TEST)."""
    inter = dataset.interactions
    valid = dataset.with_interactions(inter.take(part == VALID)) if with_valid else None
    return Split(
        train=dataset.with_interactions(inter.take(part == TRAIN)),
        valid=valid,
        test=dataset.with_interactions(inter.take(part == TEST)),
        protocol="full",
        method=method,
    )


#: How events with equal timestamps are ordered: by row order in the file, or by a seeded shuffle.
TIES = ("order", "shuffle")


def tie_breaker(n: int, ties: str = "order", seed: int = 0) -> np.ndarray:
    """(n,) secondary sort key for events with equal timestamps: row order, or a seeded random permutation."""
    if ties not in TIES:
        raise ConfigError(f"ties must be one of {list(TIES)}, got {ties!r}")
    return np.arange(n, dtype=np.int64) if ties == "order" else np.random.default_rng(seed).permutation(n)


def _time_rank(timestamps: np.ndarray, ties: str = "order", seed: int = 0) -> np.ndarray:
    """Each event's rank in time (a permutation of 0..n-1), equal timestamps ordered by `tie_breaker`."""
    rank = np.empty(len(timestamps), dtype=np.int64)
    if ties == "order":
        order = np.argsort(timestamps, kind="stable")
    else:
        order = np.lexsort((tie_breaker(len(timestamps), ties, seed), timestamps))
    rank[order] = np.arange(len(timestamps))
    return rank


def _user_sequences(dataset: Dataset, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of every event in its user's sequence ordered by `rank` (a permutation), and each user's length.

    One argsort of the unique key user * n + rank: several times faster than `np.lexsort` on 10M events.
    """
    users = dataset.interactions.users
    n = len(users)
    order = np.argsort(users * np.int64(n) + rank)
    lengths = np.bincount(users, minlength=dataset.n_users)
    starts = np.cumsum(lengths) - lengths
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n) - starts[users[order]]
    return position, lengths


def _tail_split(dataset: Dataset, rank: np.ndarray, test: float, valid: float, method: str) -> Split:
    """Per user, the last fractions of the sequence ordered by `rank` go to valid then test.

    Counts follow RecBole's ratio split: floor(fraction * length) each, and a user whose share is
    positive but below one event still gives one event while more than one stays in train.
    """
    _check_fractions(test, valid)
    position, lengths = _user_sequences(dataset, rank)
    n_test = np.floor(test * lengths).astype(np.int64)
    n_valid = np.floor(valid * lengths).astype(np.int64)
    for counts, fraction in ((n_test, test), (n_valid, valid)):
        share = fraction * lengths
        short = (share > 0) & (share < 1) & (lengths - n_test - n_valid > 1)
        counts += short
    users = dataset.interactions.users
    from_end = lengths[users] - position
    part = np.where(from_end <= n_test[users], TEST, np.where(from_end <= (n_test + n_valid)[users], VALID, TRAIN))
    return _assemble(dataset, part, method, valid > 0)


def random_split(dataset: Dataset, test: float = 0.1, valid: float = 0.1, seed: int = 0) -> Split:
    """Events shuffled globally, then cut: round(test * n) to test, round(valid * n) to valid."""
    _check_fractions(test, valid)
    n = len(dataset)
    n_test, n_valid = _count(test, n), _count(valid, n)
    part = np.full(n, TRAIN, dtype=np.int8)
    perm = np.random.default_rng(seed).permutation(n)
    part[perm[:n_test]] = TEST
    part[perm[n_test : n_test + n_valid]] = VALID
    return _assemble(dataset, part, "random", valid > 0)


def per_user_random_split(dataset: Dataset, test: float = 0.1, valid: float = 0.1, seed: int = 0) -> Split:
    """Each user's events shuffled and cut by ratio (RecBole "RO"); one-event users stay in train."""
    rank = np.random.default_rng(seed).permutation(len(dataset))
    return _tail_split(dataset, rank, test, valid, "user-random")


def per_user_temporal_ratio(
    dataset: Dataset, test: float = 0.2, valid: float = 0.1, ties: str = "order", seed: int = 0
) -> Split:
    """Each user's latest events by ratio (RecBole "TO"), ties in time by row order or a seeded shuffle (`ties`)."""
    rank = _time_rank(_require_timestamps(dataset, "user-temporal"), ties, seed)
    return _tail_split(dataset, rank, test, valid, "user-temporal")


def temporal_split(dataset: Dataset, test: float = 0.1, valid: float = 0.1) -> Split:
    """Global cut points in time at the (1 - test) and (1 - test - valid) quantiles of the timestamps.

    Every test event is at or after the test cut time and every train event strictly before the valid
    cut, so nothing in training happens after anything evaluated. Events sharing a cut timestamp all go
    to the later part, so the fractions are exact only when timestamps are distinct.
    """
    _check_fractions(test, valid)
    timestamps = _require_timestamps(dataset, "temporal")
    n = len(timestamps)
    n_test, n_valid = _count(test, n), _count(valid, n)
    ordered = np.sort(timestamps)
    no_cut = np.iinfo(np.int64).max
    test_cut = ordered[n - n_test] if n_test else no_cut
    valid_cut = ordered[n - n_test - n_valid] if n_valid else test_cut
    part = np.where(timestamps >= test_cut, TEST, np.where(timestamps >= valid_cut, VALID, TRAIN))
    return _assemble(dataset, part, "temporal", valid > 0)


def leave_one_out(
    dataset: Dataset,
    valid: bool = True,
    by: Literal["time", "order", "random"] = "time",
    seed: int = 0,
    ties: str = "order",
) -> Split:
    """Per user, the last event goes to test and (when `valid`) the second-to-last to valid.

    `by` orders each user's events: "time" by timestamp, "order" by row order (for sources listed
    chronologically without timestamps), "random" by a seeded shuffle. With "time", equal timestamps are
    ordered by row order (`ties="order"`) or by a shuffle seeded with `seed` (`ties="shuffle"`); which
    of two tied events is "last" decides the test item (415 of ML-100K's 943 users). Users with fewer
    than 3 events (2 without `valid`) stay entirely in train, so every evaluated user has training data.
    """
    ranks: dict[str, Callable[[], np.ndarray]] = {
        "time": lambda: _time_rank(_require_timestamps(dataset, "loo"), ties, seed),
        "order": lambda: np.arange(len(dataset)),
        "random": lambda: np.random.default_rng(seed).permutation(len(dataset)),
    }
    if by not in ranks:
        raise ConfigError(f"leave_one_out: by must be one of {list(ranks)}, got {by!r}")
    tie_breaker(0, ties)  # checks `ties` whatever `by` is
    position, lengths = _user_sequences(dataset, ranks[by]())
    users = dataset.interactions.users
    from_end = lengths[users] - position
    eligible = lengths[users] >= (3 if valid else 2)
    part = np.where(eligible & (from_end == 1), TEST, np.where(eligible & valid & (from_end == 2), VALID, TRAIN))
    return _assemble(dataset, part, "loo" if by == "time" else f"loo-{by}", valid)


def user_holdout(dataset: Dataset, test_users: float = 0.1, valid_users: float = 0.1, seed: int = 0) -> Split:
    """Hold out whole users (cold-start evaluation): all events of a random share of active users go to test/valid."""
    _check_fractions(test_users, valid_users, ("test_users", "valid_users"))
    active = np.flatnonzero(dataset.user_activity() > 0)
    chosen = np.random.default_rng(seed).permutation(active)
    n_test, n_valid = _count(test_users, len(active)), _count(valid_users, len(active))
    part_of_user = np.full(dataset.n_users, TRAIN, dtype=np.int8)
    part_of_user[chosen[:n_test]] = TEST
    part_of_user[chosen[n_test : n_test + n_valid]] = VALID
    return _assemble(dataset, part_of_user[dataset.interactions.users], "user-holdout", valid_users > 0)


def drop_unseen_items(split: Split) -> Split:
    """Remove valid/test events of items that never occur in train; the method gets "+drop_unseen".

    Evaluation counts such events as misses by default (a shop's new items are real, and dropping them
    inflates every model); dropping them reproduces papers that do so, and the method name says it.
    """
    seen = split.train.item_popularity() > 0

    def keep_seen(part: Dataset | None) -> Dataset | None:
        if part is None:
            return None
        return part.with_interactions(part.interactions.take(seen[part.interactions.items]))

    method = split.method if split.method.endswith(DROPPED) else f"{split.method}{DROPPED}"
    return replace(split, valid=keep_seen(split.valid), test=keep_seen(split.test), method=method)


#: Suffix of `Split.method` after `drop_unseen_items`, so that every result row says the events were dropped.
DROPPED = "+drop_unseen"


SPLITTERS: dict[str, Callable[..., Split]] = {
    "random": random_split,
    "user-random": per_user_random_split,
    "ratio-random": per_user_random_split,
    "temporal": temporal_split,
    "loo": partial(leave_one_out, by="time"),
    "loo-random": partial(leave_one_out, by="random"),
    "loo-order": partial(leave_one_out, by="order"),
    "user-temporal": per_user_temporal_ratio,
    "user-holdout": user_holdout,
}


def split_dataset(
    dataset: Dataset, method: str, *, seed: int = 0, drop_unseen: bool = False, **kwargs: object
) -> Split:
    """Split by method name (see `SPLITTERS`). Held-out events of items unseen in training are kept (evaluation
    counts them as misses); `drop_unseen=True` drops them, with a warning, and marks the split's method.

    `seed` reaches the randomised methods only, so one experiment seed can be passed whatever the method.
    """
    if method not in SPLITTERS:
        raise ConfigError(f"split method {method!r} is unknown; expected one of {sorted(SPLITTERS)}")
    splitter = SPLITTERS[method]
    parameters = inspect.signature(splitter).parameters
    allowed = [p for p in parameters if p not in ("dataset", "seed")]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ConfigError(f"split method {method!r}: unknown parameter(s) {unknown}; expected some of {allowed}")
    if "seed" in parameters:
        kwargs["seed"] = seed
    split = splitter(dataset, **kwargs)
    if not drop_unseen:
        return split
    kept = drop_unseen_items(split)
    parts = ((split.test, kept.test), (split.valid, kept.valid))
    dropped = sum(len(a) - len(b) for a, b in parts if a is not None and b is not None)
    if dropped:
        warnings.warn(
            f"{dataset.name}: dropped {dropped} valid/test events of items never seen in training "
            f"(split {method!r}, drop_unseen=True); by default they are kept and count as misses",
            stacklevel=2,
        )
    return kept
