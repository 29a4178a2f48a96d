"""Where a benchmark row came from: commit, date, machine, device, threads, seed and the command.

Every row a benchmark writes carries `provenance(...)` under the key "provenance", so that a number in
README.md can be traced to the code, the machine and the command that produced it. The machine shoprec's
benchmarks run on is shared, so the 1-minute load average is recorded with every timing.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def provenance(*, seed: int | None, threads: int | None, device: str) -> dict[str, Any]:
    """The provenance record of a row measured now in this process (call it when the row is written)."""
    commit, dirty = _git_state()
    return {
        "commit": commit,
        "dirty": dirty,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "device": device_name(device),
        "threads": threads,
        "seed": seed,
        "command": command_line(),
        "python": platform.python_version(),
        "torch": _version("torch"),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def command_line() -> str:
    """The command as run: `python -m package.module args` when started with -m, else the script path."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    head = f"python -m {spec.name}" if spec is not None and spec.name != "__main__" else f"python {_script()}"
    return " ".join([head, *map(shlex.quote, sys.argv[1:])])


def _script() -> str:
    """The script path relative to the repository when it lies inside it (no one machine's absolute path)."""
    script = Path(sys.argv[0]).resolve()
    root = Path(__file__).resolve().parents[1]
    return str(script.relative_to(root)) if script.is_relative_to(root) else sys.argv[0]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (platform.processor() elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def device_name(device: str) -> str:
    """ "cpu", or the CUDA device's name (e.g. "cuda: NVIDIA H200") for a cuda device."""
    if not device.startswith("cuda"):
        return device
    import torch

    index = int(device.split(":", 1)[1]) if ":" in device else 0
    return f"cuda: {torch.cuda.get_device_name(index)}" if torch.cuda.is_available() else device


def _git_state() -> tuple[str | None, bool | None]:
    """HEAD and whether tracked code differs from it (results files excluded: runs write them)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)benchmarks/results"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return head.stdout.strip(), bool(status.stdout.strip())


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
