"""Where a benchmark number came from: code version, machine, settings and how busy the machine was.

Minimal version so benchmarks can record it; results files keep the dict under a `provenance` key.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def provenance(*, seed: int, threads: int, device: str = "cpu") -> dict[str, object]:
    """Git commit, UTC date, CPU model and cores, device, threads, seed, the command line and the 1-minute load
    average at the time of the call (on a shared machine it says how much the numbers were disturbed)."""
    return {
        "git_commit": _git_commit(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "device": device,
        "threads": threads,
        "seed": seed,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }


def _git_commit() -> str:
    """The checked-out commit, with `+dirty` when tracked files differ from it ("unknown" outside git)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
