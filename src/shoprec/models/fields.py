"""Feature fields shared by DeepFM and the two-tower model: feature tables as tensors, and their embeddings.

A *field* is one input slot of a network, embedded as one `dim`-vector:

    id           an entity's own index (code = index + 1; 0 = unknown, so new entities have a row too)
    categorical  one code per row (0 = missing gets its own learned row)
    multi        a bag of codes (e.g. genres), mean-pooled; code 0 is padding and left out of the mean
    numeric      a learned vector scaled by the standardised value (0, i.e. the mean, where missing)
    vector       a dense input such as a precomputed text embedding, projected linearly

`FieldSchema` records a side's fields (users, items, or the columns of CTR rows) with what is needed to
encode *another* table the same way: category names (codes are matched by name, unknown names become
missing) and numeric centring. So a new item is embedded from its attributes alone, and CTR files read
one by one share codes. `FieldStore` holds a side's encoded rows as buffers (they follow the model to its
device and into its artifact); `FieldEmbedding` maps encoded rows (..., fields) to (..., n_fields, dim).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torch import nn

from shoprec.data.features import CategoricalColumn, FeatureTable, MultiValuedColumn, NumericColumn
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import DataError

FieldKind = Literal["id", "categorical", "multi", "numeric", "vector"]
#: `Dataset.metadata` key of optional precomputed item vectors (e.g. text embeddings), (n_items, t) float32.
TEXT_VECTORS = "item_text_vectors"
#: Values of a multi-valued field kept per row; longer bags are cut (their mean then covers the first ones).
MAX_BAG = 64
_CODES = ("id", "categorical")


@dataclass(frozen=True)
class Field:
    """One field. size: embedding rows (ids n + 1, categories len(values) + 1), or the width of a vector."""

    name: str
    kind: FieldKind
    size: int = 1
    values: tuple[str, ...] = ()
    mean: float = 0.0
    scale: float = 1.0


class FieldValues(NamedTuple):
    """Encoded rows; the leading dimensions (...) are whatever the index that gathered them had."""

    codes: torch.Tensor  # (..., n_code_fields) int64: id and categorical fields
    bags: torch.Tensor  # (..., n_bag_fields, L) int64: multi-valued fields, 0 = padding
    numbers: torch.Tensor  # (..., n_numeric_fields) float32, standardised
    vectors: torch.Tensor  # (..., total vector width) float32

    def take(self, index: torch.Tensor | slice) -> FieldValues:
        return FieldValues(*(t[index] for t in self))

    @classmethod
    def partial(cls, *, bags: torch.Tensor | None = None, numbers: torch.Tensor | None = None) -> FieldValues:
        """Values of a schema of bag fields only (bags (..., n_bags, L)) or numeric fields only (numbers (..., n))."""
        given = bags if bags is not None else numbers
        if given is None:
            raise ValueError("FieldValues.partial needs bags or numbers")
        lead = given.shape[:-2] if bags is not None else given.shape[:-1]
        empty = torch.zeros((*lead, 0), dtype=torch.long, device=given.device)
        return cls(
            empty,
            bags if bags is not None else empty.unsqueeze(-1),
            numbers if numbers is not None else empty.float(),
            empty.float(),
        )


@dataclass(frozen=True)
class FieldSchema:
    """The fields of one side, ordered as their embeddings come out: codes, bags, numbers, vectors."""

    fields: tuple[Field, ...]

    def __post_init__(self) -> None:
        order = ("id", "categorical", "multi", "numeric", "vector")
        object.__setattr__(self, "fields", tuple(sorted(self.fields, key=lambda f: order.index(f.kind))))

    @classmethod
    def infer(
        cls, table: FeatureTable | None, *, n_ids: int | None = None, vector_width: int = 0, name: str = "id"
    ) -> FieldSchema:
        """Fields for `table`'s columns (plus an id field over `n_ids` entities, plus a vector field)."""
        fields = [Field(name, "id", n_ids + 1)] if n_ids is not None else []
        for column_name, column in (table.columns if table is not None else {}).items():
            if isinstance(column, CategoricalColumn):
                fields.append(Field(column_name, "categorical", column.cardinality, column.values))
            elif isinstance(column, MultiValuedColumn):
                fields.append(Field(column_name, "multi", column.cardinality, column.values))
            else:
                present = column.values[~np.isnan(column.values)].astype(np.float64)
                mean = float(present.mean()) if len(present) else 0.0
                scale = float(present.std()) if len(present) > 1 and present.std() > 0 else 1.0
                fields.append(Field(column_name, "numeric", mean=mean, scale=scale))
        if vector_width:
            fields.append(Field("vector", "vector", vector_width))
        return cls(tuple(fields))

    def of(self, *kinds: str) -> list[Field]:
        return [f for f in self.fields if f.kind in kinds]

    @property
    def n_fields(self) -> int:
        return len(self.fields)

    def to_json(self) -> list[dict[str, Any]]:
        return [dataclasses.asdict(f) for f in self.fields]

    @classmethod
    def from_json(cls, data: list[dict[str, Any]]) -> FieldSchema:
        return cls(tuple(Field(**{**f, "values": tuple(f["values"])}) for f in data))

    # ------------------------------------------------------------------ encoding
    def encode(
        self,
        table: FeatureTable | None,
        n: int,
        *,
        ids: np.ndarray | None = None,
        vectors: np.ndarray | None = None,
    ) -> FieldValues:
        """Encode `n` rows of `table` (None or absent columns: missing). ids: entity indices (-1 unknown),
        default 0..n-1. Categories are matched to this schema by name."""
        columns = table.columns if table is not None else {}
        ids = np.arange(n) if ids is None else np.asarray(ids, dtype=np.int64)
        codes = np.zeros((n, len(self.of(*_CODES))), dtype=np.int64)
        for j, field in enumerate(self.of(*_CODES)):
            column = _column(columns, field, CategoricalColumn)
            if field.kind == "id":
                codes[:, j] = ids + 1
            elif column is not None:
                codes[:, j] = _recode(field, column.values)[column.codes]
        bag_list = []
        for field in self.of("multi"):
            column = _column(columns, field, MultiValuedColumn)
            if column is None:
                bag_list.append((np.zeros(n + 1, np.int64), np.zeros(0, np.int64)))
            else:
                bag_list.append((column.offsets, _recode(field, column.values)[column.codes]))
        bag_len = min(MAX_BAG, max((int(np.diff(o).max(initial=0)) for o, _ in bag_list), default=0))
        bags = np.stack([_padded(o, c, bag_len) for o, c in bag_list], axis=1) if bag_list else np.zeros((n, 0, 0))
        numbers = np.zeros((n, len(self.of("numeric"))), dtype=np.float32)
        for j, field in enumerate(self.of("numeric")):
            column = _column(columns, field, NumericColumn)
            if column is not None:
                numbers[:, j] = np.nan_to_num((column.values - field.mean) / field.scale, nan=0.0)
        width = sum(f.size for f in self.of("vector"))
        dense = np.zeros((n, width), np.float32) if vectors is None else np.asarray(vectors, np.float32)
        if dense.shape != (n, width):
            raise DataError(f"vector features have shape {dense.shape}, expected ({n}, {width})")
        return FieldValues(
            torch.from_numpy(codes),
            torch.from_numpy(bags.astype(np.int64)),
            torch.from_numpy(numbers),
            torch.from_numpy(dense),
        )


def _column(columns: dict[str, Any], field: Field, kind: type) -> Any:
    """The table's column for `field`, None when absent; DataError when it is of another kind."""
    column = columns.get(field.name)
    if column is not None and not isinstance(column, kind):
        raise DataError(f"feature {field.name!r} is a {type(column).__name__}, expected a {kind.__name__}")
    return column


def _recode(field: Field, values: tuple[str, ...]) -> np.ndarray:
    """(len(values) + 1,) lookup from a column's codes to the field's codes, matched by name (unknown -> 0)."""
    if values == field.values:
        return np.arange(len(values) + 1, dtype=np.int64)
    found = Vocabulary(np.asarray(field.values, dtype=str)).index(np.asarray(values, dtype=str))
    return np.concatenate([[0], np.where(found >= 0, found + 1, 0)]).astype(np.int64)


def _padded(offsets: np.ndarray, codes: np.ndarray, width: int) -> np.ndarray:
    """CSR bags (offsets (n+1,), codes) as an (n, width) matrix padded with 0, longer bags cut to `width`."""
    lengths = np.diff(offsets)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(len(codes)) - np.repeat(offsets[:-1], lengths)
    keep = position < width
    out = np.zeros((len(lengths), width), dtype=np.int64)
    out[rows[keep], position[keep]] = codes[keep]
    return out


class FieldStore(nn.Module):
    """Encoded rows of one side (e.g. every item) kept as buffers, gathered by index per batch."""

    def __init__(self, values: FieldValues) -> None:
        super().__init__()
        for name, tensor in zip(FieldValues._fields, values, strict=True):
            self.register_buffer(name, tensor)

    @classmethod
    def from_state(cls, tensors: dict[str, np.ndarray], prefix: str) -> FieldStore:
        """Rebuild from a saved state dict (`prefix.codes`, ...), so loading needs no data set."""
        return cls(FieldValues(*(torch.from_numpy(tensors[f"{prefix}.{n}"]) for n in FieldValues._fields)))

    def take(self, index: torch.Tensor) -> FieldValues:
        """Rows `index` (any shape s) -> values with leading dimensions s."""
        return FieldValues(*(getattr(self, name)[index] for name in FieldValues._fields))

    def __len__(self) -> int:
        return len(self.codes)


class FieldEmbedding(nn.Module):
    """Encoded rows (...) -> field embeddings (..., n_fields, dim), one table for all code and bag fields.

    id_dropout: while training, each id code is replaced by 0 (unknown) with this probability, so that the
    other fields learn to carry the signal and entities never seen in training embed well from attributes.
    """

    def __init__(
        self, schema: FieldSchema, dim: int, *, id_dropout: float = 0.0, sparse: bool = False, init_std: float = 0.01
    ) -> None:
        super().__init__()
        coded = schema.of(*_CODES, "multi")
        starts = np.concatenate([[0], np.cumsum([f.size for f in coded])]).astype(np.int64)
        n_codes = len(schema.of(*_CODES))
        self.register_buffer("code_offsets", torch.from_numpy(starts[:n_codes]), persistent=False)
        self.register_buffer("bag_offsets", torch.from_numpy(starts[n_codes:-1]), persistent=False)
        self.table = nn.Embedding(max(int(starts[-1]), 1), dim, sparse=sparse)
        nn.init.normal_(self.table.weight, std=init_std)
        self.numeric = nn.Parameter(torch.randn(len(schema.of("numeric")), dim) * init_std)
        self.widths = [f.size for f in schema.of("vector")]
        self.projections = nn.ModuleList(nn.Linear(w, dim) for w in self.widths)
        self.id_columns = [j for j, f in enumerate(schema.of(*_CODES)) if f.kind == "id"]
        self.id_dropout = id_dropout

    def squared_norm(self) -> torch.Tensor:
        """Σ of every squared embedding weight (whole tables): the per-step L2 of CTR libraries such as FuxiCTR."""
        return self.table.weight.square().sum() + self.numeric.square().sum()

    def forward(self, values: FieldValues) -> torch.Tensor:
        codes = values.codes
        if self.training and self.id_dropout > 0 and self.id_columns:
            drop = torch.zeros_like(codes, dtype=torch.bool)
            drop[..., self.id_columns] = (
                torch.rand(drop[..., self.id_columns].shape, device=codes.device) < self.id_dropout
            )
            codes = codes.masked_fill(drop, 0)
        parts = [self.table(codes + self.code_offsets)]
        if len(self.bag_offsets):
            rows = self.table(values.bags + self.bag_offsets[:, None])  # (..., n_bags, L, dim)
            mask = (values.bags > 0).unsqueeze(-1).to(rows.dtype)
            parts.append((rows * mask).sum(-2) / mask.sum(-2).clamp(min=1.0))
        if len(self.numeric):
            parts.append(values.numbers.unsqueeze(-1) * self.numeric)
        if self.widths:
            chunks = values.vectors.split(self.widths, dim=-1)
            parts += [project(chunk).unsqueeze(-2) for project, chunk in zip(self.projections, chunks, strict=True)]
        return torch.cat(parts, dim=-2)


def mlp(sizes: Sequence[int], dropout: float = 0.0, *, batch_norm: bool = False) -> nn.Sequential:
    """Linear layers sizes[0] -> ... -> sizes[-1]; between them [batch norm,] ReLU and dropout (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += hidden_activation(b, dropout, batch_norm=batch_norm)
    return nn.Sequential(*layers)


def hidden_activation(width: int, dropout: float, *, batch_norm: bool) -> list[nn.Module]:
    """What follows a hidden linear layer of `width` units: [batch norm,] ReLU [, dropout]."""
    return [
        *([FeatureNorm(width)] if batch_norm else []),
        nn.ReLU(),
        *([nn.Dropout(dropout)] if dropout > 0 else []),
    ]


class FeatureNorm(nn.BatchNorm1d):
    """Batch norm over the last dimension of (..., width) activations, e.g. (users, candidates, width)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.reshape(-1, x.shape[-1])).reshape(x.shape)
