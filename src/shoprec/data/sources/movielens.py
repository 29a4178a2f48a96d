"""MovieLens in its three layouts: 100K (`u.*`), 1M/10M (`*.dat`, '::') and the CSV releases.

Ratings go to `Interactions.ratings` (weights 1). Item features: `genres` (multi-valued) and `year`
(numeric, from the release date or the title). Titles are not features (a per-item unique string
would only duplicate the item id); they are kept for display in `metadata["item_titles"]`, aligned
with the item index. User features (100K, 1M): `gender`, `age_group` (the 1M buckets), `occupation`,
`zip_prefix` (first character of the zip code: US national area or Canadian province letter), and
for 100K also the numeric `age`. By default the item vocabulary holds the rated movies, as papers
count them; `all_catalog_items=True` adds never-rated movies of the catalog as cold items.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl

from shoprec.data.dataset import Dataset
from shoprec.data.sources._assemble import ITEM_TITLES, interactions_from, item_titles, warn_unlisted
from shoprec.data.sources._features import FeatureKind, feature_table
from shoprec.data.sources._policy import with_strict
from shoprec.data.sources._table import Table
from shoprec.data.sources._text import WHITESPACE, read_table
from shoprec.exceptions import DataError

#: Rating scale and step of each layout: 100K and 1M whole stars, 10M and the CSV releases half stars.
_WHOLE_STARS, _HALF_STARS = (1.0, 5.0, 1.0), (0.5, 5.0, 0.5)
_GENRES = (
    "Action", "Adventure", "Animation", "Children", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
_GENDERS = {"M": "M", "F": "F"}
_AGES = (1, 110)
_EVENTS = ["user", "item", "rating", "timestamp"]
#: Fast-path dtypes of the rating files (see `read_table`).
_TYPES = {"user": pl.Int64, "item": pl.Int64, "userId": pl.Int64, "movieId": pl.Int64, "user_id": pl.Int64}
_TYPES |= {"movie_id": pl.Int64, "rating": pl.Float64, "timestamp": pl.Int64}
_AGE_CODES = {"1": "under 18", "18": "18-24", "25": "25-34", "35": "35-44", "45": "45-49", "50": "50-55", "56": "56+"}
_OCCUPATIONS_1M = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student", "customer service",
    "doctor/health care", "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer", "programmer",
    "retired", "sales/marketing", "scientist", "self-employed", "technician/engineer", "tradesman/craftsman",
    "unemployed", "writer",
)  # fmt: skip
_ITEM_KINDS: dict[str, FeatureKind] = {"genres": "multi", "year": "numeric"}
_TITLE_YEAR = r"\((\d{4})[^)]*\)\s*$"


@with_strict
def load_movielens(folder: str | Path, *, all_catalog_items: bool = False) -> Dataset:
    """Any MovieLens release, its layout told by the ratings file present in `folder`."""
    folder = Path(folder)
    for marker, loader in (
        ("u.data", load_movielens_100k),
        ("ratings.dat", load_movielens_dat),
        ("ratings-no-timestamps.csv", load_movielens_dat),
        ("ratings.csv", load_movielens_csv),
    ):
        if (folder / marker).is_file():
            return loader(folder, all_catalog_items=all_catalog_items)
    raise DataError(
        "no MovieLens ratings file; expected u.data, ratings.dat, ratings-no-timestamps.csv or ratings.csv", path=folder
    )


@with_strict
def load_movielens_100k(folder: str | Path, *, all_catalog_items: bool = False) -> Dataset:
    """ML-100K: `u.data` ratings with timestamps; `u.item` + `u.genre` and `u.user` when present."""
    folder = Path(folder)
    events = read_table(folder / "u.data", names=_EVENTS, header=False, separator=WHITESPACE, types=_TYPES)
    items = _items_100k(folder) if (folder / "u.item").is_file() else None
    users = None
    if (folder / "u.user").is_file():
        users = read_table(
            folder / "u.user", names=["user", "age", "gender", "occupation", "zip"], header=False, separator="|"
        )
        users.floats("age", low=_AGES[0], high=_AGES[1])
        _decode(users, "gender", _GENDERS)
        if (folder / "u.occupation").is_file():
            known = read_table(folder / "u.occupation", names=["occupation"], header=False, separator="|")
            occupations = known.strings("occupation").to_list()
            _decode(users, "occupation", dict(zip(occupations, occupations, strict=True)))
        users = _with_age_group(users)
    return _dataset(folder, events, items, users, all_catalog_items, _WHOLE_STARS)


@with_strict
def load_movielens_dat(folder: str | Path, *, all_catalog_items: bool = False) -> Dataset:
    """ML-1M (or 10M) `::` files. Ratings from `ratings.dat`, else from `ratings-no-timestamps.csv`
    (header user_id,movie_id,rating; then `timestamps` is None). `movies.dat` and `users.dat` are optional.
    """
    folder = Path(folder)
    if (folder / "ratings.dat").is_file():
        events = read_table(folder / "ratings.dat", names=_EVENTS, header=False, separator="::", types=_TYPES)
    else:
        events = read_table(
            folder / "ratings-no-timestamps.csv", separator=",", required=["user_id", "movie_id"], types=_TYPES
        )
        events = events.with_frame(events.frame.rename({"user_id": "user", "movie_id": "item"}))
    items = None
    if (folder / "movies.dat").is_file():
        movies = read_table(
            folder / "movies.dat",
            names=["item", "title", "genres"],
            header=False,
            separator="::",
            encoding="latin-1",
            text=["title"],
        )
        items = _with_title_year(movies)
    users = None
    if (folder / "users.dat").is_file():
        names = ["user", "gender", "age", "occupation", "zip"]
        users = read_table(folder / "users.dat", names=names, header=False, separator="::")
        _decode(users, "gender", _GENDERS)
        users = users.with_frame(
            users.frame.with_columns(
                age_group=_decode(users, "age", _AGE_CODES),
                occupation=_decode(users, "occupation", dict(zip(map(str, range(21)), _OCCUPATIONS_1M, strict=True))),
            ).drop("age")
        )
    return _dataset(folder, events, items, users, all_catalog_items, _HALF_STARS)


@with_strict
def load_movielens_csv(folder: str | Path, *, all_catalog_items: bool = False) -> Dataset:
    """The CSV releases (latest-small, 20M, 25M, 32M): `ratings.csv` and, when present, `movies.csv`."""
    folder = Path(folder)
    events = read_table(
        folder / "ratings.csv", separator=",", required=["userId", "movieId", "rating", "timestamp"], types=_TYPES
    )
    events = events.with_frame(events.frame.rename({"userId": "user", "movieId": "item"}))
    items = None
    if (folder / "movies.csv").is_file():
        movies = read_table(
            folder / "movies.csv", separator=",", required=["movieId", "title", "genres"], text=["title"]
        )
        frame = movies.frame.rename({"movieId": "item"})
        frame = frame.with_columns(pl.col("genres").replace("(no genres listed)", None))
        items = _with_title_year(movies.with_frame(frame))
    return _dataset(folder, events, items, None, all_catalog_items, _HALF_STARS)


def _items_100k(folder: Path) -> Table:
    """u.item with its 19 genre flags folded into one '|'-joined `genres` column, and `year`."""
    genre_table = read_table(folder / "u.genre", names=["genre", "id"], header=False, separator="|")
    genres = genre_table.strings("genre").to_list()
    names = ["item", "title", "release", "video_release", "url", *genres]
    table = read_table(
        folder / "u.item", names=names, header=False, separator="|", encoding="latin-1", quote=False, text=["title"]
    )
    for genre in genres:
        table.floats(genre, low=0, high=1)
    flags = [pl.when(pl.col(g).str.strip_chars() == "1").then(pl.lit(g)) for g in genres]
    frame = table.frame.select(
        "item",
        "title",
        genres=pl.concat_str(flags, separator="|", ignore_nulls=True),
        year=pl.col("release").str.extract(r"(\d{4})\s*$", 1),
    )
    return _checked_year(table, frame, "release")


def _with_title_year(movies: Table) -> Table:
    """`year` from the title; checks first that every genre is one of the format's."""
    genres = movies.frame["genres"].str.split("|").list.eval(pl.element().str.strip_chars())
    unknown = genres.list.eval(~pl.element().is_in(_GENRES)).list.any().fill_null(False)
    movies.check(unknown, "genres", f"'|'-separated genres from {list(_GENRES)}")
    return _checked_year(movies, movies.frame.with_columns(year=pl.col("title").str.extract(_TITLE_YEAR, 1)), "title")


def _checked_year(movies: Table, frame: pl.DataFrame, column: str) -> Table:
    """`frame` (movies with a `year` column) once every year is a plausible film year (1870..next year)."""
    year = frame["year"].cast(pl.Int64)
    latest = datetime.now(timezone.utc).year + 1
    movies.check(year.is_not_null() & ((year < 1870) | (year > latest)), column, f"a year 1870..{latest}")
    return movies.with_frame(frame)


def _with_age_group(users: Table) -> Table:
    """Numeric age plus the ML-1M age bucket it falls in, so 100K and 1M share `age_group`."""
    bounds = np.array([int(code) for code in _AGE_CODES][1:])
    labels = np.array(list(_AGE_CODES.values()))
    group = labels[np.searchsorted(bounds, users.ints("age"), side="right")]
    return users.with_frame(users.frame.with_columns(age_group=pl.Series(group)))


def _decode(table: Table, column: str, codes: dict[str, str]) -> pl.Series:
    """Map code strings to names; an unknown code is a DataError naming its line."""
    names = table.strings(column).replace_strict(codes, default=None)
    table.check(names.is_null(), column, f"one of the codes {list(codes)}")
    return names


def _dataset(
    folder: Path,
    events: Table,
    items: Table | None,
    users: Table | None,
    all_catalog_items: bool,
    stars: tuple[float, float, float],
) -> Dataset:
    """Checks the ids (integers >= 1), the ratings (on the layout's scale), one rating per user and
    movie (the latest kept), and that rated movies and raters are in the movie and user files."""
    for table, column in ((events, "user"), (events, "item"), (items, "item"), (users, "user")):
        if table is not None:
            table.check(pl.Series(table.ints(column) < 1), column, "an id >= 1 (MovieLens ids start at 1)")
    low, high, step = stars
    ratings = events.floats("rating", low=low, high=high)
    events.check(pl.Series(ratings / step != np.round(ratings / step)), "rating", f"a rating in steps of {step:g}")
    timestamp = "timestamp" if "timestamp" in events.columns else None
    events = events.one_per_key(["user", "item"], "rating", timestamp)
    catalog = items.ids("item") if items is not None and all_catalog_items else np.zeros(0, dtype=np.int64)
    user_vocab, item_vocab, interactions = interactions_from(
        events, rating="rating", scale=(low, high), timestamp=timestamp, catalog_items=catalog
    )
    metadata: dict[str, object] = {"source": str(folder)}
    item_features = user_features = None
    if items is not None:
        warn_unlisted(events, "item", interactions.items, item_vocab, items, "item")
        item_features = feature_table(items, "item", item_vocab, _ITEM_KINDS)
        metadata[ITEM_TITLES] = item_titles(items, "item", "title", item_vocab)
    if users is not None:
        warn_unlisted(events, "user", interactions.users, user_vocab, users, "user")
        kinds: dict[str, FeatureKind] = {c: "categorical" for c in users.columns if c not in ("user", "zip")}
        kinds |= {"age": "numeric"} if "age" in kinds else {}
        frame = users.frame.with_columns(zip_prefix=pl.col("zip").str.strip_chars().str.slice(0, 1))
        user_features = feature_table(
            users.with_frame(frame), "user", user_vocab, kinds | {"zip_prefix": "categorical"}
        )
    name = folder.resolve().name
    return Dataset(name, interactions, user_vocab, item_vocab, item_features, user_features, metadata=metadata)
