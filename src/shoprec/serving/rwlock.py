"""A readers-writer lock: requests read concurrently, in-place updates (events, items) wait for them.

The service mutates its live state in place (a user's vector row, the index growing by an item); faiss and
numpy give no guarantee for a search that overlaps such a write, so writes take the lock exclusively.
Writers are preferred, so a stream of reads cannot starve an ingest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class ReadWriteLock:
    """Many readers or one writer at a time; a waiting writer blocks new readers.

    `read()` and `write()` return reusable context managers (no generator per use: every request takes the
    read side twice, and `contextlib.contextmanager` cost more than the lock itself)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0
        self._read = _Held(self._acquire_read, self._release_read)
        self._write = _Held(self._acquire_write, self._release_write)

    def read(self) -> _Held:
        return self._read

    def write(self) -> _Held:
        return self._write

    def _acquire_read(self) -> None:
        with self._cond:
            while self._writing or self._writers_waiting:
                self._cond.wait()
            self._readers += 1

    def _release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            if self._readers == 0:
                self._cond.notify_all()

    def _acquire_write(self) -> None:
        with self._cond:
            self._writers_waiting += 1
            while self._writing or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writing = True

    def _release_write(self) -> None:
        with self._cond:
            self._writing = False
            self._cond.notify_all()


class _Held:
    """`with` support for one side of the lock."""

    __slots__ = ("_acquire", "_release")

    def __init__(self, acquire: Callable[[], None], release: Callable[[], None]) -> None:
        self._acquire, self._release = acquire, release

    def __enter__(self) -> None:
        self._acquire()

    def __exit__(self, *exc: object) -> None:
        self._release()
