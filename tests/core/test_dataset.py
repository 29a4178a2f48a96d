import numpy as np
import pytest

from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.features import CategoricalColumn, FeatureTable, NumericColumn, categorical, multi_valued
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import DataError


def tiny() -> Dataset:
    inter = Interactions.build([0, 0, 1, 2, 2, 2], [0, 1, 1, 0, 2, 2], weights=[1, 3, 1, 5, 1, 1])
    return Dataset("tiny", inter, Vocabulary(np.array(["u0", "u1", "u2"])), Vocabulary(np.array(["a", "b", "c"])))


def test_to_csr_sums_duplicates_and_supports_ones():
    data = tiny()
    weights = data.to_csr().toarray()
    assert weights.tolist() == [[1, 3, 0], [0, 1, 0], [5, 0, 2]]
    ones = data.to_csr(values="ones").toarray()
    assert ones[2].tolist() == [1, 0, 2]


def test_ratings_matrix_requires_ratings():
    with pytest.raises(DataError, match="no explicit ratings"):
        tiny().to_csr(values="ratings")


def test_counts_and_describe():
    data = tiny()
    assert data.item_popularity().tolist() == [2, 2, 2]
    assert data.user_activity().tolist() == [2, 1, 3]
    info = data.describe()
    assert info["interactions"] == 6 and info["users"] == 3 and info["items"] == 3
    assert info["density"] == pytest.approx(6 / 9, abs=1e-6)


def test_out_of_range_indices_are_rejected():
    inter = Interactions.build([0, 5], [0, 0])
    with pytest.raises(DataError, match="user index out of range"):
        Dataset("bad", inter, Vocabulary(np.array(["u0"])), Vocabulary(np.array(["a"])))


def test_mismatched_column_lengths_are_rejected():
    with pytest.raises(DataError, match="'items' has 1 rows, expected 2"):
        Interactions(np.array([0, 1]), np.array([0]), np.ones(2, np.float32))


def test_take_and_concat_keep_optional_columns():
    inter = Interactions.build([0, 1, 2], [2, 1, 0], timestamps=[5, 6, 7])
    part = inter.take(np.array([True, False, True]))
    assert part.items.tolist() == [2, 0] and part.timestamps.tolist() == [5, 7]
    joined = Interactions.concat([part, inter.take(np.array([1]))])
    assert joined.users.tolist() == [0, 2, 1] and joined.timestamps.tolist() == [5, 7, 6]
    assert joined.ratings is None


def test_feature_encoders_and_take():
    cat = categorical(np.array(["x", None, "y", "x"], dtype=object))
    assert cat.codes.tolist() == [1, 0, 2, 1] and cat.values == ("x", "y") and cat.cardinality == 3
    multi = multi_valued([["a", "b"], [], ["b"]])
    assert multi.of(0).tolist() == [1, 2] and multi.of(1).tolist() == [] and multi.of(2).tolist() == [2]
    assert multi.to_dense().tolist() == [[0, 1, 1], [0, 0, 0], [0, 0, 1]]
    table = FeatureTable(3, {"genres": multi, "price": NumericColumn(np.array([1.0, 2.0, 3.0], np.float32))})
    picked = table.take(np.array([2, 0]))
    assert picked["genres"].of(0).tolist() == [2] and picked["genres"].of(1).tolist() == [1, 2]
    assert picked["price"].values.tolist() == [3.0, 1.0]


def test_feature_table_checks_row_count():
    with pytest.raises(DataError, match="'c' has 2 rows, expected 3"):
        FeatureTable(3, {"c": CategoricalColumn(np.array([1, 2]), ("a", "b"))})
