"""The serving bundle: the item catalog and the cold-start popularity a service needs beside its model.

A model artifact knows ids and vectors but not item attributes (category, price, stock, titles) nor
popularity per user segment; the bundle stores those, built once from the run's training data, as
checksummed artifacts (`bundle/catalog`, `bundle/coldstart`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shoprec.data.dataset import Dataset, Interactions
from shoprec.exceptions import ArtifactError
from shoprec.models.base import Recommender
from shoprec.serving.catalog import Catalog
from shoprec.serving.coldstart import ColdStart

CATALOG_DIR = "catalog"
COLDSTART_DIR = "coldstart"


def write_bundle(train: Dataset, out: str | Path, *, segment_field: str | None = "segment") -> Path:
    """Write the catalog and cold-start artifacts of a training set into `out`."""
    out = Path(out)
    catalog = Catalog.from_dataset(train)
    catalog.save(out / CATALOG_DIR)
    ColdStart.from_dataset(train, catalog, segment_field=segment_field).save(out / COLDSTART_DIR)
    return out


def build_bundle(run_dir: str | Path, out: str | Path, *, segment_field: str | None = "segment") -> Path:
    """The bundle of a trained run: its training split is recomputed from the run's spec (deterministic)."""
    from shoprec.experiment import load_run, prepare_split

    spec, _ = load_run(run_dir)
    return write_bundle(prepare_split(spec).train, out, segment_field=segment_field)


def load_bundle(path: str | Path | None, model: Recommender) -> tuple[Catalog, ColdStart]:
    """Catalog and cold start for `model`, checksums verified; without a bundle, both come from the model alone.

    A bundle built for another model (different item ids) is refused with ArtifactError.
    """
    if path is None:
        train = training_pairs(model)
        catalog = Catalog.from_dataset(train)
        return catalog, ColdStart.from_dataset(train, catalog, segment_field=None)
    path = Path(path)
    catalog = Catalog.load(path / CATALOG_DIR)
    coldstart = ColdStart.load(path / COLDSTART_DIR)
    ids = np.asarray(model.item_vocab_.ids)
    if catalog.n < len(ids) or not np.array_equal(np.asarray(catalog.ids[: len(ids)], dtype=str), ids):
        raise ArtifactError(f"{path / CATALOG_DIR}: its items do not match the retrieval model's item ids")
    return catalog, coldstart


def training_pairs(model: Recommender) -> Dataset:
    """The (user, item) pairs a fitted model was trained on, from the seen matrix every artifact carries."""
    seen = model.seen_.tocoo()
    return Dataset(
        name="model",
        interactions=Interactions.build(seen.row, seen.col),
        users=model.user_vocab_,
        items=model.item_vocab_,
    )
