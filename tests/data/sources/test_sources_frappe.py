"""Frappe log: usage counts as weights, app metadata with 'unknown' and prices in several currencies."""

from __future__ import annotations

import numpy as np

from shoprec.data.sources import ITEM_TITLES, load_frappe

LOG = (
    "user\titem\tcnt\tdaytime\tweekday\tisweekend\thomework\tcost\tweather\tcountry\tcity\n"
    "0\t0\t1\tmorning\tsunday\tweekend\tunknown\tfree\tsunny\tUnited States\t0\n"
    "1\t1\t7\tafternoon\tsaturday\tweekend\tunknown\tfree\tcloudy\tSpain\t0\n"
    "0\t0\t3\tevening\tmonday\tworkday\thome\tfree\tsunny\tUnited States\t0\n"
)
META = (
    "item\tpackage\tcategory\tdownloads\tdeveloper\ticon\tlanguage\tdescription\tname\tprice\trating\tshort desc\n"
    '0\tcom.a\tTools\t"1,000 - 5,000"\tA\thttp://i\ten\tSays "hi"\tApp A\tFree\t4.5\tx\n'
    "1\tcom.b\tunknown\tunknown\tunknown\tunknown\tunknown\tunknown\tunknown\t\u20ac\u00a00,99\tunknown\tunknown\n"
    "2\tcom.c\tGames\t10 - 50\tC\thttp://c\tde\td\tApp C\t$2.99\t3.9\ty\n"
)


def test_counts_become_weights_and_metadata_features(write) -> None:
    write("meta.csv", META)
    data = load_frappe(write("frappe.csv", LOG))
    assert data.name == "frappe"
    assert data.items.to_list() == ["0", "1"]  # app 2 has metadata but no use
    assert data.interactions.users.tolist() == [0, 1, 0]
    assert data.interactions.weights.tolist() == [1.0, 7.0, 3.0]
    assert data.to_csr().toarray().tolist() == [[4.0, 0.0], [0.0, 7.0]]
    features = data.item_features
    np.testing.assert_array_equal(features["price"].values, [0.0, np.nan])  # Free; a euro price is not mixed in
    np.testing.assert_array_equal(features["rating"].values, [4.5, np.nan])
    category = features["category"]
    assert category.values == ("Tools",)
    assert category.codes.tolist() == [1, 0]
    assert features["downloads"].values == ('"1,000 - 5,000"',)
    assert data.metadata[ITEM_TITLES] == ["App A", ""]


def test_log_without_metadata(write) -> None:
    data = load_frappe(write("frappe.csv", LOG))
    assert data.item_features is None
    assert ITEM_TITLES not in data.metadata
