"""Where a benchmark number came from: commit, date, machine, threads, seed, command and load.

Minimal version (h10-eval) so that `bench_ties` runs; h10-trace's fuller version with the same signature replaces it.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any


def _git_commit() -> str | None:
    """The checkout's commit (with "+dirty" when files differ), None outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        status = ["git", "-C", str(root), "status", "--porcelain", "-uno"]
        dirty = subprocess.run(status, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if dirty.stdout.strip() else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(seed: int | None = None, threads: int | None = None, device: str = "cpu") -> dict[str, Any]:
    """A JSON-able record of the run: git commit, UTC date, cpu model, cores, device, threads, seed, command, load."""
    return {
        "git_commit": _git_commit(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "device": device,
        "threads": threads,
        "seed": seed,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
