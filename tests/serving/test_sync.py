"""WorkerSync: the published end of the change log only rises, and a forked process's publish is seen."""

from __future__ import annotations

import os

from shoprec.serving.sync import WorkerSync


def test_latest_only_rises() -> None:
    sync = WorkerSync()
    assert sync.latest == 0
    sync.publish(5)
    sync.publish(3)  # a slower writer publishing an older change
    assert sync.latest == 5


def test_a_publish_in_a_forked_worker_is_seen_by_the_others() -> None:
    sync = WorkerSync(processes=2)
    pid = os.fork()
    if pid == 0:  # the "worker": publish and leave without running any test machinery
        sync.publish(42)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sync.latest == 42
    with sync.campaigns():
        sync.publish(43)
    assert sync.latest == 43
