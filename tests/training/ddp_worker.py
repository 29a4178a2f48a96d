"""A tiny MF training run, launched twice by test_ddp.py: in one process and under torchrun with 2 ranks.

Usage: ddp_worker.py OUT.safetensors [LOG.jsonl] — rank 0 (or the single process) writes the final weights.
"""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist
from safetensors.torch import save_file

from shoprec.config import TrainOptions
from shoprec.models.mf import MFModule
from shoprec.training import Trainer, TrainerConfig, TrainTask, candidate_objective

N_USERS, N_ITEMS, ROWS = 12, 20, 96


def train(log_path: str | None = None) -> dict[str, torch.Tensor]:
    """Three epochs of BCE over fixed candidate rows; the module and data are the same on every rank."""
    torch.manual_seed(0)
    module = MFModule(N_USERS, N_ITEMS, 4, biases=True, sparse=True, init_std=0.1)
    g = torch.Generator().manual_seed(1)
    data = {
        "users": torch.randint(0, N_USERS, (ROWS,), generator=g),
        "items": torch.randint(0, N_ITEMS, (ROWS, 3), generator=g),
    }
    task = TrainTask(module, lambda epoch, seed: data, candidate_objective("bce", reg=0.01), examples_per_row=3)
    config = TrainerConfig(epochs=3, batch_size=16, learning_rate=0.05, optimizer="adam", seed=7)
    Trainer(config, TrainOptions(threads=1, log_path=log_path)).fit(task)
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


if __name__ == "__main__":
    weights = train(sys.argv[2] if len(sys.argv) > 2 else None)
    if not dist.is_initialized() or dist.get_rank() == 0:
        save_file(weights, sys.argv[1])
    if dist.is_initialized():
        dist.destroy_process_group()
