"""Appending benchmark rows, each with its provenance, to the JSON-lines files in benchmarks/results/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.provenance import provenance

RESULTS = Path(__file__).resolve().parent / "results"


def append_row(path: str | Path, row: dict[str, Any], *, seed: int | None, threads: int | None, device: str) -> dict:
    """Append `row` plus its "provenance" record as one JSON line to `path`; returns the row as written."""
    written = {**row, "provenance": provenance(seed=seed, threads=threads, device=device)}
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a") as fh:
        fh.write(json.dumps(written, sort_keys=True) + "\n")
    return written


def with_provenance(row: dict[str, Any], *, seed: int | None = None, threads: int | None = None) -> dict[str, Any]:
    """`row` plus its provenance; seed, threads and device default to the row's own fields (or its params')."""
    params = row.get("params") if isinstance(row.get("params"), dict) else {}
    return {
        **row,
        "provenance": provenance(
            seed=seed if seed is not None else row.get("seed", params.get("seed")),
            threads=threads if threads is not None else row.get("threads"),
            device=str(row.get("device", "cpu")),
        ),
    }
