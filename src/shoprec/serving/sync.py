"""What the server's worker processes share: how far the event store's change log goes, and a campaign lock.

Each worker process (`shoprec serve --workers N`) holds its own copy of the live state and writes to the one
event store. After a write commits, the writer publishes the store's newest change here; before answering, a
worker whose state is behind that applies the changes it has not seen (`RecommendationService`). Because the
value is published before the write is acknowledged, a client that wrote through one worker and reads through
another sees its write. Everything here lives in shared memory created before the workers are forked; with one
process it costs a lock and an integer.
"""

from __future__ import annotations

import multiprocessing
from contextlib import AbstractContextManager


class WorkerSync:
    """The newest committed change seq (`latest`, only ever raised) and a lock serialising campaign picks (so
    two campaigns in two workers never both pick a user just under the frequency cap)."""

    def __init__(self, processes: int = 1) -> None:
        self.processes = processes
        self._latest = multiprocessing.RawValue("q", 0)
        self._publish = multiprocessing.Lock()
        self._campaigns = multiprocessing.Lock()

    @property
    def latest(self) -> int:
        return self._latest.value

    def publish(self, seq: int) -> None:
        """Raise `latest` to `seq` (writers in several processes may publish out of order)."""
        with self._publish:
            if seq > self._latest.value:
                self._latest.value = seq

    def campaigns(self) -> AbstractContextManager[bool]:
        return self._campaigns
