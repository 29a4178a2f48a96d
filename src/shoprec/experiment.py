"""Experiments as data: what to load, how to split, which model — and the run directory that records it.

A run directory holds everything needed to evaluate or serve a trained model again:
    run.json      the ExperimentSpec, timings and shoprec version (+ `data_source`: path, sha256, size,
                  columns and event weights when trained from your own files)
    model/        the model artifact (safetensors + JSON, checksummed)
    metrics.json  the evaluation computed right after training
The split is not stored: it is recomputed deterministically from the spec (same data, method and seed).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from shoprec import __version__
from shoprec.config import TrainOptions
from shoprec.data.dataset import Dataset, Split
from shoprec.data.sources.local import DATA_SOURCE, check_unchanged
from shoprec.exceptions import ConfigError, DataError
from shoprec.models.base import Recommender
from shoprec.models.registry import create_model

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
MODEL_DIR = "model"


def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML config file as a dict; a missing or malformed file is a ConfigError naming it."""
    try:
        return tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None


@dataclass
class ExperimentSpec:
    """Everything that determines a result: data set, preprocessing, split, protocol, model and its parameters."""

    data: str
    model: str
    split: str = "loo"
    protocol: str | None = None  # None: the data set's own protocol (full ranking unless it ships negatives)
    params: dict[str, Any] = field(default_factory=dict)
    split_options: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)
    implicit_threshold: float | None = None
    seed: int = 42
    ks: tuple[int, ...] = (1, 5, 10, 20, 50, 100)

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> ExperimentSpec:
        """Read `[experiment]`/`[model]`/`[split]`/`[data]` tables; explicit overrides (CLI flags) win.

        `[data]` has a registered `name` or a `path` (file or folder, relative to the working directory)
        with optional `[data.columns]` and `[data.event_weights]` tables.
        """
        raw = read_toml(path)
        exp = dict(raw.get("experiment", {}))
        model = dict(raw.get("model", {}))
        split = dict(raw.get("split", {}))
        data = dict(raw.get("data", {}))
        if "name" in data and "path" in data:
            raise ConfigError(f"{path}: [data] takes a registered `name` or a `path` to your files, not both")
        values: dict[str, Any] = {
            "data": data.pop("name", data.pop("path", exp.pop("data", None))),
            "model": model.pop("name", exp.pop("model", None)),
            "split": split.pop("method", exp.pop("split", "loo")),
            "params": model,
            "split_options": split,
            "data_options": data,
            **exp,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ExperimentSpec:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown experiment setting(s) {unknown}; expected some of {sorted(known)}")
        for required in ("data", "model"):
            if not values.get(required):
                raise ConfigError(f"experiment needs a {required!r} (e.g. --{required})")
        values = dict(values)
        if "ks" in values:
            values["ks"] = tuple(int(k) for k in values["ks"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        """Fail fast, before any data is loaded, on an unknown model or invalid hyperparameters."""
        from shoprec.models.registry import get_model_class

        get_model_class(self.model).config_class.from_dict({"seed": self.seed, **self.params})


def load_data(spec: ExperimentSpec) -> Dataset | Split:
    """The data set named by the spec (a registered name or a path), after implicit conversion when asked."""
    from shoprec.data.filtering import to_implicit
    from shoprec.data.sources.local import resolve_data

    data = resolve_data(spec.data, **spec.data_options)
    if spec.implicit_threshold is None:
        return data
    if isinstance(data, Split):
        raise ConfigError(f"{spec.data} comes pre-split; implicit_threshold cannot be applied to it")
    return to_implicit(data, threshold=spec.implicit_threshold)


def prepare_split(spec: ExperimentSpec, data: Dataset | Split | None = None) -> Split:
    """The train/valid/test split of the spec: the data set's own split when it comes pre-split."""
    from shoprec.data.sampling import sample_eval_negatives
    from shoprec.data.split import split_dataset

    data = load_data(spec) if data is None else data
    if isinstance(data, Split):
        if spec.protocol == "full":  # rank the whole catalog even where the data set ships sampled negatives
            return replace(data, protocol="full", test_negative_users=None, test_negatives=None)
        return data
    options = dict(spec.split_options)
    negatives = int(options.pop("negatives", 99))
    split = split_dataset(data, spec.split, seed=spec.seed, **options)
    if spec.protocol == "sampled":
        split = sample_eval_negatives(split, n=negatives, seed=spec.seed)
    elif spec.protocol not in (None, "full"):
        raise ConfigError(f"unknown protocol {spec.protocol!r}; expected 'full' or 'sampled' (or the data set's own)")
    return split


@dataclass
class RunResult:
    """A trained model with its evaluation and timings."""

    spec: ExperimentSpec
    model: Recommender
    metrics: dict[str, Any]
    fit_seconds: float
    data_source: dict[str, Any] | None = None  # files, checksums and mapping of data loaded from a path


def train_and_evaluate(spec: ExperimentSpec, split: Split, options: TrainOptions | None = None) -> RunResult:
    """Fit the spec's model on the split's train part (validation for early stopping) and evaluate on test."""
    from shoprec.evaluation import evaluate

    params = {"seed": spec.seed, **spec.params}
    model = create_model(spec.model, **params)
    start = time.perf_counter()
    model.fit(split.train, valid=split.valid, options=options)
    fit_seconds = time.perf_counter() - start
    result = evaluate(model, split, ks=spec.ks)
    metrics = {
        "dataset": spec.data,
        "model": spec.model,
        "split": split.method or spec.split,
        **result.to_dict(),
        "fit_seconds": round(fit_seconds, 4),
    }
    return RunResult(spec, model, metrics, fit_seconds, split.train.metadata.get(DATA_SOURCE))


def save_run(result: RunResult, out: str | Path) -> Path:
    """Write the run directory (model artifact, spec, metrics)."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    result.model.save(root / MODEL_DIR)
    record = {"spec": result.spec.to_dict(), "fit_seconds": result.fit_seconds, "shoprec_version": __version__}
    if result.data_source is not None:
        record[DATA_SOURCE] = result.data_source
    (root / RUN_FILE).write_text(json.dumps(record, indent=2))
    (root / METRICS_FILE).write_text(json.dumps(result.metrics, indent=2))
    return root


def load_run(path: str | Path) -> tuple[ExperimentSpec, Recommender]:
    """The spec and the fitted model of a run directory; DataError if the data file it was trained on changed."""
    root = Path(path)
    run_file = root / RUN_FILE
    if not run_file.is_file():
        raise DataError(f"{root}: not a shoprec run directory (no {RUN_FILE}); create one with `shoprec train`")
    try:
        record = json.loads(run_file.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{run_file}: corrupt run file ({exc})") from None
    spec = ExperimentSpec.from_dict(record["spec"])
    source = record.get(DATA_SOURCE)
    if source is not None:  # trained from a path: the same bytes, found from any working directory
        check_unchanged(source)
        spec.data = source["path"]
        spec.data_options = {"columns": source["columns"], "event_weights": source["event_weights"]}
    return spec, Recommender.load(root / MODEL_DIR)
