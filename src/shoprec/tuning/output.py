"""What `shoprec tune` leaves behind: best.toml (a complete `shoprec train` config) and trials.csv.

The TOML writer covers what an `ExperimentSpec` holds (strings, numbers, booleans, lists and small
tables); None values are left out, which is how a spec spells "default" in TOML.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from shoprec.experiment import ExperimentSpec
from shoprec.tuning.study import TuneResult

BEST_FILE = "best.toml"
TRIALS_FILE = "trials.csv"
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name)


def toml_value(value: Any) -> str:
    """One TOML value; Python's float repr (including inf and nan) is valid TOML as it stands."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):  # raw non-ASCII (JSON's surrogate-pair escapes are not TOML); DEL must be escaped
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items() if v is not None) + " }"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} to TOML")


def _table(name: str, values: dict[str, Any]) -> str:
    lines = [f"[{name}]"] + [f"{_key(k)} = {toml_value(v)}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"


def spec_toml(spec: ExperimentSpec, header: str = "") -> str:
    """A `shoprec train --config` file that `ExperimentSpec.from_toml` reads back as `spec`."""
    experiment = {
        "seed": spec.seed,
        "protocol": spec.protocol,
        "implicit_threshold": spec.implicit_threshold,
        "ks": list(spec.ks),
    }
    tables = [
        _table("experiment", experiment),
        _table("data", {"name": spec.data, **spec.data_options}),
        _table("split", {"method": spec.split, **spec.split_options}),
        _table("model", {"name": spec.model, **spec.params}),
    ]
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    return comment + "\n".join(tables)


def write_trials_csv(result: TuneResult, path: str | Path) -> None:
    """number, one column per searched parameter, value, state, seconds — one row per trial."""
    names = [dim.name for dim in result.settings.space]
    with Path(path).open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["number", *names, "value", "state", "seconds"])
        for t in result.trials:
            seconds = None if t.seconds is None else round(t.seconds, 3)
            writer.writerow([t.number, *(t.params.get(n) for n in names), t.value, t.state, seconds])


def write_outputs(result: TuneResult, out: str | Path) -> tuple[Path, Path]:
    """Write best.toml and trials.csv under `out` (created); returns their paths."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    settings = result.settings
    validation = "validation carved from train" if result.carved_validation else "validation split"
    header = (
        f"written by `shoprec tune`: best {settings.metric} = {result.best_value:.6g} on the {validation}\n"
        f"(trial {result.best_trial} of {len(result.trials)}, sampler {settings.sampler}, seed {settings.seed}).\n"
        f"Train and test it with: shoprec train --config {BEST_FILE} --out <run>"
    )
    best, trials = root / BEST_FILE, root / TRIALS_FILE
    best.write_text(spec_toml(result.spec, header))
    write_trials_csv(result, trials)
    return best, trials
