"""The real data sets load to the statistics verified in each SOURCE.md (run with SHOPREC_DATA_DIR set)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from shoprec.data.dataset import Dataset, Split
from shoprec.data.sources import ITEM_TITLES, load_dataset, load_movielens
from shoprec.data.sources._catalog import ENTRIES
from shoprec.exceptions import DataWarning

pytestmark = pytest.mark.realdata


def counts(data: Dataset) -> tuple[int, int, int]:
    described = data.describe()
    return described["interactions"], described["users"], described["items"]


def test_ml_100k(real_data_dir: Path) -> None:
    data = load_dataset("ml-100k", data_dir=real_data_dir)
    assert counts(data) == (100_000, 943, 1_682)
    assert (data.n_users, data.n_items) == (943, 1_682)
    assert data.user_features.n == 943 and data.item_features["genres"].cardinality == 20
    assert data.metadata[ITEM_TITLES][data.items.index_of("1")] == "Toy Story (1995)"
    assert data.interactions.timestamps is not None


def test_ml_1m_from_the_ratings_without_timestamps(real_data_dir: Path) -> None:
    data = load_dataset("ml-1m", data_dir=real_data_dir)
    assert counts(data) == (1_000_209, 6_040, 3_706)
    assert data.interactions.timestamps is None
    histogram = np.bincount(data.interactions.ratings.astype(int), minlength=6)[1:]
    assert histogram.tolist() == [56_174, 107_557, 261_197, 348_971, 226_310]
    popularity = data.item_popularity()
    assert [popularity[data.items.index_of(m)] for m in ("2858", "260", "1196")] == [3_428, 2_991, 2_990]
    assert data.user_activity().min() >= 20
    assert load_movielens(real_data_dir / "ml-1m", all_catalog_items=True).n_items == 3_883


def test_ml_1m_ratings_dat_format_on_the_sample(real_data_dir: Path, tmp_path: Path) -> None:
    """The 100k-row sample is in the original ratings.dat format; loaded as ratings.dat it keeps timestamps."""
    shutil.copy(real_data_dir / "ml-1m" / "ratings-sample.dat", tmp_path / "ratings.dat")
    shutil.copy(real_data_dir / "ml-1m" / "movies.dat", tmp_path / "movies.dat")
    data = load_movielens(tmp_path)
    assert counts(data) == (100_000, 5_958, 3_312)
    assert data.interactions.timestamps is not None and data.interactions.timestamps.min() > 9e8


def test_ml_1m_ncf_split(real_data_dir: Path) -> None:
    # NCF's negative file lists the test item itself among a line's negatives 156 times (true of the file).
    with pytest.warns(DataWarning, match=r"ml-1m\.test\.negative, line 13, .*: 156 negative\(s\) equal"):
        split = load_dataset("ml-1m-ncf", data_dir=real_data_dir)
    assert isinstance(split, Split)
    train, test = split.train, split.test
    assert (len(train), len(test)) == (994_169, 6_040)
    assert (train.n_users, train.n_items) == (6_040, 3_706)
    assert train.describe()["items"] == 3_704
    assert train.users.to_list() == [str(u) for u in range(6_040)]  # NCF ids are the indices
    assert [train.item_popularity()[train.items.index_of(i)] for i in ("1805", "3569")] == [0, 0]
    assert split.test_negatives.shape == (6_040, 99)
    assert split.test_negative_users.tolist() == test.interactions.users.tolist()
    negatives = np.repeat(split.test_negative_users, 99) * train.n_items + split.test_negatives.ravel()
    seen = train.interactions.users * train.n_items + train.interactions.items
    assert not np.isin(negatives, seen).any()  # no negative was rated by its user in training
    own_test_item = (split.test_negatives == test.interactions.items[:, None]).any(axis=1)
    assert int(own_test_item.sum()) == 156


def test_ml_latest_small(real_data_dir: Path) -> None:
    data = load_dataset("ml-latest-small", data_dir=real_data_dir)
    assert counts(data) == (100_004, 671, 9_066)
    assert load_dataset("ml-latest-small", data_dir=real_data_dir, all_catalog_items=True).n_items == 9_125


def test_amazon_beauty(real_data_dir: Path) -> None:
    data = load_dataset("amazon-beauty", data_dir=real_data_dir)
    assert counts(data) == (198_502, 22_363, 12_101)
    assert data.user_activity().min() == 5
    attributes = data.item_features["attributes"]
    assert attributes.cardinality == 638  # 637 attribute ids + the missing code
    assert np.diff(attributes.offsets).min() > 0  # every item has attributes


def test_amazon_grocery(real_data_dir: Path) -> None:
    data = load_dataset("amazon-grocery", data_dir=real_data_dir)
    assert counts(data) == (121_892, 14_681, 8_687)
    assert data.n_items == 8_713  # the catalog, including items met only in dev/test
    assert data.user_activity().min() >= 3
    times = data.interactions.timestamps
    assert (times.min(), times.max()) == (965_779_200, 1_405_987_200)
    assert data.item_features["i_category"].cardinality == 57
    links = [np.diff(data.item_features[c].offsets).mean() for c in ("r_complement", "r_substitute")]
    assert np.round(links, 1).tolist() == [28.5, 14.3]


def test_frappe(real_data_dir: Path) -> None:
    data = load_dataset("frappe", data_dir=real_data_dir)
    assert counts(data) == (96_203, 957, 4_082)
    assert sum(1 for t in data.metadata[ITEM_TITLES] if t) == 4_082 - 550  # 550 apps have no metadata


@pytest.mark.parametrize("name", ["amazon-beauty", "amazon-grocery", "ml-1m-ncf"])
def test_registered_checksums_match_the_local_copies(real_data_dir: Path, name: str) -> None:
    """The local files are byte copies of the pinned upstream files, so the registry's sha256 must match."""
    for remote in ENTRIES[name].remotes:
        if remote.sha256 is not None:
            path = real_data_dir / name / remote.url.rsplit("/", 1)[1]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == remote.sha256, path
