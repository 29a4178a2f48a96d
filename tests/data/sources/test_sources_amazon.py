"""Amazon layouts: S3-Rec sequences, ratings CSV, 5-core JSON lines (plain and gzip), ReChorus."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from shoprec.data.features import MultiValuedColumn
from shoprec.data.sources import load_amazon_ratings, load_amazon_reviews, load_amazon_sequences, load_rechorus
from shoprec.exceptions import DataError


def values_of(column: MultiValuedColumn, index: int) -> list[str]:
    return [column.values[c - 1] for c in column.of(index)]


def test_sequences_keep_order_as_positions_and_attributes(write) -> None:
    write("Beauty_item2attributes.json", json.dumps({"1": [7, 8], "2": [8], "3": [], "9": [1]}))
    data = load_amazon_sequences(write("Beauty.txt", "1 1 2 3\n2 3  1\n10 2\n"))
    assert data.name == "Beauty"
    assert data.users.to_list() == ["1", "2", "10"]
    assert data.items.to_list() == ["1", "2", "3"]
    inter = data.interactions
    assert inter.users.tolist() == [0, 0, 0, 1, 1, 2]
    assert inter.items.tolist() == [0, 1, 2, 2, 0, 1]
    assert inter.timestamps.tolist() == [0, 1, 2, 0, 1, 0]  # position in the user's sequence
    assert data.metadata["timestamps"] == "position in the user's sequence"
    attributes = data.item_features["attributes"]
    assert [values_of(attributes, i) for i in range(3)] == [["7", "8"], ["8"], []]


def test_sequences_reject_a_second_line_for_a_user(write) -> None:
    with pytest.raises(DataError, match=r"line 3, column 'line': expected one line per user"):
        load_amazon_sequences(write("S.txt", "1 1 2\n2 3\n1 4\n"))


def test_ratings_csv_and_review_json_lines_agree(write) -> None:
    rows = [("A2", "B9", 5.0, 1400000000), ("A1", "B9", 3.0, 1300000000), ("A1", "B1", 1.0, 1200000000)]
    csv_data = load_amazon_ratings(write("ratings_Beauty.csv", "".join(f"{u},{i},{r},{t}\n" for u, i, r, t in rows)))
    lines = "".join(
        json.dumps({"reviewerID": u, "asin": i, "overall": r, "unixReviewTime": t, "summary": "ok"}) + "\n"
        for u, i, r, t in rows
    )
    plain = load_amazon_reviews(write("reviews_Beauty_5.json", lines))
    packed = load_amazon_reviews(write("reviews_Beauty_5.json.gz", gzip.compress(lines.encode())))
    for data in (csv_data, plain, packed):
        assert data.users.to_list() == ["A1", "A2"]
        assert data.items.to_list() == ["B1", "B9"]
        assert data.interactions.users.tolist() == [1, 0, 0]
        assert data.interactions.items.tolist() == [1, 1, 0]
        assert data.interactions.ratings.tolist() == [5.0, 3.0, 1.0]
        assert data.interactions.timestamps.tolist() == [1400000000, 1300000000, 1200000000]
    assert plain.name == packed.name == "reviews_Beauty_5"


def test_rechorus_catalog_category_and_relations(write) -> None:
    write(
        "item_meta.csv",
        "item_id\ti_category\tr_complement\tr_substitute\n"
        "1\t3\t[2, 4]\t[]\n2\t0\t[1]\t[4,1]\n3\t5\t[]\t[]\n4\t3\t[ ]\t[2]\n",
    )
    data = load_rechorus(write("train.csv", "user_id\titem_id\ttime\n1\t2\t965779200\n2\t1\t1068249600\n"))
    assert data.items.to_list() == ["1", "2", "3", "4"]  # catalog items without events join the vocabulary
    assert data.interactions.items.tolist() == [1, 0]
    assert data.interactions.timestamps.tolist() == [965779200, 1068249600]
    category = data.item_features["i_category"]
    assert [category.values[c - 1] if c else None for c in category.codes] == ["3", None, "5", "3"]
    complement = data.item_features["r_complement"]
    assert [values_of(complement, i) for i in range(4)] == [["2", "4"], ["1"], [], []]
    substitute = data.item_features["r_substitute"]
    assert values_of(substitute, 1) == ["4", "1"]
    assert data.describe()["items"] == 2
    np.testing.assert_array_equal(data.item_popularity(), [1, 1, 0, 0])
