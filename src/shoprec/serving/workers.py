"""Several worker processes over one loaded service: `shoprec serve --workers N`.

One Python process answers requests on one core at a time (the GIL), so a machine's cores serve in parallel only
as processes. The parent loads the pipeline once (artifacts verified, index built and calibrated, store
replayed), then forks the workers, each listening on the same address (the kernel spreads connections over
them, `listening_socket`). Forking after the load means the large arrays (item and user vectors, the index, id
maps) are shared copy-on-write rather than loaded N times, and every worker starts from the identical state: the
same index and nprobe, so a request gets the same list whichever worker answers. From then on each worker
follows the event store's change log (`serving.sync`), so a write through any worker is seen by all.

The parent only supervises: a worker that dies is replaced by a new fork of the loaded state, which applies
the store's log before answering; SIGINT / SIGTERM stop every worker gracefully.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable

from shoprec.exceptions import ConfigError
from shoprec.serving.service import RecommendationService

log = logging.getLogger("shoprec.serving")

#: Linux balances connections over sockets sharing a port with SO_REUSEPORT (see `listening_socket`).
BALANCED = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")
#: More worker restarts than this within RESTART_WINDOW seconds means something is broken: stop serving.
MAX_RESTARTS, RESTART_WINDOW = 10, 60.0


def listening_socket(host: str, port: int) -> socket.socket:
    """The server's address, claimed before the pipeline loads (ConfigError when it is taken).

    On Linux it is bound with SO_REUSEPORT but does not listen: each worker listens on its own socket on the
    same address (`worker_socket`) and the kernel spreads new connections over them by hash. A single shared
    socket let whichever worker was awake accept a whole burst of new keep-alive connections (31 of 32 in a
    measured case), so one worker served nearly everything while the other idled. Elsewhere (no balancing
    SO_REUSEPORT) this socket listens and the workers share it."""
    return _bound(host, port, listen=not BALANCED)


def worker_socket(reserved: socket.socket) -> socket.socket:
    """The socket a worker serves on: its own listening one on the reserved address (Linux), else the shared one."""
    if not BALANCED:
        return reserved
    host, port = reserved.getsockname()[:2]
    return _bound(host, port, listen=True)


def _bound(host: str, port: int, *, listen: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if BALANCED:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    if listen:
        sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_workers(service: RecommendationService, sock: socket.socket, workers: int, serve: Callable[[], None]) -> None:
    """Fork `workers` processes that each reopen the store and call `serve()` (one uvicorn server on `sock`);
    replace any that dies until SIGINT / SIGTERM, then stop them all and return."""
    service.release_store()  # SQLite connections must not cross a fork
    children: set[int] = set()
    restarts: list[float] = []
    stopping = False

    def start() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                service.reopen_store()
                serve()
                code = 0
            except BaseException:
                log.exception("worker %d failed", os.getpid())
            finally:
                os._exit(code)
        children.add(pid)

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            os.kill(pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for _ in range(workers):
            start()
        log.info("serving with %d worker processes: %s", workers, sorted(children))
        while children:
            pid, status = os.wait()
            children.discard(pid)
            if stopping:
                continue
            restarts = [t for t in restarts if t > time.monotonic() - RESTART_WINDOW] + [time.monotonic()]
            if len(restarts) > MAX_RESTARTS:
                log.error("workers keep dying (%d restarts in %.0f s): stopping", len(restarts), RESTART_WINDOW)
                stop(signal.SIGTERM, None)
                continue
            log.warning("worker %d exited (status %d); starting a new one", pid, os.waitstatus_to_exitcode(status))
            start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
