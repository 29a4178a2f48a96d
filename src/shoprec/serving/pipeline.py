"""The pipeline config: which artifacts a service serves and how (a TOML file beside them).

Every key is validated on load (an unknown key is named together with the allowed ones), paths are
resolved relative to the TOML file, so a pipeline folder can be moved or mounted anywhere as a whole.
`write_pipeline` turns a trained run directory (`shoprec train --out runs/x`) into such a folder.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from shoprec.data.dataset import DEFAULT_EVENT_WEIGHTS
from shoprec.exceptions import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

PIPELINE_FILE = "pipeline.toml"
BUNDLE_DIR = "bundle"
STORE_FILE = "events.sqlite"
INDEX_KEYS = ("exact_below", "nlist", "nprobe", "seed", "target_recall")
_PATHS = ("retrieval", "bundle", "ranker", "store")


@dataclass
class PipelineConfig:
    """Retrieval model -> optional ranker over `candidates` -> re-rank steps, with the live state's settings.

    retrieval: a saved VectorRecommender artifact; bundle: catalog + cold-start artifacts (None: ids only);
    ranker: an optional DeepFM fitted with `fit_ranker`; overfetch: candidates per requested item when
    re-ranking without a ranker; rerank: step specs for `shoprec.rerank.build_steps`.
    """

    retrieval: Path
    store: Path
    bundle: Path | None = None
    ranker: Path | None = None
    candidates: int = 200
    overfetch: int = 4
    rerank: list[dict[str, Any]] = field(default_factory=list)
    index: dict[str, float] = field(default_factory=dict)
    event_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))
    exclude_purchased: bool = True
    exclude_seen: bool = True

    @classmethod
    def from_toml(cls, path: str | Path) -> PipelineConfig:
        """Read and validate a pipeline file; ConfigError names the file and the key at fault."""
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: pipeline file not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: invalid TOML ({exc})") from None
        try:
            return cls.from_dict(raw, base=path.parent)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, base: Path | None = None) -> PipelineConfig:
        """Validate plain values (e.g. parsed TOML); relative paths are taken relative to `base`."""
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(raw) - set(allowed))
        if unknown:
            raise ConfigError(f"unknown pipeline key(s) {unknown}; allowed keys are {allowed}")
        for required in ("retrieval", "store"):
            if required not in raw:
                raise ConfigError(f"pipeline key {required!r} is required (a path)")
        values = dict(raw)
        for key in _PATHS:
            if values.get(key) is not None:
                values[key] = _path(key, values[key], base)
        for key in ("candidates", "overfetch"):
            if key in values:
                values[key] = _positive_int(key, values[key])
        for key in ("exclude_purchased", "exclude_seen"):
            if key in values and not isinstance(values[key], bool):
                raise ConfigError(f"pipeline key {key!r} must be true or false, got {values[key]!r}")
        values["index"] = _index(values.get("index", {}))
        values["event_weights"] = _weights(values.get("event_weights", dict(DEFAULT_EVENT_WEIGHTS)))
        values["rerank"] = _rerank(values.get("rerank", []))
        return cls(**values)

    def to_toml(self, base: Path) -> str:
        """TOML text of this config; paths inside `base` (the file's folder) are written relative to it."""
        lines = ["# shoprec serving pipeline (see docs/serving/pipeline.md)"]
        for key in _PATHS:
            value = getattr(self, key)
            if value is not None:
                shown = value.relative_to(base) if value.is_relative_to(base) else value
                lines.append(f"{key} = {json.dumps(str(shown))}")
        lines += [
            f"candidates = {self.candidates}",
            f"overfetch = {self.overfetch}",
            f"exclude_purchased = {str(self.exclude_purchased).lower()}",
            f"exclude_seen = {str(self.exclude_seen).lower()}",
            *(["", "[index]", *(f"{k} = {v!r}" for k, v in self.index.items())] if self.index else []),
            "",
            "[event_weights]",
            *(f"{json.dumps(k)} = {float(v)}" for k, v in self.event_weights.items()),
        ]
        for step in self.rerank:
            lines += ["", "[[rerank]]", *(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in step.items())]
        return "\n".join(lines) + "\n"


def _path(key: str, value: object, base: Path | None) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"pipeline key {key!r} must be a non-empty path string, got {value!r}")
    path = Path(value).expanduser()
    return path if path.is_absolute() or base is None else base / path


def _positive_int(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"pipeline key {key!r} must be an integer >= 1, got {value!r}")
    return value


def _index(raw: object) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise ConfigError(f"pipeline key 'index' must be a table, got {raw!r}")
    unknown = sorted(set(raw) - set(INDEX_KEYS))
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in [index]; allowed keys are {list(INDEX_KEYS)}")
    checks = {"seed": _seed, "target_recall": _recall}
    return {k: checks[k](v) if k in checks else _positive_int(f"index.{k}", v) for k, v in raw.items()}


def _recall(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigError(f"pipeline key 'index.target_recall' must be a number in (0, 1], got {value!r}")
    return float(value)


def _seed(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"pipeline key 'index.seed' must be an integer >= 0, got {value!r}")
    return value


def _weights(raw: object) -> dict[str, float]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"pipeline key 'event_weights' must be a non-empty table event -> weight, got {raw!r}")
    out = {}
    for event, weight in raw.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight < float("inf"):
            raise ConfigError(f"pipeline key 'event_weights.{event}' must be a finite number >= 0, got {weight!r}")
        out[str(event)] = float(weight)
    return out


def _rerank(raw: object) -> list[dict[str, Any]]:
    """Step specs, checked by building them once (the rerank package names the bad step or knob)."""
    from shoprec.rerank import build_steps

    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        raise ConfigError(f"pipeline key 'rerank' must be a list of tables like {{step = 'mmr'}}, got {raw!r}")
    steps = [dict(s) for s in raw]
    build_steps(steps)
    return steps


def write_pipeline(
    run_dir: str | Path,
    out_dir: str | Path,
    *,
    ranker: str | Path | None = None,
    rerank: list[dict[str, Any]] | None = None,
    segment_field: str | None = "segment",
) -> Path:
    """A servable folder for a trained run: `pipeline.toml` + `bundle/` (catalog, cold start); returns the TOML path.

    The model artifact stays in the run directory (an absolute path unless the run lies inside `out_dir`);
    the event store is created next to the TOML file on first open. `ranker` is a DeepFM run directory or
    model artifact fitted with `fit_ranker`.
    """
    from shoprec.experiment import MODEL_DIR
    from shoprec.serving.bundle import build_bundle

    run_dir, out = Path(run_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    build_bundle(run_dir, out / BUNDLE_DIR, segment_field=segment_field)
    ranker_path = None
    if ranker is not None:
        ranker_path = Path(ranker) / MODEL_DIR if (Path(ranker) / MODEL_DIR).is_dir() else Path(ranker)
    config = PipelineConfig(
        retrieval=(run_dir / MODEL_DIR).resolve(),
        store=(out / STORE_FILE).resolve(),
        bundle=(out / BUNDLE_DIR).resolve(),
        ranker=None if ranker_path is None else ranker_path.resolve(),
        rerank=list(rerank or []),
        event_weights=_trained_event_weights(run_dir),
    )
    target = out / PIPELINE_FILE
    target.write_text(config.to_toml(out.resolve()))
    PipelineConfig.from_toml(target)  # what is written must load
    return target


def _trained_event_weights(run_dir: Path) -> dict[str, float]:
    """The event weights a run trained with from your own files (so live events weigh the same), else the defaults."""
    from shoprec.data.sources.local import DATA_SOURCE
    from shoprec.experiment import RUN_FILE

    try:
        source = json.loads((run_dir / RUN_FILE).read_text()).get(DATA_SOURCE) or {}
    except (OSError, ValueError):
        return dict(DEFAULT_EVENT_WEIGHTS)  # load_run, called by the bundle, reports a missing or corrupt run file
    return dict(source.get("event_weights") or DEFAULT_EVENT_WEIGHTS)
