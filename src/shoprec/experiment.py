"""Experiments as data: what to load, how to split, which model — and the run directory that records it.

A run directory holds everything needed to evaluate or serve a trained model again:
    manifest.json checksums of run.json, metrics.json and model/manifest.json (signed with SHOPREC_ARTIFACT_KEY)
    run.json      the ExperimentSpec, timings and shoprec version (+ `data_source`: path, sha256, size,
                  columns and event weights when trained from your own files)
    model/        the model artifact (safetensors + JSON, its own manifest)
    metrics.json  the evaluation computed right after training
Loading verifies the run's manifest (no unlisted file beside them), then the model's, then every field.
The split is not stored: it is recomputed deterministically from the spec (same data, method and seed).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from shoprec import __version__, artifact_schema
from shoprec.artifact_schema import LIST, NUMBER, OBJECT, STR, Field, json_field, read_json
from shoprec.artifacts import MANIFEST, verify_directory, write_manifest
from shoprec.config import TrainOptions, check_fields, check_range, coerce, coerce_fields, coerce_kwargs
from shoprec.data.dataset import Dataset, Split
from shoprec.data.sources.local import DATA_SOURCE, check_unchanged
from shoprec.exceptions import ArtifactError, ConfigError, DataError
from shoprec.models.base import Recommender
from shoprec.models.registry import create_model

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
MODEL_DIR = "model"
RUN_KIND = "run"

#: run.json and its `spec`: what each field must be (the spec's defaults apply to optional ones).
_RUN_FIELDS = (
    json_field("spec", OBJECT),
    json_field("fit_seconds", NUMBER),
    json_field("shoprec_version", STR),
    json_field(DATA_SOURCE, OBJECT, required=False),
)
_SOURCE_FIELDS = (
    json_field("path", STR),
    json_field("sha256", STR),
    json_field("columns", OBJECT),
    json_field("event_weights", OBJECT, nullable=True),
    json_field("files", LIST, required=False),
)
_SPEC_FIELDS = (
    json_field("data", STR),
    json_field("model", STR),
    json_field("split", STR, required=False),
    json_field("protocol", STR, nullable=True, required=False),
    json_field("params", OBJECT, required=False),
    json_field("split_options", OBJECT, required=False),
    json_field("data_options", OBJECT, required=False),
    json_field("implicit_threshold", NUMBER, nullable=True, required=False),
    Field("seed", lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer", False),
    Field(
        "ks",
        lambda v: isinstance(v, list) and all(isinstance(k, int) and not isinstance(k, bool) and k > 0 for k in v),
        "a list of integers > 0",
        False,
    ),
)


def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML config file as a dict; a missing or malformed file is a ConfigError naming it."""
    try:
        return tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; expected a TOML config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc})") from None
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
        exp, model, split, data = (_table(raw, path, name) for name in ("experiment", "model", "split", "data"))
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
            if values.get(required) is None or values.get(required) == "":
                raise ConfigError(f"experiment needs a {required!r} (e.g. --{required})")
        return cls(**coerce_fields(cls, values, what="experiment setting"))

    def __post_init__(self) -> None:
        """Types and ranges of the spec itself (hyperparameters are checked by `validate`)."""
        check_fields(self)
        check_range("ExperimentSpec.seed", self.seed, low=0)
        if not self.ks:
            raise ConfigError("ExperimentSpec.ks: expected at least one cut-off, got []")
        for k in self.ks:
            check_range("ExperimentSpec.ks", k, low=1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        """Fail fast, before any data is loaded, on an unknown model, invalid hyperparameters or options."""
        from shoprec.models.registry import get_model_class

        get_model_class(self.model).config_class.from_dict({"seed": self.seed, **self.params})
        _data_options(self)
        _split_options(self)


def _table(raw: dict[str, Any], path: str | Path, name: str) -> dict[str, Any]:
    """The `[name]` table of a TOML file as a fresh dict; ConfigError if the key holds something else."""
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {name!r} must be a table ([{name}]), got {value!r}")
    return dict(value)


def _data_options(spec: ExperimentSpec) -> dict[str, Any]:
    """The spec's data options: `load_dataset`'s own (data_dir, download) type-checked for a registered name;
    a path's options (columns, event weights) are checked where the path is resolved."""
    from shoprec.data.sources import load_dataset
    from shoprec.data.sources.local import is_path_reference

    if is_path_reference(spec.data):
        return dict(spec.data_options)
    return coerce_kwargs("data", load_dataset, spec.data_options)


def _split_options(spec: ExperimentSpec) -> tuple[int, dict[str, Any]]:
    """(sampled negatives, splitter options) of the spec, each option checked against its splitter's types."""
    from shoprec.data.split import SPLITTERS, split_dataset

    options = dict(spec.split_options)
    negatives = coerce("split.negatives", options.pop("negatives", 99), int)
    check_range("split.negatives", negatives, low=1)
    options = coerce_kwargs("split", split_dataset, options)
    if spec.split in SPLITTERS:
        options = coerce_kwargs("split", SPLITTERS[spec.split], options)
    return negatives, options


def load_data(spec: ExperimentSpec) -> Dataset | Split:
    """The data set named by the spec (a registered name or a path), after implicit conversion when asked."""
    from shoprec.data.filtering import to_implicit
    from shoprec.data.sources.local import resolve_data

    data = resolve_data(spec.data, **_data_options(spec))
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
    if spec.protocol not in (None, "full", "sampled"):
        raise ConfigError(f"unknown protocol {spec.protocol!r}; expected 'full' or 'sampled' (or the data set's own)")
    negatives, options = _split_options(spec)
    split = split_dataset(data, spec.split, seed=spec.seed, **options)
    if spec.protocol == "sampled":
        split = sample_eval_negatives(split, n=negatives, seed=spec.seed)
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
    record = {"spec": result.spec.to_dict(), "fit_seconds": result.fit_seconds, "shoprec_version": __version__}
    if result.data_source is not None:
        record[DATA_SOURCE] = result.data_source
    try:
        root.mkdir(parents=True, exist_ok=True)
        result.model.save(root / MODEL_DIR)
        (root / RUN_FILE).write_text(json.dumps(record, indent=2))
        (root / METRICS_FILE).write_text(json.dumps(result.metrics, indent=2))
        write_manifest(root, kind=RUN_KIND, files=(RUN_FILE, METRICS_FILE, f"{MODEL_DIR}/{MANIFEST}"))
    except OSError as exc:
        raise ConfigError(f"{root}: cannot write the run directory ({exc.strerror or exc})") from None
    return root


def load_run(path: str | Path) -> tuple[ExperimentSpec, Recommender]:
    """The spec and the fitted model of a run directory, after verifying the run's and the model's manifests.

    The run's manifest covers run.json, metrics.json and the model's manifest; a file beside them that it does
    not list is refused (sub-folders other than model/, such as a written pipeline/, are not part of the run).
    DataError if the data files it was trained on changed."""
    root = Path(path)
    run_file = root / RUN_FILE
    if not run_file.is_file():
        raise DataError(f"{root}: not a shoprec run directory (no {RUN_FILE}); create one with `shoprec train`")
    verify_directory(root, kind=RUN_KIND, required=(RUN_FILE, f"{MODEL_DIR}/{MANIFEST}"), recursive=False)
    record = artifact_schema.check_fields(run_file, read_json(run_file), _RUN_FIELDS)
    artifact_schema.check_fields(run_file, record["spec"], _SPEC_FIELDS, prefix="spec.")
    try:
        spec = ExperimentSpec.from_dict(record["spec"])
    except ConfigError as exc:
        raise ArtifactError(f"{run_file}: field 'spec': {exc}") from None
    source = record.get(DATA_SOURCE)
    if source is not None:  # trained from a path: the same bytes, found from any working directory
        artifact_schema.check_fields(run_file, source, _SOURCE_FIELDS, prefix=f"{DATA_SOURCE}.")
        for entry in source.get("files") or []:
            artifact_schema.check_fields(run_file, entry, _SOURCE_FIELDS[:2], prefix=f"{DATA_SOURCE}.files[].")
        check_unchanged(source)
        spec.data = source["path"]
        spec.data_options = {"columns": source["columns"], "event_weights": source["event_weights"]}
    return spec, Recommender.load(root / MODEL_DIR)
