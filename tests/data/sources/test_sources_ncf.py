"""The NCF pre-split files: ids kept as indices, test-only items in the catalog, negatives as item indices."""

from __future__ import annotations

import numpy as np
import pytest

from shoprec.data.sources import load_ncf_split
from shoprec.exceptions import DataError

TRAIN = "0\t0\t5\t0\n0\t1\t3\t0\n1\t0\t4\t0\n1\t2\t2\t0\n2\t1\t1\t0\n"
TEST = "0\t2\t5\t978824351\n1\t4\t3\t978300174\n2\t0\t4\t978300000\n"
NEGATIVES = "(0,2)\t3\t4\n(1,4)\t1\t3\n(2,0)\t2\t3\n"


def test_split_keeps_ncf_ids_and_adds_test_only_items(write) -> None:
    write("x.test.rating", TEST)
    write("x.test.negative", NEGATIVES)
    split = load_ncf_split(write("x.train.rating", TRAIN))
    assert (split.protocol, split.method, split.valid) == ("ncf", "ncf-presplit", None)
    train, test = split.train, split.test
    assert train.users is test.users and train.items is test.items
    assert train.items.to_list() == ["0", "1", "2", "3", "4"]  # 3 only as a negative, 4 only as a test item
    assert train.interactions.users.tolist() == [0, 0, 1, 1, 2]
    assert train.interactions.items.tolist() == [0, 1, 0, 2, 1]
    assert train.interactions.ratings.tolist() == [5, 3, 4, 2, 1]
    assert train.interactions.timestamps is None  # all zero in the file: no time
    assert test.interactions.items.tolist() == [2, 4, 0]
    assert test.interactions.timestamps.tolist() == [978824351, 978300174, 978300000]
    assert split.test_negative_users.tolist() == [0, 1, 2]
    assert split.test_negatives.dtype == np.int64
    assert split.test_negatives.tolist() == [[3, 4], [1, 3], [2, 3]]
    assert train.name == "x-ncf/train"


def test_negative_file_with_missing_lines_is_a_data_error(write) -> None:
    write("x.test.rating", TEST)
    write("x.test.negative", NEGATIVES.rsplit("(2,0)", 1)[0])
    with pytest.raises(
        DataError, match=r"x\.test\.negative: has 2 lines, expected one per line of x\.test\.rating \(3\)"
    ):
        load_ncf_split(write("x.train.rating", TRAIN))


def test_train_file_must_be_named_like_ncf(write) -> None:
    with pytest.raises(DataError, match=r"expected a file named <name>\.train\.rating"):
        load_ncf_split(write("train.txt", TRAIN))
