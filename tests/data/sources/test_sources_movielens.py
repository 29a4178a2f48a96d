"""MovieLens layouts on tiny hand-written folders with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shoprec.data.features import CategoricalColumn, MultiValuedColumn
from shoprec.data.sources import ITEM_TITLES, load_movielens
from shoprec.exceptions import DataError

GENRES = ["unknown", "Action", "Comedy"]


def values_of(column: MultiValuedColumn, index: int) -> list[str]:
    return [column.values[c - 1] for c in column.of(index)]


def decoded(column: CategoricalColumn) -> list[str | None]:
    return [column.values[c - 1] if c else None for c in column.codes]


@pytest.fixture
def ml100k(tmp_path: Path) -> Path:
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text("2\t10\t4\t881250949\n1\t10\t5\t874965758\n1\t3\t1\t874965800\n")
    (folder / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)) + "\n")
    items = [
        "3|Café (1995)|01-Jan-1995||http://x|0|1|1",
        "10|Unknown||||1|0|0",
        "11|Never rated (1990)|01-Jan-1990||u|0|0|1",
    ]
    (folder / "u.item").write_bytes("\n".join(items).encode("latin-1"))
    (folder / "u.user").write_text("1|17|M|student|T8H1N\n2|25|F|writer|94043\n")
    return folder


def test_ml100k_ratings_features_and_titles(ml100k: Path) -> None:
    data = load_movielens(ml100k)
    assert data.name == "ml-100k"
    assert data.users.to_list() == ["1", "2"]
    assert data.items.to_list() == ["3", "10"]  # numeric order; the never-rated movie 11 is left out
    assert data.interactions.users.tolist() == [1, 0, 0]
    assert data.interactions.items.tolist() == [1, 1, 0]
    assert data.interactions.ratings.tolist() == [4.0, 5.0, 1.0]
    assert data.interactions.weights.tolist() == [1.0, 1.0, 1.0]
    assert data.interactions.timestamps.tolist() == [881250949, 874965758, 874965800]
    assert data.metadata[ITEM_TITLES] == ["Café (1995)", "Unknown"]
    genres = data.item_features["genres"]
    assert [values_of(genres, i) for i in range(2)] == [["Action", "Comedy"], ["unknown"]]
    np.testing.assert_array_equal(data.item_features["year"].values, [1995, np.nan])
    users = data.user_features
    np.testing.assert_array_equal(users["age"].values, [17, 25])
    assert decoded(users["age_group"]) == ["under 18", "25-34"]
    assert decoded(users["gender"]) == ["M", "F"]
    assert decoded(users["occupation"]) == ["student", "writer"]
    assert decoded(users["zip_prefix"]) == ["T", "9"]


def test_all_catalog_items_adds_cold_movies(ml100k: Path) -> None:
    data = load_movielens(ml100k, all_catalog_items=True)
    assert data.items.to_list() == ["3", "10", "11"]
    assert data.metadata[ITEM_TITLES][2] == "Never rated (1990)"
    assert data.item_popularity().tolist() == [1, 2, 0]


def write_ml1m(folder: Path, *, dat: bool, csv: bool) -> None:
    folder.mkdir(exist_ok=True)
    if dat:
        (folder / "ratings.dat").write_text("1::1193::5::978300760\n2::661::3::978302109\n2::1193::4::978301968\n")
    if csv:
        (folder / "ratings-no-timestamps.csv").write_text("user_id,movie_id,rating\r\n1,1193,5\r\n2,48,2\r\n")
    (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    (folder / "movies.dat").write_bytes(
        "48::Pocahontas (1995)::Animation|Children's\n661::James (1996)::Animation\n1193::Cuckoo (1975)::Drama\n"
        "2000::Señor (1998)::Comedy\n".encode("latin-1")
    )


def test_ml1m_prefers_ratings_dat(tmp_path: Path) -> None:
    write_ml1m(tmp_path / "ml-1m", dat=True, csv=True)
    data = load_movielens(tmp_path / "ml-1m")
    assert len(data) == 3
    assert data.items.to_list() == ["661", "1193"]
    assert data.interactions.timestamps.tolist() == [978300760, 978302109, 978301968]
    assert decoded(data.user_features["age_group"]) == ["under 18", "56+"]
    assert decoded(data.user_features["occupation"]) == ["K-12 student", "self-employed"]
    np.testing.assert_array_equal(data.item_features["year"].values, [1996, 1975])
    assert values_of(data.item_features["genres"], 0) == ["Animation"]


def test_ml1m_falls_back_to_the_csv_without_timestamps(tmp_path: Path) -> None:
    write_ml1m(tmp_path / "ml-1m", dat=False, csv=True)
    data = load_movielens(tmp_path / "ml-1m", all_catalog_items=True)
    assert data.interactions.timestamps is None
    assert data.interactions.ratings.tolist() == [5.0, 2.0]
    assert data.items.to_list() == ["48", "661", "1193", "2000"]
    assert data.metadata[ITEM_TITLES][-1] == "Señor (1998)"
    assert values_of(data.item_features["genres"], 0) == ["Animation", "Children's"]


def test_csv_release_with_quoted_titles_and_no_genres(tmp_path: Path) -> None:
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n7,11,0.5,1260759179\n")
    (folder / "movies.csv").write_text(
        'movieId,title,genres\n11,"American President, The (1995)",Comedy|Drama\n'
        "31,Dangerous Minds,(no genres listed)\n"
    )
    data = load_movielens(folder)
    assert data.metadata[ITEM_TITLES] == ["American President, The (1995)", "Dangerous Minds"]
    assert data.interactions.ratings.tolist() == [2.5, 0.5]
    genres = data.item_features["genres"]
    assert [values_of(genres, i) for i in range(2)] == [["Comedy", "Drama"], []]
    np.testing.assert_array_equal(data.item_features["year"].values, [1995, np.nan])
    assert data.user_features is None


def test_folder_without_ratings_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no MovieLens ratings file; expected u\.data, ratings\.dat"):
        load_movielens(tmp_path)
