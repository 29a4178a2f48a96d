"""The id policy (`shoprec.ids`): one rule, one error message, and a column check that agrees with it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoprec.exceptions import DataError
from shoprec.ids import MAX_ID_LENGTH, all_valid, check_ids, id_problem, validate_id

VALID = ["u1", "shop/alice", "a b", "Ünïcødé", "商品-42", "🙂", "x" * MAX_ID_LENGTH, "%FF", "a?b#c", "\u00a0nbsp"]
INVALID = {
    "": "must be 1-256 characters, got 0",
    "x" * (MAX_ID_LENGTH + 1): "must be 1-256 characters, got 257",
    "bob\x00": "contains NUL at position 3",
    "tab\there": "contains character U+0009 at position 3",
    "del\x7f": "contains character U+007F",
    "c1\x85": "contains character U+0085",
    "half\ud800": "contains character U+D800",
    "line\u2028": "contains character U+2028",
    "\ufffd\ufffd": "contains U+FFFD (bytes that were not UTF-8) at position 0",
}


@pytest.mark.parametrize("value", VALID)
def test_printable_ids_slash_included_are_valid(value: str) -> None:
    assert id_problem(value) is None and validate_id(value, "user") == value


@pytest.mark.parametrize(("value", "problem"), INVALID.items())
def test_each_refused_id_is_named_with_its_problem(value: str, problem: str) -> None:
    assert problem in id_problem(value)
    with pytest.raises(DataError, match="event 2: field 'item' ") as raised:
        validate_id(value, "item", "event 2")
    assert problem in str(raised.value) and raised.value.column == "item"


@pytest.mark.parametrize("value", [None, 5, b"bytes"])
def test_only_strings_are_ids(value: object) -> None:
    assert id_problem(value).startswith("expected a string id, got ")


def test_a_column_check_names_the_first_bad_row_by_line() -> None:
    check_ids(np.array(VALID, dtype=object), "item_id", path="items.csv")
    check_ids(np.array(["a", "b"]), "item_id")  # a numpy str array as well
    check_ids([], "item_id")
    message = r"items.csv, line 4, column 'item_id': contains NUL at position 1 \(ids are printable text\): 'b\\x00'"
    with pytest.raises(DataError, match=message):
        check_ids(["a", "ok", "b\x00", "c\x01"], "item_id", path="items.csv", first_line=2)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=8), max_size=6))
def test_the_fast_column_check_agrees_with_the_rule_for_every_value(values: list[str]) -> None:
    assert all_valid(values) == all(id_problem(v) is None for v in values)
