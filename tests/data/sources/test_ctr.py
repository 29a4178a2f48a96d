"""CTR rows: libFM and CSV logs (with errors naming line and column), ratings as clicks, the Frappe train rebuild."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shoprec.data.dataset import Dataset, Interactions
from shoprec.data.features import CategoricalColumn, FeatureTable, MultiValuedColumn, NumericColumn
from shoprec.data.sources.ctr import (
    FRAPPE_FIELDS,
    LabelledRows,
    labelled_from_ratings,
    load_ctr_csv,
    load_libfm,
    rebuild_frappe_train,
)
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import DataError


def ids_of(rows: LabelledRows, name: str) -> list[str]:
    column = rows.features[name]
    return [column.values[c - 1] if c else "" for c in column.codes]


def test_libfm_one_hot_and_numeric_fields(write) -> None:
    rows = load_libfm(write("a.libfm", "1 3:1 10:1 20:0.5\r\n-1 4:1 10:1 20:1.5\r\n0 3:1 11:1 20:2\r\n"), fields="abx")
    assert rows.labels.tolist() == [1.0, 0.0, 0.0]
    assert ids_of(rows, "a") == ["3", "4", "3"] and ids_of(rows, "b") == ["10", "10", "11"]
    assert isinstance(rows.features["x"], NumericColumn)
    np.testing.assert_allclose(rows.features["x"].values, [0.5, 1.5, 2.0])
    assert len(rows.take(rows.labels == 0)) == 2 and ids_of(rows.take(np.array([2])), "b") == ["11"]


@pytest.mark.parametrize(
    ("content", "fields", "message"),
    [
        ("1 3:1 4:1\n0 3:1\n", None, r"line 2.*expected 3 fields"),
        ("1 3:1 4:1\n0 3:1 5:2\n", "ab", r"line 2, column 'b.value': expected 1 in a one-hot field.*'2'"),
        ("1 3:1\n2 4:1\n", None, r"line 2, column 'label': expected a label 1, 0 or -1"),
        ("1 x:1\n0 4:1\n", None, r"line 1, column 'field0.id': expected an integer"),
        ("1 3:1 4:1\n", "abc", "2 id:value pairs, but 3 field names"),
    ],
)
def test_libfm_errors_name_line_and_field(write, content: str, fields: str | None, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_libfm(write("bad.libfm", content), fields=fields)


def test_csv_log_with_kinds_threshold_and_errors(write) -> None:
    path = write("log.csv", "label,price,colour,tags\n1,1.5,red,a|b\n0,,blue,\n1,3,red,b\n")
    rows = load_ctr_csv(path, label="label", features={"price": "auto", "colour": "categorical", "tags": "multi"})
    assert rows.labels.tolist() == [1.0, 0.0, 1.0]
    np.testing.assert_array_equal(rows.features["price"].values, [1.5, np.nan, 3.0])
    assert ids_of(rows, "colour") == ["red", "blue", "red"]
    tags = rows.features["tags"]
    assert isinstance(tags, MultiValuedColumn) and [[tags.values[c - 1] for c in tags.of(i)] for i in range(3)] == [
        ["a", "b"],
        [],
        ["b"],
    ]
    stars = load_ctr_csv(write("r.csv", "rating,user\n5,a\n3,b\n4,c\n"), label="rating", threshold=4)
    assert stars.labels.tolist() == [1.0, 0.0, 1.0] and ids_of(stars, "user") == ["a", "b", "c"]
    with pytest.raises(DataError, match=r"line 3, column 'label': expected a click label 0 or 1, got '2'"):
        load_ctr_csv(write("bad.csv", "label,x\n1,a\n2,b\n"), label="label")


def test_ratings_become_clicks_with_both_sides_features() -> None:
    inter = Interactions.build([0, 1, 1], [1, 0, 1], ratings=[5, 2, 4])
    users = FeatureTable(2, {"gender": CategoricalColumn(np.array([1, 2]), ("F", "M"))})
    items = FeatureTable(2, {"year": NumericColumn(np.array([1990.0, 2000.0], np.float32))})
    data = Dataset("r", inter, Vocabulary(np.array(["u0", "u1"])), Vocabulary(np.array(["i0", "i1"])), items, users)
    rows = labelled_from_ratings(data, threshold=4)
    assert rows.labels.tolist() == [1.0, 0.0, 1.0]
    assert sorted(rows.features.columns) == ["item", "item.year", "user", "user.gender"]
    assert ids_of(rows, "user") == ["u0", "u1", "u1"] and ids_of(rows, "item") == ["i1", "i0", "i1"]
    assert ids_of(rows, "user.gender") == ["F", "M", "M"]
    np.testing.assert_array_equal(rows.features["item.year"].values, [2000.0, 1990.0, 2000.0])
    with pytest.raises(DataError, match="no explicit ratings"):
        labelled_from_ratings(data.with_interactions(Interactions.build([0], [0])))


HEADER = "user\titem\tcnt\tdaytime\tweekday\tisweekend\thomework\tcost\tweather\tcountry\tcity\n"
LOG = [
    "0\t0\t1\tmorning\tsunday\tweekend\tunknown\tfree\tsunny\tUS\t0",
    "1\t1\t7\tafternoon\tsaturday\tweekend\tunknown\tfree\tcloudy\tSpain\t0",
    "0\t2\t3\tevening\tmonday\tworkday\thome\tfree\tsunny\tUS\t1",
    "2\t0\t1\tmorning\tsunday\tweekend\tunknown\tpaid\trainy\tSpain\t1",
    "1\t2\t2\tevening\tmonday\tworkday\thome\tfree\tcloudy\tSpain\t0",
]
#: NFM's ids: each field's values numbered by first appearance, fields one after another (see the module).
LOG_IDS = [
    [0, 3, 6, 9, 12, 14, 16, 18, 21, 23],
    [1, 4, 7, 10, 12, 14, 16, 19, 22, 23],
    [0, 5, 8, 11, 13, 15, 16, 18, 21, 24],
    [2, 3, 6, 9, 12, 14, 17, 20, 22, 24],
    [1, 5, 8, 11, 13, 15, 16, 19, 22, 23],
]


def libfm_line(label: int, ids: list[int]) -> str:
    return " ".join([str(label), *(f"{i}:1" for i in ids)]) + "\n"


def test_frappe_train_is_the_log_minus_held_out_positives_with_fresh_negatives(write, tmp_path: Path) -> None:
    log = write("frappe.csv", HEADER + "\n".join(LOG) + "\n")
    held_ids = [*LOG_IDS[2][:1], 4, *LOG_IDS[2][2:]]  # a held-out negative: user 0 with item 1, row 2's context
    test = load_libfm(write("t.libfm", libfm_line(1, LOG_IDS[2]) + libfm_line(-1, held_ids)), fields=FRAPPE_FIELDS)
    rows = rebuild_frappe_train(log, [test], negatives=2, seed=3)
    ids = np.stack([np.asarray(ids_of(rows, name), dtype=np.int64) for name in FRAPPE_FIELDS], axis=1)
    positives, negatives = ids[rows.labels == 1], ids[rows.labels == 0]
    np.testing.assert_array_equal(positives, np.array(LOG_IDS)[[0, 1, 3, 4]])
    assert len(negatives) == 8
    expected_context = np.repeat(positives, 2, axis=0)
    np.testing.assert_array_equal(np.delete(negatives, 1, axis=1), np.delete(expected_context, 1, axis=1))
    used = {0: {3, 5}, 1: {4, 5}, 2: {3}}  # every item each user used in the whole log, held-out rows included
    assert all(item not in used[user] and 3 <= item <= 5 for user, item in negatives[:, :2].tolist())
    np.testing.assert_array_equal(negatives[negatives[:, 0] == 0, 1], [4, 4])  # user 0 never used only item 1


def test_frappe_rebuild_refuses_a_held_out_row_missing_from_the_log(write) -> None:
    log = write("frappe.csv", HEADER + "\n".join(LOG) + "\n")
    stranger = load_libfm(write("t.libfm", libfm_line(1, [2, *LOG_IDS[0][1:]])), fields=FRAPPE_FIELDS)
    with pytest.raises(DataError, match="1 held-out positive"):
        rebuild_frappe_train(log, [stranger])
    unnamed = load_libfm(write("u.libfm", libfm_line(1, LOG_IDS[0])))
    with pytest.raises(DataError, match="fields=FRAPPE_FIELDS"):
        rebuild_frappe_train(log, [unnamed])


@pytest.mark.realdata
def test_nfm_frappe_files_and_the_rebuilt_train(real_data_dir: Path) -> None:
    folder = real_data_dir / "frappe"
    valid = load_libfm(folder / "libfm_nfm" / "frappe.validation.libfm", fields=FRAPPE_FIELDS)
    test = load_libfm(folder / "libfm_nfm" / "frappe.test.libfm", fields=FRAPPE_FIELDS)
    assert (len(valid), int(valid.labels.sum()), len(test), int(test.labels.sum())) == (57722, 19063, 28860, 9536)
    train = rebuild_frappe_train(folder / "original_baltrunas" / "frappe.csv", [valid, test])
    assert int(train.labels.sum()) == 96203 - 19063 - 9536  # SOURCE.md: every log entry is one positive
    assert len(train) == 3 * int(train.labels.sum())


@pytest.mark.realdata
def test_deepctr_samples(real_data_dir: Path) -> None:
    folder = real_data_dir / "ctr-samples"
    criteo = load_ctr_csv(folder / "criteo_sample.txt", label="label")
    assert len(criteo) == 200 and criteo.labels.mean() == pytest.approx(0.245)
    assert criteo.features.names(NumericColumn) == [f"I{i}" for i in range(1, 14)]
    assert criteo.features.names(CategoricalColumn) == [f"C{i}" for i in range(1, 27)]
    header = (folder / "avazu_sample.txt").read_text().splitlines()[0].split(",")
    avazu = load_ctr_csv(
        folder / "avazu_sample.txt", label="click", features=[c for c in header if c not in ("id", "click")]
    )
    assert len(avazu) == 100 and avazu.labels.mean() == pytest.approx(0.20)
    kinds = {"user_id": "categorical", "movie_id": "categorical", "genres": "multi", "gender": "categorical"}
    movielens = load_ctr_csv(folder / "movielens_sample.txt", label="rating", threshold=4, features=kinds)
    assert len(movielens) == 200 and len(movielens.features["genres"].values) == 17
