"""Data sets by name: where they are, what they are, loading and downloading them.

A data set is searched in `data_dir` (if given), then `$SHOPREC_DATA_DIR/<name>/`, then the cache
(`$SHOPREC_CACHE_DIR/<name>/`, default `~/.cache/shoprec`); with `download=True` a missing one that
has a public URL is fetched into the cache. `synthetic-shop` is generated on demand.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from shoprec.data.dataset import Dataset, Split
from shoprec.data.sources._catalog import ENTRIES, Entry
from shoprec.data.sources._policy import strict_data
from shoprec.data.sources.download import cache_dir, fetch
from shoprec.exceptions import ConfigError, DataError

Status = Literal["local", "cached", "downloadable", "generated", "missing"]
SYNTHETIC = "synthetic-shop"
_SYNTHETIC_INFO = (
    "A generated online shop with known structure (shoprec.data.synthetic.generate_shop).",
    "Generated data; no terms.",
)


@dataclass(frozen=True)
class DatasetInfo:
    """What `shoprec datasets list/info` shows. path: the folder holding the files, when present."""

    name: str
    description: str
    status: Status
    path: Path | None
    citation: str


def known_names() -> list[str]:
    """Every registered data set name, the generated synthetic shop included."""
    return [*ENTRIES, SYNTHETIC]


def is_registered(name: str) -> bool:
    """Whether `name` is a registered data set (else it may be a path to local files)."""
    return name in ENTRIES or name == SYNTHETIC


def _entry(name: str) -> Entry:
    if name not in ENTRIES:
        raise ConfigError(f"unknown data set {name!r}; expected one of {[*ENTRIES, SYNTHETIC]}")
    return ENTRIES[name]


def _candidates(entry: Entry, data_dir: str | Path | None) -> list[tuple[Status, Path]]:
    """Folders to search, in order, with the status a hit in each one means."""
    places: list[tuple[Status, Path]] = []
    if data_dir is not None:
        places += [("local", Path(data_dir) / entry.name), ("local", Path(data_dir))]
    if os.environ.get("SHOPREC_DATA_DIR"):
        places.append(("local", Path(os.environ["SHOPREC_DATA_DIR"]) / entry.name))
    cached = cache_dir() / entry.name
    places += (
        [("cached", cached / entry.archive_root), ("cached", cached)] if entry.archive_root else [("cached", cached)]
    )
    return places


def _locate(entry: Entry, data_dir: str | Path | None) -> tuple[Status, Path] | None:
    return next(((s, p) for s, p in _candidates(entry, data_dir) if entry.complete(p)), None)


def dataset_info(name: str, *, data_dir: str | Path | None = None) -> DatasetInfo:
    """Description, citation/terms and where the data set is (status 'local', 'cached', ...)."""
    if name == SYNTHETIC:
        return DatasetInfo(name, _SYNTHETIC_INFO[0], "generated", None, _SYNTHETIC_INFO[1])
    entry = _entry(name)
    found = _locate(entry, data_dir)
    if found is not None:
        return DatasetInfo(name, entry.description, found[0], found[1], entry.citation)
    status: Status = "downloadable" if entry.remotes else "missing"
    return DatasetInfo(name, entry.description, status, None, entry.citation)


def list_datasets(*, data_dir: str | Path | None = None) -> list[DatasetInfo]:
    """Every registered data set with its status."""
    return [dataset_info(name, data_dir=data_dir) for name in [*ENTRIES, SYNTHETIC]]


def download_dataset(name: str) -> Path:
    """Fetch (and unpack) a data set into the cache; returns the folder holding its files."""
    entry = _entry(name)
    if not entry.remotes:
        raise DataError(f"{name} has no public download: {entry.how_to_get}")
    dest = cache_dir() / name
    for remote in entry.remotes:
        fetch(remote.url, remote.sha256, dest, md5=remote.md5)
    folder = dest / entry.archive_root
    if not entry.complete(folder):
        raise DataError(f"downloaded {name}, but {folder} lacks some of the files it needs: {list(entry.needs)}")
    return folder


def load_dataset(
    name: str, *, data_dir: str | Path | None = None, download: bool = False, strict: bool = False, **options: Any
) -> Dataset | Split:
    """Load a registered data set; a Split only for pre-split sets (ml-1m-ncf).

    options go to the loader (e.g. `all_catalog_items=True` for MovieLens, generator settings for
    synthetic-shop). Unknown name or option: ConfigError. Not found: DataError saying where it
    looked and how to get it. strict: the loader's data warnings (DataWarning) become DataErrors.
    """
    if name == SYNTHETIC:
        return _generate(options)
    entry = _entry(name)
    _check_options(name, entry.load, options, skip=1)
    found = _locate(entry, data_dir)
    if found is not None:
        folder = found[1]
    elif download and entry.remotes:
        folder = download_dataset(name)
    else:
        looked = ", ".join(str(p) for _, p in _candidates(entry, data_dir))
        how = (
            f"load_dataset({name!r}, download=True) or `shoprec datasets download {name}`"
            if entry.remotes
            else entry.how_to_get
        )
        files = f"or put its files {list(entry.needs)} in $SHOPREC_DATA_DIR/{name}/"
        raise DataError(f"data set {name!r} not found (looked in {looked}); get it with {how}, {files}")
    with strict_data(strict):
        result = entry.load(folder, **options)
    return replace(result, name=name) if isinstance(result, Dataset) else result


def _check_options(name: str, function: Callable[..., object], options: dict[str, Any], *, skip: int) -> None:
    """ConfigError for options `function` does not take (its first `skip` parameters are not options)."""
    parameters = list(inspect.signature(function).parameters.values())[skip:]
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    accepted = [p.name for p in parameters if p.name != "strict"]  # load_dataset takes `strict` itself
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(f"load_dataset({name!r}): unknown option(s) {unknown}; expected some of {accepted}")


def _generate(options: dict[str, Any]) -> Dataset | Split:
    try:
        from shoprec.data.synthetic import generate_shop  # lazy: an optional module written alongside
    except ImportError as exc:
        raise ConfigError(f"{SYNTHETIC} needs shoprec.data.synthetic.generate_shop ({exc})") from None
    _check_options(SYNTHETIC, generate_shop, options, skip=0)
    return generate_shop(**options)
