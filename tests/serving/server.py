"""A REAL server for the HTTP tests: `shoprec serve` in a subprocess on 127.0.0.1, over a small trained pipeline.

`new_pipeline` writes a pipeline folder over the small shop's iALS (trained once per session); `Server`
starts `python -m shoprec serve` on a free port, waits until /health answers and kills it afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.serving.shop import trained_run

from shoprec.serving.pipeline import write_pipeline

#: One key per role (keys must be >= 16 characters).
KEYS = {"read": "read-key-0123456789", "write": "write-key-0123456789", "admin": "admin-key-0123456789"}


_RUNS: dict[Path, Path] = {}


def shared_run(factory: pytest.TempPathFactory) -> Path:
    """The shop's trained iALS run (tests/serving/shop.py), trained once per test session."""
    base = factory.getbasetemp()
    if base not in _RUNS:
        _RUNS[base] = trained_run(factory.mktemp("run"))
    return _RUNS[base]


def new_pipeline(factory: pytest.TempPathFactory, *, rerank: list[dict] | None = None) -> Path:
    """A fresh pipeline folder (its own empty event store) over the shared run; returns pipeline.toml."""
    return write_pipeline(shared_run(factory), factory.mktemp("pipeline"), rerank=rerank)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def headers(role: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[role]}


class Server:
    """`shoprec serve` in a subprocess; `url` once started. Logs go to a file shown when start-up fails."""

    def __init__(
        self,
        pipeline: Path,
        *,
        keys: bool = True,
        startup_timeout: float = 60.0,
        flag: str = "--pipeline",
        workers: int = 1,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
    ) -> None:
        self.pipeline, self.flag, self.workers, self.extra_env = pipeline, flag, workers, env or {}
        self.args = args or []  # more `shoprec serve` options
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = pipeline.parent / f"server-{self.port}.log"
        self.keys = keys
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPREC_API_KEY_")}
        env["SHOPREC_THREADS"] = "1"
        if self.keys:
            env.update({f"SHOPREC_API_KEY_{role.upper()}": key for role, key in KEYS.items()})
        env.update(self.extra_env)
        command = [sys.executable, "-m", "shoprec", "serve", self.flag, str(self.pipeline), "--port", str(self.port)]
        command += ["--workers", str(self.workers), *self.args]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([*command, "--log-level", "warning"], stdout=log, stderr=log, env=env)
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not healthy after {self.startup_timeout} s:\n{self.log_tail()}")

    def children(self) -> list[int]:
        """Pids of the server's child processes (its workers, with --workers > 1)."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as in a crash or an OOM kill."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
