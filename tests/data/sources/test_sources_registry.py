"""The data set registry: where sets are found, statuses, errors, download on demand, the synthetic shop."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from shoprec.data.dataset import Dataset, Interactions, Split
from shoprec.data.sources import dataset_info, download_dataset, list_datasets, load_dataset
from shoprec.data.sources._catalog import ENTRIES, Remote
from shoprec.data.vocabulary import Vocabulary
from shoprec.exceptions import ConfigError, DataError

U_DATA = "1\t10\t4\t881250949\n2\t10\t5\t874965758\n2\t20\t3\t874965759\n"


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(data dir, cache dir), both empty and set in the environment."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    cache.mkdir()
    monkeypatch.setenv("SHOPREC_DATA_DIR", str(data))
    monkeypatch.setenv("SHOPREC_CACHE_DIR", str(cache))
    return data, cache


def test_statuses_follow_where_the_files_are(places: tuple[Path, Path]) -> None:
    data, cache = places
    (data / "ml-100k").mkdir()
    (data / "ml-100k" / "u.data").write_text(U_DATA)
    (cache / "amazon-grocery").mkdir()
    (cache / "amazon-grocery" / "train.csv").write_text("user_id\titem_id\ttime\n1\t1\t0\n")
    infos = {i.name: i for i in list_datasets()}
    assert set(infos) == {*ENTRIES, "synthetic-shop"}
    assert (infos["ml-100k"].status, infos["ml-100k"].path) == ("local", data / "ml-100k")
    assert (infos["amazon-grocery"].status, infos["amazon-grocery"].path) == ("cached", cache / "amazon-grocery")
    assert (infos["ml-20m"].status, infos["ml-20m"].path) == ("downloadable", None)
    assert infos["frappe"].status == "missing"
    assert infos["synthetic-shop"].status == "generated"
    assert "Harper" in infos["ml-1m"].citation and "no redistribution" in infos["ml-1m"].citation


def test_load_dataset_from_a_given_folder_names_it(places: tuple[Path, Path], tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "u.data").write_text(U_DATA)
    data = load_dataset("ml-100k", data_dir=folder)
    assert isinstance(data, Dataset)
    assert data.name == "ml-100k"
    assert len(data) == 3
    assert dataset_info("ml-100k", data_dir=folder).path == folder


def test_unknown_names_and_options_are_config_errors(places: tuple[Path, Path]) -> None:
    with pytest.raises(ConfigError, match=r"unknown data set 'ml-7'; expected one of \['ml-100k', 'ml-1m'"):
        load_dataset("ml-7")
    with pytest.raises(ConfigError, match=r"unknown option\(s\) \['seed'\]; expected some of \['all_catalog_items'\]"):
        load_dataset("ml-100k", seed=3)


def test_not_found_says_where_it_looked_and_how_to_get_it(places: tuple[Path, Path]) -> None:
    data, cache = places
    with pytest.raises(DataError) as caught:
        load_dataset("ml-1m")
    message = str(caught.value)
    for part in (str(data / "ml-1m"), str(cache / "ml-1m"), "load_dataset('ml-1m', download=True)", "ratings.dat"):
        assert part in message
    with pytest.raises(DataError, match="no stable direct URL"):
        load_dataset("frappe")
    with pytest.raises(DataError, match="frappe has no public download"):
        download_dataset("frappe")


def test_download_on_demand_fills_the_cache(
    places: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, cache = places
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ml-100k/u.data", U_DATA)
    remote = Remote(archive.as_uri(), sha256=hashlib.sha256(archive.read_bytes()).hexdigest())
    monkeypatch.setitem(ENTRIES, "ml-100k", dataclasses.replace(ENTRIES["ml-100k"], remotes=(remote,)))
    assert dataset_info("ml-100k").status == "downloadable"
    data = load_dataset("ml-100k", download=True)
    assert len(data) == 3
    info = dataset_info("ml-100k")
    assert (info.status, info.path) == ("cached", cache / "ml-100k" / "ml-100k")


def test_ncf_entry_returns_a_split(places: tuple[Path, Path]) -> None:
    folder = places[0] / "ml-1m-ncf"
    folder.mkdir()
    (folder / "ml-1m.train.rating").write_text("0\t0\t5\t0\n1\t1\t4\t0\n1\t2\t4\t0\n0\t3\t4\t0\n")
    (folder / "ml-1m.test.rating").write_text("0\t1\t5\t978300000\n1\t0\t3\t978300000\n")
    (folder / "ml-1m.test.negative").write_text("(0,1)\t2\n(1,0)\t3\n")
    split = load_dataset("ml-1m-ncf")
    assert isinstance(split, Split)
    assert split.test_negatives.tolist() == [[2], [3]]


def test_synthetic_shop_is_generated_with_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in generator keeps this test independent of the real one (tested with its own module)."""

    def generate_shop(n_users: int = 3, seed: int = 0) -> Dataset:
        users = np.arange(n_users)
        return Dataset(
            f"shop-{seed}",
            Interactions.build(users, np.zeros(n_users)),
            Vocabulary(users.astype(str)),
            Vocabulary(np.array(["i0"])),
        )

    fake = types.ModuleType("shoprec.data.synthetic")
    fake.generate_shop = generate_shop  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "shoprec.data.synthetic", fake)
    data = load_dataset("synthetic-shop", n_users=5, seed=2)
    assert (data.name, len(data)) == ("shop-2", 5)
    with pytest.raises(ConfigError, match=r"unknown option\(s\) \['colour'\]; expected some of \['n_users', 'seed'\]"):
        load_dataset("synthetic-shop", colour="red")
    monkeypatch.setitem(sys.modules, "shoprec.data.synthetic", None)
    with pytest.raises(ConfigError, match=r"synthetic-shop needs shoprec\.data\.synthetic\.generate_shop"):
        load_dataset("synthetic-shop")
