"""The pre-split files of the NCF paper (He et al. 2017): `<name>.train.rating`, `.test.rating`, `.test.negative`.

Rating files are `user<TAB>item<TAB>rating<TAB>timestamp`; negative lines are `(user,item)<TAB>neg1<TAB>...`,
one per test line and in the same order. Ids are already dense (0..n-1) and are kept as indices.
Items met only in the test or negative files (items rated once, by their test user) are part of the
catalog and join the item vocabulary; a test user that training never saw, or a negative line whose
pair disagrees with the test file, is a DataError. A file whose timestamps are all 0 (the rebuilt
ML-1M train file) has no time: its `timestamps` are None. Leaks are errors: a test pair also in train,
a negative that is a training positive of its user, repeats on its line or lies outside the catalog.
A negative equal to its line's test item (156 in NCF's ML-1M file) is a warning: the evaluation
ignores it. Runs of spaces/tabs separate the fields of the rating files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from shoprec.data.dataset import Dataset, Interactions, Split
from shoprec.data.sources._assemble import encode_ids
from shoprec.data.sources._policy import with_strict
from shoprec.data.sources._table import Table
from shoprec.data.sources._text import WHITESPACE, read_table
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import DataError

_RATING = ["user", "item", "rating", "timestamp"]
_TYPES = {"user": pl.Int64, "item": pl.Int64, "rating": pl.Float64, "timestamp": pl.Int64}
_TRAIN_SUFFIX = ".train.rating"
#: Largest users x items bitmap (bytes) for the leak checks; beyond it, sorted keys and binary search.
_BITMAP_LIMIT = 1 << 26


@with_strict
def load_ncf_split(train_path: str | Path) -> Split:
    """Split(train, test, protocol="ncf") with `test_negatives` (n_test, n_neg) as item indices.

    train_path: the `<name>.train.rating` file; `<name>.test.rating` and `<name>.test.negative` sit beside it.
    """
    train_path = Path(train_path)
    if not train_path.name.endswith(_TRAIN_SUFFIX):
        raise DataError(f"expected a file named <name>{_TRAIN_SUFFIX}", path=train_path)
    stem = train_path.name.removesuffix(_TRAIN_SUFFIX)
    test_path = train_path.with_name(stem + ".test.rating")
    negative_path = train_path.with_name(stem + ".test.negative")
    train = read_table(train_path, names=_RATING, header=False, separator=WHITESPACE, types=_TYPES)
    test = read_table(test_path, names=_RATING, header=False, separator=WHITESPACE, types=_TYPES)
    negatives = read_table(negative_path, header=False, separator="\t", quote=False)
    for table in (train, test):
        for column in ("user", "item"):
            table.check(pl.Series(table.ints(column) < 0), column, "an id >= 0 (NCF ids are indices)")
        table.floats("rating", low=1, high=5)
    train = train.one_per_key(["user", "item"], "rating", "timestamp" if train.ints("timestamp").any() else None)

    train_users, test_users = train.ids("user"), test.ids("user")
    user_vocab, (train_u,) = encode_ids(train_users)
    test_u = user_vocab.index(test_users)
    test.check(test_u < 0, "user", "a user of the train file")
    test.check(pl.Series(test_users).is_duplicated() & ~pl.Series(test_users).is_first_distinct(), "user",
               "one test line per user (this user already has one)")  # fmt: skip
    pairs, negative_items = _negatives(negatives)
    if len(pairs) != len(test):
        raise DataError(
            f"has {len(pairs)} lines, expected one per line of {test_path.name} ({len(test)})", path=negative_path
        )
    mismatch = (pairs[:, 0] != test_users) | (pairs[:, 1] != test.ids("item"))
    if mismatch.any():
        row = int(np.argmax(mismatch))
        raise negatives.error(
            row, None, f"pair disagrees with {test_path.name} line {row + 1}; expected the same (user,item)"
        )
    _check_leaks(train, test, negatives, negative_items)
    item_vocab, (train_i, test_i, neg_i) = encode_ids(train.ids("item"), test.ids("item"), negative_items.ravel())
    name = f"{stem}-ncf"
    return Split(
        train=_part(f"{name}/train", train, train_u, train_i, user_vocab, item_vocab),
        test=_part(f"{name}/test", test, test_u, test_i, user_vocab, item_vocab),
        protocol="ncf",
        method="ncf-presplit",
        test_negative_users=test_u,
        test_negatives=neg_i.reshape(negative_items.shape),
    )


def _negatives(table: Table) -> tuple[np.ndarray, np.ndarray]:
    """((n, 2) int64 (user, item) pairs, (n, n_neg) int64 negative item ids) of a `.test.negative` file."""
    first, *rest = table.columns
    pair = table.strings(first).str.extract_groups(r"^\((\d+),\s*(\d+)\)$")
    table.check(pair.struct.field("1").is_null(), first, "a pair like (user,item)")
    if not rest:
        raise table.error(0, None, "expected negative items after the (user,item) pair")
    pairs = np.column_stack([pair.struct.field(k).cast(pl.Int64).to_numpy() for k in ("1", "2")])
    return pairs, table.int_matrix(rest)


def _check_leaks(train: Table, test: Table, negatives: Table, negative_items: np.ndarray) -> None:
    """DataError when a test pair is also a training pair, or a negative is a training positive of its
    user, repeats on its line or lies outside the catalog (ids 0..largest train/test item); a negative
    equal to its line's test item is a warning (the evaluation ignores it: it is not a negative)."""
    train_items, test_items = train.ints("item"), test.ints("item")
    n_items = int(max(train_items.max(), test_items.max())) + 1
    outside = (negative_items < 0) | (negative_items >= n_items)
    if outside.any():
        row, j = np.argwhere(outside)[0]
        raise negatives.error(
            int(row),
            f"column_{j + 1}",
            f"negative item {int(negative_items[row, j])} is outside the catalog; expected an item id 0..{n_items - 1} "
            "(the ids of the train and test files)",
        )
    train_users, test_users = train.ints("user"), test.ints("user")
    n_users = int(max(train_users.max(), test_users.max())) + 1
    rated = _pair_set(train_users * n_items + train_items, n_users * n_items)
    in_train = rated(test_users * n_items + test_items)
    if in_train.any():
        rows = np.flatnonzero(in_train)
        raise test.error(
            int(rows[0]),
            "item",
            f"{len(rows)} test pair(s) also in the train file (a leak), at {test.places(rows)}; "
            "expected test items the user has no training row for",
        )
    leaked = rated(test_users[:, None] * n_items + negative_items)
    repeated = np.zeros_like(leaked)
    ranked = np.sort(negative_items, axis=1)
    if (ranked[:, 1:] == ranked[:, :-1]).any():  # the rare case: mark each repeat where it stands
        order = np.argsort(negative_items, axis=1, kind="stable")
        np.put_along_axis(repeated, order[:, 1:], ranked[:, 1:] == ranked[:, :-1], axis=1)
    for mask, what in ((leaked, "is a training positive of this user"), (repeated, "repeats on this line")):
        if mask.any():
            rows = np.flatnonzero(mask.any(axis=1))
            row, j = np.argwhere(mask)[0]
            raise negatives.error(
                int(row),
                f"column_{j + 1}",
                f"negative item {int(negative_items[row, j])} {what}; {int(mask.sum())} such negative(s) on "
                f"{len(rows)} line(s), at {negatives.places(rows)}; expected distinct items the user never rated",
            )
    positive = negative_items == test_items[:, None]
    if positive.any():
        rows = np.flatnonzero(positive.any(axis=1))
        negatives.warn(
            rows,
            f"column_{int(np.argwhere(positive)[0][1]) + 1}",
            f"{int(positive.sum())} negative(s) equal their line's test item; kept, but they are not negatives "
            "and the evaluation ignores them",
        )


def _pair_set(keys: np.ndarray, size: int) -> Callable[[np.ndarray], np.ndarray]:
    """Membership test for (user, item) keys `user * n_items + item` < size: a bitmap when it is small
    (fast gathers), else binary search in the sorted keys."""
    if size <= _BITMAP_LIMIT:
        bitmap = np.zeros(size, dtype=bool)
        bitmap[keys] = True
        return lambda query: bitmap[query]
    ordered = np.sort(keys)

    def contains(query: np.ndarray) -> np.ndarray:
        where = np.searchsorted(ordered, query).clip(0, len(ordered) - 1)
        return ordered[where] == query

    return contains


def _part(name: str, table: Table, users: np.ndarray, items: np.ndarray, uv: Vocabulary, iv: Vocabulary) -> Dataset:
    timestamps = table.timestamps("timestamp") if table.ints("timestamp").any() else None
    interactions = Interactions.build(users, items, ratings=table.floats("rating"), timestamps=timestamps)
    return Dataset(name=name, interactions=interactions, users=uv, items=iv, metadata={"source": table.source})
