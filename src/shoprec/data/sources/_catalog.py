"""The known public data sets: what each needs on disk, how to load it, where to download it.

Checksums are the publishers' (GroupLens posts an md5 next to each zip) or, for files pinned to a
git commit, the sha256 recorded when the local copies were made (see each SOURCE.md). Where no true
checksum is known the field is None and the download is not verified; none is made up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shoprec.data.dataset import Dataset, Split
from shoprec.data.sources.amazon import load_amazon_sequences, load_rechorus
from shoprec.data.sources.frappe import load_frappe
from shoprec.data.sources.movielens import load_movielens_100k, load_movielens_csv, load_movielens_dat
from shoprec.data.sources.ncf import load_ncf_split

_GROUPLENS = "https://files.grouplens.org/datasets/movielens"
_NCF = "https://raw.githubusercontent.com/hexiangnan/neural_collaborative_filtering/4aab159e81c44b062c091bdaed0ab54ac632371f/Data"
_S3REC = "https://raw.githubusercontent.com/RUCAIBox/CIKM2020-S3Rec/2a81540ae18615d88ef88227b0c066e5b74781e5/data"
_RECHORUS = "https://raw.githubusercontent.com/THUwangcy/ReChorus/e58d752558634d42be60de561d6f74df748583cc/data/Grocery_and_Gourmet_Food"
_MOVIELENS_TERMS = (
    "F. M. Harper, J. A. Konstan: The MovieLens Datasets: History and Context, ACM TiiS 5(4):19, 2015. "
    "GroupLens terms: research use, cite it, no redistribution or commercial use without permission."
)
_AMAZON_TERMS = (
    "R. He, J. McAuley, WWW 2016; J. McAuley et al., SIGIR 2015. Research, non-commercial use; do not redistribute."
)


@dataclass(frozen=True)
class Remote:
    """One file to download; `sha256`/`md5` None when no true checksum is known."""

    url: str
    sha256: str | None = None
    md5: str | None = None


@dataclass(frozen=True)
class Entry:
    """A registered data set. `needs`: files it must have (a tuple: any one of them). `load(folder, **options)`."""

    name: str
    description: str
    citation: str
    needs: tuple[str | tuple[str, ...], ...]
    load: Callable[..., Dataset | Split]
    remotes: tuple[Remote, ...] = ()
    archive_root: str = ""
    how_to_get: str = ""

    def complete(self, folder: Path) -> bool:
        """Whether `folder` holds every file the data set needs."""
        return all(any((folder / f).is_file() for f in ((n,) if isinstance(n, str) else n)) for n in self.needs)


def _ncf(folder: Path) -> Split:
    return load_ncf_split(folder / "ml-1m.train.rating")


def _beauty(folder: Path) -> Dataset:
    return load_amazon_sequences(folder / "Beauty.txt")


def _grocery(folder: Path) -> Dataset:
    return load_rechorus(folder / "train.csv")


def _frappe(folder: Path) -> Dataset:
    nested = folder / "original_baltrunas" / "frappe.csv"
    return load_frappe(nested if nested.is_file() else folder / "frappe.csv")


def _movielens_csv(name: str, description: str, md5: str | None) -> Entry:
    remote = Remote(f"{_GROUPLENS}/{name}.zip", md5=md5)
    return Entry(name, description, _MOVIELENS_TERMS, ("ratings.csv",), load_movielens_csv, (remote,), name)


ENTRIES: dict[str, Entry] = {
    e.name: e
    for e in (
        Entry(
            "ml-100k",
            "MovieLens 100K: 100,000 ratings (1-5, timestamps) of 1,682 movies by 943 users; user and movie features.",
            _MOVIELENS_TERMS,
            ("u.data",),
            load_movielens_100k,
            (Remote(f"{_GROUPLENS}/ml-100k.zip", md5="0e33842e24a9c977be4e0107933c0723"),),
            "ml-100k",
        ),
        Entry(
            "ml-1m",
            "MovieLens 1M: 1,000,209 ratings of 3,706 movies by 6,040 users; ratings.dat, else the local "
            "ratings-no-timestamps.csv (then without timestamps).",
            _MOVIELENS_TERMS,
            (("ratings.dat", "ratings-no-timestamps.csv"),),
            load_movielens_dat,
            (Remote(f"{_GROUPLENS}/ml-1m.zip", md5="c4d9eecfca2ab87c1945afe126590906"),),
            "ml-1m",
        ),
        Entry(
            "ml-1m-ncf",
            "The NCF paper's ML-1M leave-one-out split: train, one test item per user and 99 negatives each.",
            _MOVIELENS_TERMS + " Split: X. He et al., Neural Collaborative Filtering, WWW 2017 (Apache-2.0).",
            ("ml-1m.train.rating", "ml-1m.test.rating", "ml-1m.test.negative"),
            _ncf,
            (
                Remote(f"{_NCF}/ml-1m.train.rating"),
                Remote(f"{_NCF}/ml-1m.test.rating", "231ae11eb060b643a8c58c063cd17ffc743b54f569afb073d1abb6cf126b88b5"),
                Remote(
                    f"{_NCF}/ml-1m.test.negative", "127853228a76b7d21c0481e8ef8d00dd009cd5c88670dbdd9e9debfdb9f93de4"
                ),
            ),
        ),
        _movielens_csv(
            "ml-latest-small", "MovieLens latest-small, a development set (~100k ratings, half stars).", None
        ),
        _movielens_csv(
            "ml-20m",
            "MovieLens 20M: 20 million ratings (half stars) with timestamps.",
            "cd245b17a1ae2cc31bb14903e1204af3",
        ),
        _movielens_csv(
            "ml-25m",
            "MovieLens 25M: 25 million ratings (half stars) with timestamps.",
            "6b51fb2759a8657d3bfcbfc42b592ada",
        ),
        _movielens_csv("ml-32m", "MovieLens 32M: 32 million ratings (half stars) with timestamps.", None),
        Entry(
            "amazon-beauty",
            "Amazon Beauty 5-core as chronological user sequences (S3-Rec): 198,502 events, 22,363 users, "
            "12,101 items, item attributes.",
            _AMAZON_TERMS + " Preprocessing: K. Zhou et al., S3-Rec, CIKM 2020.",
            ("Beauty.txt",),
            _beauty,
            (
                Remote(f"{_S3REC}/Beauty.txt", "226cce9c3105299ca0db9615d7d3fb32b3175e90da43100ae352599f0f0107b8"),
                Remote(
                    f"{_S3REC}/Beauty_item2attributes.json",
                    "129e40f67486f6877eff0f5318cfa8530ee8ac23d8b0d1de04e1bb7a2ba0b2d4",
                ),
            ),
        ),
        Entry(
            "amazon-grocery",
            "Amazon Grocery 5-core, ReChorus train part: 121,892 timed events of 14,681 users; item category "
            "and also-bought / also-viewed lists.",
            _AMAZON_TERMS + " Preprocessing: C. Wang et al., ReChorus (MIT).",
            ("train.csv",),
            _grocery,
            (
                Remote(f"{_RECHORUS}/train.csv", "75847958fbcfec35dd0a20bda43432c22a5d7e5b5fe571fef0b25ff580b475f4"),
                Remote(
                    f"{_RECHORUS}/item_meta.csv", "35a7d55fb7024b3cf7937cbc424762bc1cb5ef1f41d49f5955011effcebf144c"
                ),
            ),
        ),
        Entry(
            "frappe",
            "Frappe app-usage log: 96,203 (user, app, context) rows with usage counts, 957 users, 4,082 apps.",
            "L. Baltrunas et al., Frappe, arXiv:1505.03014, 2015. Research use only; no redistribution, "
            "no de-anonymisation, no commercial use.",
            (("original_baltrunas/frappe.csv", "frappe.csv"),),
            _frappe,
            how_to_get="it has no stable direct URL: take frappe.csv and meta.csv from the Frappe release "
            "(e.g. Mobile_Frappe.zip in the CARSKit repository)",
        ),
    )
}
