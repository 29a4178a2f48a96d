"""Training checkpoints: model, optimizer and best weights as safetensors, progress as JSON; no pickle.

A checkpoint is a shoprec artifact of kind "checkpoint" (see `shoprec.artifacts`: atomic write, checksums
verified on load) holding the tensors

    model.<name>              the module's state dict
    best.<name>               the best weights so far under early stopping (when there are any)
    optim.<i>.<param>.<key>   tensor state of optimizer i of the `OptimizerGroup` (e.g. Adam moments)

and in state.json the epoch just completed, the history of epoch records, early-stopping progress,
each optimizer's param_groups and non-tensor state, and the seed scheme: every epoch's randomness is
derived from (seed, epoch), so the epoch number restores the random state exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from shoprec.artifact_schema import INT, LIST, OBJECT, check_fields, json_field
from shoprec.artifacts import STATE, read_artifact, write_artifact
from shoprec.training.optim import OptimizerGroup

KIND = "checkpoint"
LAST = "last"
_STATE_FIELDS = (json_field("epoch", INT), json_field("progress", OBJECT), json_field("optimizers", LIST))


@dataclass
class Checkpoint:
    """What `load_checkpoint` restores besides the module and optimizer."""

    epoch: int
    progress: dict[str, Any]
    best_state: dict[str, torch.Tensor] | None


def save_checkpoint(
    directory: str | Path,
    module: nn.Module,
    optimizer: OptimizerGroup,
    *,
    epoch: int,
    progress: dict[str, Any],
    best_state: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write `directory/last` atomically; `progress` must be JSON-able."""
    tensors = {f"model.{k}": _numpy(v) for k, v in module.state_dict().items()}
    if best_state is not None:
        tensors.update({f"best.{k}": _numpy(v) for k, v in best_state.items()})
    optim_json = []
    for i, opt_state in enumerate(optimizer.state_dict()):
        scalars: dict[str, dict[str, Any]] = {}
        for pid, values in opt_state["state"].items():
            for key, value in values.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optim.{i}.{pid}.{key}"] = _numpy(value)
                else:
                    scalars.setdefault(str(pid), {})[key] = value
        optim_json.append({"param_groups": opt_state["param_groups"], "scalars": scalars})
    state = {"epoch": epoch, "progress": progress, "optimizers": optim_json}
    return write_artifact(Path(directory) / LAST, kind=KIND, tensors=tensors, state=state)


def has_checkpoint(directory: str | Path | None) -> bool:
    return directory is not None and (Path(directory) / LAST).is_dir()


def load_checkpoint(directory: str | Path, module: nn.Module, optimizer: OptimizerGroup) -> Checkpoint:
    """Restore module and optimizer in place from `directory/last` (checksums verified)."""
    _, arrays, state = read_artifact(Path(directory) / LAST, kind=KIND)
    check_fields(Path(directory) / LAST / STATE, state, _STATE_FIELDS)
    device = next(iter(module.state_dict().values())).device
    groups: dict[str, dict[str, torch.Tensor]] = {"model": {}, "best": {}, "optim": {}}
    for key, value in arrays.items():
        prefix, name = key.split(".", 1)
        groups[prefix][name] = torch.from_numpy(value).to(device)
    module.load_state_dict(groups["model"])
    optim_states = []
    for i, saved in enumerate(state["optimizers"]):
        per_param: dict[int, dict[str, Any]] = {int(pid): dict(v) for pid, v in saved["scalars"].items()}
        for key, value in groups["optim"].items():
            index, pid, name = key.split(".", 2)
            if int(index) == i:
                per_param.setdefault(int(pid), {})[name] = value
        optim_states.append({"state": per_param, "param_groups": saved["param_groups"]})
    optimizer.load_state_dict(optim_states)
    return Checkpoint(epoch=int(state["epoch"]), progress=state["progress"], best_state=groups["best"] or None)


def _numpy(value: torch.Tensor) -> np.ndarray:
    """CPU numpy copy; sparse tensors (e.g. SGD momentum of a sparse table) are stored dense."""
    value = value.detach()
    if value.is_sparse:
        value = value.to_dense()
    return value.cpu().numpy()
