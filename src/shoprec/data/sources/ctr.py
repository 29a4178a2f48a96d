"""Explicitly labelled rows for click-through-rate models: libFM files, CTR CSV logs, ratings as clicks.

A `LabelledRows` is a 0/1 label per row plus the row's fields as a `FeatureTable` (categorical,
multi-valued and numeric columns), so CTR models encode it like any other feature table. Each file is
read on its own: its categories are named by their original values (a libFM feature id, a hashed
Criteo category), and a model matches them by name, so train, validation and test files need no
shared pre-pass.

libFM (`label id:value ...`, e.g. the NFM/BARS Frappe files; any run of spaces/tabs separates, CRLF
endings are fine): every line must hold the same number of pairs, and pair j is field j. A field whose
values are all 1 is one-hot (categorical over its ids); one with other values must keep the same id
throughout and is numeric. Labels are 1 (click) and 0 or -1.

Frappe's training file is missing from the public snapshot; `rebuild_frappe_train` rebuilds it from the
original log the way NFM built it (see ../shared/data/frappe/SOURCE.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp

from shoprec.data.dataset import Dataset
from shoprec.data.features import CategoricalColumn, Column, FeatureTable, NumericColumn
from shoprec.data.sampling import NegativeSampler
from shoprec.data.sources._features import FeatureSpec, feature_table, resolve_kinds
from shoprec.data.sources._policy import with_strict
from shoprec.data.sources._text import WHITESPACE, read_table
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import DataError

#: The ten one-hot fields of the NFM Frappe libFM files, in file order.
FRAPPE_FIELDS = ("user", "item", "daytime", "weekday", "isweekend", "homework", "cost", "weather", "country", "city")


@dataclass(frozen=True)
class LabelledRows:
    """labels (n,) float32 in {0, 1}; features: a FeatureTable of the same n rows."""

    labels: np.ndarray
    features: FeatureTable
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.labels) != self.features.n:
            raise DataError(f"{self.source}: {len(self.labels)} labels for {self.features.n} feature rows")

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> LabelledRows:
        """Rows selected by an integer index or boolean mask (e.g. one side of a random split)."""
        index = np.flatnonzero(index) if np.asarray(index).dtype == bool else np.asarray(index, dtype=np.int64)
        return LabelledRows(self.labels[index], self.features.take(index), self.source)


@with_strict
def load_libfm(path: str | Path, *, fields: Sequence[str] | None = None) -> LabelledRows:
    """A libFM/svmlight file with a fixed number of `id:value` pairs per line; `fields` names them."""
    table = read_table(path, header=False, separator=WHITESPACE, quote=False)
    n_fields = len(table.columns) - 1
    names = list(fields) if fields is not None else [f"field{j}" for j in range(n_fields)]
    if len(names) != n_fields:
        raise DataError(f"lines hold {n_fields} id:value pairs, but {len(names)} field names were given", path=path)
    table = table.with_frame(table.frame.rename(dict(zip(table.columns, ["label", *names], strict=True))))
    labels = table.floats("label")
    table.check(pl.Series(~np.isin(labels, (-1.0, 0.0, 1.0))), "label", "a label 1, 0 or -1")
    columns: dict[str, Column] = {}
    for name in names:
        id_name, value_name = f"{name}.id", f"{name}.value"
        pairs = table.frame[name].str.split_exact(":", 1).struct.rename_fields([id_name, value_name]).struct.unnest()
        parsed = table.with_frame(pairs)
        ids, values = parsed.ints(id_name), parsed.floats(value_name)
        parsed.check(pl.Series(ids < 0), id_name, "a feature id >= 0")
        if (values != 1.0).any() and len(np.unique(ids)) == 1:
            columns[name] = NumericColumn(values.astype(np.float32))
        else:
            parsed.check(pl.Series(values != 1.0), value_name, "1 in a one-hot field (or one id throughout)")
            columns[name] = _categorical(ids)
    return LabelledRows((labels > 0).astype(np.float32), FeatureTable(len(labels), columns), str(path))


@with_strict
def load_ctr_csv(
    path: str | Path,
    *,
    label: str,
    features: FeatureSpec = None,
    threshold: float | None = None,
    separator: str | None = None,
    multi_separator: str = "|",
) -> LabelledRows:
    """A delimited CTR log with a header (e.g. Criteo, Avazu samples).

    label: the click column (0/1), or a score turned into clicks by `threshold` (value >= threshold).
    features: the feature columns (None: every other column; a list; or {name: kind}); kinds are inferred
    (numbers -> numeric, else categorical) unless given; "multi" columns are split on `multi_separator`.
    """
    table = read_table(path, separator=separator, required=[label])
    raw = table.floats(label)
    if threshold is None:
        table.check(pl.Series(~np.isin(raw, (0.0, 1.0))), label, "a click label 0 or 1")
        labels = raw
    else:
        labels = raw >= threshold
    kinds = resolve_kinds(table, features, exclude={label}, parameter="features")
    rows = table.with_frame(table.frame.with_row_index("__row__"))
    vocab = Vocabulary(np.arange(len(table)).astype(str))
    return LabelledRows(
        labels.astype(np.float32), feature_table(rows, "__row__", vocab, kinds, separator=multi_separator), str(path)
    )


def labelled_from_ratings(dataset: Dataset, threshold: float = 4.0) -> LabelledRows:
    """Ratings as clicks (rating >= threshold), one row per rating with the user and item ids and their
    features (named `user.<name>` / `item.<name>`); the ML-100K CTR protocol."""
    inter = dataset.interactions
    if inter.ratings is None:
        raise DataError(f"{dataset.name}: has no explicit ratings to turn into clicks", column="rating")
    columns: dict[str, Column] = {
        "user": CategoricalColumn(inter.users + 1, tuple(dataset.users.to_list())),
        "item": CategoricalColumn(inter.items + 1, tuple(dataset.items.to_list())),
    }
    for side, table, index in (
        ("user", dataset.user_features, inter.users),
        ("item", dataset.item_features, inter.items),
    ):
        if table is not None:
            columns.update({f"{side}.{name}": col for name, col in table.take(index).columns.items()})
    labels = (inter.ratings >= threshold).astype(np.float32)
    return LabelledRows(labels, FeatureTable(len(inter), columns), dataset.name)


def rebuild_frappe_train(
    log_path: str | Path, held_out: Sequence[LabelledRows], *, negatives: int = 2, seed: int = 0
) -> LabelledRows:
    """Frappe's missing libFM training file, rebuilt from the original log `frappe.csv`.

    NFM's feature ids number each field's values in order of first appearance in the log, fields one
    after another (user, item, daytime, ...); every log entry is a positive and each was paired with
    `negatives` items the user never used, in the same context. The positives of `held_out` (the
    validation and test files, read with `fields=FRAPPE_FIELDS`) are taken out, one log entry each; the
    rest, with freshly sampled negatives, is the training set. NFM's own negative draw is not reproducible.
    """
    table = read_table(log_path, separator="\t", required=list(FRAPPE_FIELDS))
    ids = np.zeros((len(table), len(FRAPPE_FIELDS)), dtype=np.int64)
    offset = 0
    for j, name in enumerate(FRAPPE_FIELDS):
        _, first, inverse = np.unique(table.strings(name).to_numpy(), return_index=True, return_inverse=True)
        rank = np.argsort(np.argsort(first))  # value -> order of first appearance
        ids[:, j] = offset + rank[inverse.reshape(-1)]
        offset += len(first)
    held = np.concatenate([_held_out_positives(rows) for rows in held_out]) if held_out else ids[:0]
    positives = ids[_remaining(ids, held, log_path)]
    item_base = int(ids[:, 0].max()) + 1  # item ids follow the user ids
    shape = (item_base, int(ids[:, 1].max()) + 1 - item_base)
    used = sp.csr_matrix((np.ones(len(ids), np.float32), (ids[:, 0], ids[:, 1] - item_base)), shape=shape)
    sampled = NegativeSampler(used, seed=seed).sample(positives[:, 0], negatives)
    negative_rows = np.repeat(positives, negatives, axis=0)
    negative_rows[:, 1] = np.asarray(sampled).reshape(-1) + item_base
    all_ids = np.concatenate([positives, negative_rows])
    labels = np.concatenate([np.ones(len(positives)), np.zeros(len(negative_rows))]).astype(np.float32)
    columns: dict[str, Column] = {name: _categorical(all_ids[:, j]) for j, name in enumerate(FRAPPE_FIELDS)}
    return LabelledRows(labels, FeatureTable(len(labels), columns), f"{log_path} (rebuilt train)")


def _categorical(ids: np.ndarray) -> CategoricalColumn:
    """Integer feature ids as a categorical column whose value names are the ids."""
    uniques, codes = np.unique(ids, return_inverse=True)
    return CategoricalColumn(codes.reshape(-1).astype(np.int64) + 1, tuple(str(u) for u in uniques))


def _held_out_positives(rows: LabelledRows) -> np.ndarray:
    """(n_positive, 10) libFM ids of the positive rows of a Frappe file."""
    missing = [name for name in FRAPPE_FIELDS if name not in rows.features]
    if missing:
        raise DataError(f"fields {missing} missing; read Frappe files with fields=FRAPPE_FIELDS", path=rows.source)
    positive = rows.labels > 0
    columns = []
    for name in FRAPPE_FIELDS:
        column = rows.features[name]
        if not isinstance(column, CategoricalColumn):
            raise DataError("field is not one-hot", path=rows.source, column=name)
        columns.append(np.asarray(column.values, dtype=np.int64)[column.codes[positive] - 1])
    return np.stack(columns, axis=1)


def _remaining(log: np.ndarray, held: np.ndarray, log_path: str | Path) -> np.ndarray:
    """Boolean mask over log rows: each held-out row removes one identical log row (a multiset difference)."""
    _, keys = np.unique(np.concatenate([log, held]), axis=0, return_inverse=True)
    keys = keys.reshape(-1)
    log_keys, held_keys = keys[: len(log)], keys[len(log) :]
    n_keys = int(keys.max(initial=-1)) + 1
    in_log = np.bincount(log_keys, minlength=n_keys)
    removed = np.bincount(held_keys, minlength=n_keys)
    if (removed > in_log).any():
        extra = int((removed - in_log).clip(min=0).sum())
        raise DataError(
            f"{extra} held-out positive(s) match no log entry; expected the NFM id mapping of this log", path=log_path
        )
    order = np.argsort(log_keys, kind="stable")
    sorted_keys = log_keys[order]
    rank = np.arange(len(log)) - np.searchsorted(sorted_keys, sorted_keys)
    keep = np.zeros(len(log), dtype=bool)
    keep[order] = rank < (in_log - removed)[sorted_keys]
    return keep
