"""Data parallel training under torchrun (gloo, 2 CPU ranks) matches one process with the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from ddp_worker import N_ITEMS, N_USERS, train  # noqa: E402

from shoprec.models.mf import MFModule  # noqa: E402


@pytest.mark.timeout(120)
def test_two_ranks_match_one_process(tmp_path: Path) -> None:
    out, log = tmp_path / "ddp.safetensors", tmp_path / "log.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    done = subprocess.run(
        [*cmd, str(HERE / "ddp_worker.py"), str(out), str(log)], env=env, capture_output=True, text=True, timeout=110
    )
    assert done.returncode == 0, done.stderr[-3000:]

    single = train()
    distributed = load_file(str(out))
    assert set(distributed) == set(single)
    for name, value in single.items():
        torch.testing.assert_close(distributed[name], value, rtol=1e-4, atol=1e-5, msg=name)
    # The weights moved (so the comparison is not vacuous), and only rank 0 wrote the log.
    torch.manual_seed(0)
    initial = MFModule(N_USERS, N_ITEMS, 4, biases=True, sparse=True, init_std=0.1).state_dict()
    assert not torch.allclose(initial["users.weight"], single["users.weight"])
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1, 2]
    assert all(r["examples"] == 96 * 3 for r in records)  # both ranks' rows counted once
