"""The pre-split files of the NCF paper (He et al. 2017): `<name>.train.rating`, `.test.rating`, `.test.negative`.

Rating files are `user<TAB>item<TAB>rating<TAB>timestamp`; negative lines are `(user,item)<TAB>neg1<TAB>...`,
one per test line and in the same order. Ids are already dense (0..n-1) and are kept as indices.
Items met only in the test or negative files (items rated once, by their test user) are part of the
catalog and join the item vocabulary; a test user that training never saw, or a negative line whose
pair disagrees with the test file, is a DataError. A file whose timestamps are all 0 (the rebuilt
ML-1M train file) has no time: its `timestamps` are None.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from shoprec.data.dataset import Dataset, Interactions, Split
from shoprec.data.sources._assemble import encode_ids
from shoprec.data.sources._table import Table
from shoprec.data.sources._text import read_table
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import DataError

_RATING = ["user", "item", "rating", "timestamp"]
_TYPES = {"user": pl.Int64, "item": pl.Int64, "rating": pl.Float64, "timestamp": pl.Int64}
_TRAIN_SUFFIX = ".train.rating"


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
    train = read_table(train_path, names=_RATING, header=False, separator="\t", types=_TYPES).without_duplicates()
    test = read_table(test_path, names=_RATING, header=False, separator="\t", types=_TYPES)
    negatives = read_table(negative_path, header=False, separator="\t", quote=False)

    train_users, test_users = train.ids("user"), test.ids("user")
    user_vocab, (train_u,) = encode_ids(train_users)
    test_u = user_vocab.index(test_users)
    test.check(test_u < 0, "user", "a user of the train file")
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


def _part(name: str, table: Table, users: np.ndarray, items: np.ndarray, uv: Vocabulary, iv: Vocabulary) -> Dataset:
    timestamps = table.timestamps("timestamp")
    interactions = Interactions.build(
        users, items, ratings=table.floats("rating"), timestamps=timestamps if timestamps.any() else None
    )
    return Dataset(name=name, interactions=interactions, users=uv, items=iv, metadata={"source": table.source})
