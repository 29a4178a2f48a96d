import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shoprec.data.vocabulary import UNKNOWN, Vocabulary
from shoprec.exceptions import DataError


def test_from_values_sorts_numeric_ids_numerically_and_codes_round_trip():
    vocab, codes = Vocabulary.from_values(np.array([10, 2, 10, 33, 2]))
    assert vocab.to_list() == ["2", "10", "33"]
    assert codes.tolist() == [1, 0, 1, 2, 0]
    assert vocab.external(codes).tolist() == ["10", "2", "10", "33", "2"]


def test_index_maps_unknown_to_minus_one_and_strict_raises_naming_ids():
    vocab = Vocabulary(np.array(["a", "b", "c"]))
    assert vocab.index(["c", "zz", "a"]).tolist() == [2, UNKNOWN, 0]
    assert vocab.index_of("b") == 1 and "b" in vocab and "q" not in vocab
    with pytest.raises(DataError, match="'zz'"):
        vocab.index(["a", "zz"], strict=True)


def test_duplicate_ids_are_rejected():
    with pytest.raises(DataError, match="'x' appears twice"):
        Vocabulary(np.array(["x", "y", "x"]))


def test_extend_keeps_existing_indices_and_appends_in_first_seen_order():
    vocab = Vocabulary(np.array(["a", "b"]))
    bigger = vocab.extend(["c", "a", "d", "c"])
    assert bigger.to_list() == ["a", "b", "c", "d"]
    assert vocab.extend(["a"]) is vocab


def test_empty_vocabulary_looks_up_nothing():
    vocab = Vocabulary(np.array([], dtype=str))
    assert len(vocab) == 0
    assert vocab.index(["a"]).tolist() == [UNKNOWN]


@given(
    st.lists(st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=6), min_size=1, max_size=40)
)
def test_every_value_maps_back_to_itself(values):
    vocab, codes = Vocabulary.from_values(np.array(values, dtype=object))
    assert vocab.external(codes).tolist() == [str(v) for v in values]
    assert vocab.index(values).tolist() == codes.tolist()


def test_index_of_ids_longer_or_shorter_than_every_stored_id():
    vocab = Vocabulary(np.array(["u1", "u22", "u333"]))
    assert [vocab.index_of(k) for k in ("u333", "u3333", "visitor-12345", "u", "", "u22")] == [2, -1, -1, -1, -1, 1]
    assert Vocabulary(np.array([], dtype=str)).index_of("anything") == UNKNOWN


@given(
    st.lists(st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=6), min_size=1, max_size=40),
    st.lists(st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=0, max_size=9), max_size=20),
)
def test_index_of_agrees_with_index_for_any_lookup(values, lookups):
    vocab, _ = Vocabulary.from_values(np.array(values, dtype=object))
    for key in [*values, *lookups]:
        assert vocab.index_of(key) == int(vocab.index([key])[0])
