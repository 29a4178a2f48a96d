"""A tiny trained synthetic shop for the service tests: one iALS run and its pipeline folder per module."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from shoprec.data.dataset import Dataset
from shoprec.experiment import ExperimentSpec, prepare_split, save_run, train_and_evaluate
from shoprec.serving.pipeline import PipelineConfig, write_pipeline

SPEC = ExperimentSpec(
    data="synthetic-shop",
    model="ials",
    split="loo",
    data_options={"n_users": 150, "n_items": 60, "n_events": 3000, "n_categories": 4, "n_brands": 8},
    params={"embedding_size": 8, "epochs": 4},
    ks=(10,),
)


def trained_run(root: Path, **params: object) -> Path:
    """Train the shop's iALS (hyperparameters overridden by `params`) and save its run directory under `root`."""
    spec = replace(SPEC, params={**SPEC.params, **params})
    return save_run(train_and_evaluate(spec, prepare_split(spec)), root)


def pipeline(run: Path, folder: Path, **changes: object) -> PipelineConfig:
    """The pipeline of `run` written into `folder`, with config fields replaced by `changes`."""
    return replace(PipelineConfig.from_toml(write_pipeline(run, folder)), **changes)


def train_split() -> Dataset:
    """The training part the run was fitted on (the split is deterministic)."""
    return prepare_split(SPEC).train
