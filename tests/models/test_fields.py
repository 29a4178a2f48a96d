"""Feature fields: schema inference, encoding (recoding by name, padding, standardising), embeddings vs naive loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from shoprec.data.features import CategoricalColumn, FeatureTable, MultiValuedColumn, NumericColumn, multi_valued
from shoprec.exceptions import DataError
from shoprec.models.fields import MAX_BAG, Field, FieldEmbedding, FieldSchema, FieldStore, FieldValues, mlp


def table() -> FeatureTable:
    """Three entities: colour (categorical), tags (multi), price (numeric with a missing value)."""
    return FeatureTable(
        3,
        {
            "price": NumericColumn(np.array([1.0, np.nan, 3.0], np.float32)),
            "colour": CategoricalColumn(np.array([1, 0, 2]), ("blue", "red")),
            "tags": MultiValuedColumn(np.array([0, 2, 2, 3]), np.array([1, 2, 2]), ("a", "b")),
        },
    )


def test_schema_orders_fields_by_kind_and_records_what_encoding_needs() -> None:
    schema = FieldSchema.infer(table(), n_ids=3, vector_width=4)
    assert [(f.name, f.kind, f.size) for f in schema.fields] == [
        ("id", "id", 4),
        ("colour", "categorical", 3),
        ("tags", "multi", 3),
        ("price", "numeric", 1),
        ("vector", "vector", 4),
    ]
    price = schema.fields[3]
    assert price.mean == pytest.approx(2.0) and price.scale == pytest.approx(1.0)  # std of [1, 3]
    assert schema.fields[1].values == ("blue", "red")
    assert FieldSchema.from_json(schema.to_json()) == schema


def test_encoding_by_hand() -> None:
    schema = FieldSchema.infer(table(), n_ids=3)
    values = schema.encode(table(), 3)
    np.testing.assert_array_equal(values.codes, [[1, 1], [2, 0], [3, 2]])  # id + 1, colour code
    np.testing.assert_array_equal(values.bags, [[[1, 2]], [[0, 0]], [[2, 0]]])
    np.testing.assert_allclose(values.numbers, [[-1.0], [0.0], [1.0]])  # (x - 2) / 1, missing -> 0
    assert values.vectors.shape == (3, 0)
    unknown = schema.encode(None, 2, ids=np.array([-1, 1]))
    np.testing.assert_array_equal(unknown.codes, [[0, 0], [2, 0]])
    assert unknown.bags.shape == (2, 1, 0) and not unknown.numbers.any()


def test_new_tables_are_recoded_by_category_name() -> None:
    schema = FieldSchema.infer(table())
    other = FeatureTable(
        3,
        {
            "colour": CategoricalColumn(np.array([1, 2, 3]), ("green", "red", "blue")),
            "tags": MultiValuedColumn(np.array([0, 2, 3, 3]), np.array([1, 2, 3]), ("b", "zzz", "a")),
        },
    )
    values = schema.encode(other, 3)
    np.testing.assert_array_equal(values.codes[:, 0], [0, 2, 1])  # green unknown -> missing
    np.testing.assert_array_equal(values.bags[:, 0], [[2, 0], [1, 0], [0, 0]])  # 'zzz' unknown -> padding


def test_a_column_of_another_kind_is_refused_by_name() -> None:
    schema = FieldSchema.infer(table())
    wrong = FeatureTable(3, {"colour": NumericColumn(np.zeros(3, np.float32))})
    with pytest.raises(DataError, match="'colour' is a NumericColumn, expected a CategoricalColumn"):
        schema.encode(wrong, 3)
    with pytest.raises(DataError, match=r"vector features have shape \(3, 2\), expected \(3, 4\)"):
        FieldSchema.infer(None, vector_width=4).encode(None, 3, vectors=np.zeros((3, 2)))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcdef"), max_size=MAX_BAG + 5), min_size=1, max_size=12))
def test_padded_bags_hold_each_row_in_order(lists: list[list[str]]) -> None:
    column = multi_valued(lists)
    schema = FieldSchema.infer(FeatureTable(len(lists), {"tags": column}))
    bags = schema.encode(FeatureTable(len(lists), {"tags": column}), len(lists)).bags[:, 0].numpy()
    for row, values in zip(bags, lists, strict=True):
        kept = values[:MAX_BAG]
        assert [column.values[c - 1] for c in row[row > 0]] == kept
        assert (row[len(kept) :] == 0).all()


def test_embedding_matches_a_naive_lookup() -> None:
    torch.manual_seed(0)
    schema = FieldSchema.infer(table(), n_ids=3, vector_width=2)
    embed = FieldEmbedding(schema, dim=5).eval()
    vectors = torch.tensor([[1.0, 2.0], [0.0, 0.0], [-1.0, 0.5]])
    values = schema.encode(table(), 3, vectors=vectors.numpy())
    out = embed(values)
    assert out.shape == (3, 5, 5)
    weight = embed.table.weight
    id_rows, colour_rows, tag_rows = weight[0:4], weight[4:7], weight[7:10]
    for r in range(3):
        torch.testing.assert_close(out[r, 0], id_rows[r + 1])
        torch.testing.assert_close(out[r, 1], colour_rows[int(values.codes[r, 1])])
        tags = [c for c in values.bags[r, 0].tolist() if c > 0]
        expected = tag_rows[tags].mean(0) if tags else torch.zeros(5)
        torch.testing.assert_close(out[r, 2], expected)
        torch.testing.assert_close(out[r, 3], values.numbers[r, 0] * embed.numeric[0])
        torch.testing.assert_close(out[r, 4], embed.projections[0](vectors[r]))


def test_id_dropout_only_while_training() -> None:
    torch.manual_seed(0)
    schema = FieldSchema.infer(None, n_ids=50)
    embed = FieldEmbedding(schema, dim=3, id_dropout=0.5)
    values = schema.encode(None, 50)
    unknown_row = embed.table.weight[0]
    dropped = (embed.train()(values)[:, 0] == unknown_row).all(dim=1)
    assert 10 < int(dropped.sum()) < 40
    assert not (embed.eval()(values)[:, 0] == unknown_row).all(dim=1).any()


def test_store_gathers_any_index_shape_and_round_trips() -> None:
    schema = FieldSchema.infer(table(), n_ids=3)
    store = FieldStore(schema.encode(table(), 3))
    taken = store.take(torch.tensor([[0, 2], [1, 1]]))
    assert taken.codes.shape == (2, 2, 2) and taken.bags.shape == (2, 2, 1, 2) and taken.numbers.shape == (2, 2, 1)
    state = {k: v.numpy() for k, v in store.state_dict().items()}
    again = FieldStore.from_state({f"users.{k}": v for k, v in state.items()}, "users")
    for a, b in zip(store.take(torch.arange(3)), again.take(torch.arange(3)), strict=True):
        torch.testing.assert_close(a, b)
    assert len(again) == 3


def test_partial_values_give_empty_other_parts() -> None:
    numbers = FieldValues.partial(numbers=torch.ones(4, 6, 1))
    assert numbers.codes.shape == (4, 6, 0) and numbers.bags.shape == (4, 6, 0, 1)
    bags = FieldValues.partial(bags=torch.ones(4, 1, 7, dtype=torch.long))
    assert bags.codes.shape == (4, 0) and bags.numbers.shape == (4, 0)
    embed = FieldEmbedding(FieldSchema((Field("score", "numeric"),)), 2)
    torch.testing.assert_close(embed(numbers), embed.numeric.expand(4, 6, 1, 2))


def test_mlp_puts_activations_only_between_layers() -> None:
    layers = mlp([6, 4, 2], dropout=0.1)
    assert [type(m).__name__ for m in layers] == ["Linear", "ReLU", "Dropout", "Linear"]
    assert [type(m).__name__ for m in mlp([3, 1])] == ["Linear"]
