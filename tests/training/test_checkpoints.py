"""Checkpoints: module, optimizer and best weights survive a round trip; corrupt files are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tests.core.tamper import edit_json, poison_tensor, reseal
from torch import nn

from shoprec.exceptions import ArtifactError
from shoprec.training.checkpoint import has_checkpoint, load_checkpoint, save_checkpoint
from shoprec.training.optim import build_optimizer


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Embedding(6, 2, sparse=True)
        self.head = nn.Linear(2, 1)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.head(self.table(rows)).sum()


@pytest.mark.parametrize("name", ["adam", "sgd", "adagrad"])
def test_round_trip_restores_module_and_optimizer(tmp_path: Path, name: str) -> None:
    torch.manual_seed(0)
    net = Net()
    opt = build_optimizer(net, name, 0.1, momentum=0.9 if name == "sgd" else 0.0)
    for rows in ([0, 1], [1, 2]):
        opt.zero_grad()
        net(torch.tensor(rows)).backward()
        opt.step()
    best = {k: v.clone() + 1 for k, v in net.state_dict().items()}
    save_checkpoint(tmp_path, net, opt, epoch=4, progress={"note": "x"}, best_state=best)
    assert has_checkpoint(tmp_path) and not has_checkpoint(tmp_path / "nothing")

    torch.manual_seed(1)
    other = Net()
    other_opt = build_optimizer(other, name, 0.1, momentum=0.9 if name == "sgd" else 0.0)
    saved = load_checkpoint(tmp_path, other, other_opt)
    assert saved.epoch == 4 and saved.progress == {"note": "x"}
    for key, value in net.state_dict().items():
        assert torch.equal(other.state_dict()[key], value)
        assert torch.equal(saved.best_state[key], best[key])  # type: ignore[index]
    # One more identical step on both gives identical weights: the optimizer state came back whole.
    for model, optimizer in ((net, opt), (other, other_opt)):
        optimizer.zero_grad()
        model(torch.tensor([2, 3])).backward()
        optimizer.step()
    for key, value in net.state_dict().items():
        torch.testing.assert_close(other.state_dict()[key], value, rtol=0, atol=1e-7)


def test_tampered_checkpoint_is_refused(tmp_path: Path) -> None:
    net = Net()
    opt = build_optimizer(net, "adam", 0.1)
    path = save_checkpoint(tmp_path, net, opt, epoch=0, progress={})
    tensors = path / "tensors.safetensors"
    tensors.write_bytes(tensors.read_bytes()[:-4] + b"oops")
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        load_checkpoint(tmp_path, Net(), build_optimizer(Net(), "adam", 0.1))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda state: state.pop("epoch"), "field 'epoch' missing; expected an integer >= 0"),
        (lambda state: state.update(optimizers={}), "field 'optimizers' is an object"),
        (lambda state: state.update(progress=[1]), "field 'progress' is a list \\[1\\]; expected a JSON object"),
    ],
)
def test_malformed_checkpoint_state_is_named(tmp_path: Path, change, message) -> None:
    net = Net()
    opt = build_optimizer(net, "adam", 0.1)
    path = save_checkpoint(tmp_path, net, opt, epoch=0, progress={})
    edit_json(path / "state.json", change)
    reseal(path)
    with pytest.raises(ArtifactError, match=f"last/state.json: {message}"):
        load_checkpoint(tmp_path, net, opt)


def test_a_checkpoint_with_non_finite_weights_is_refused(tmp_path: Path) -> None:
    net = Net()
    opt = build_optimizer(net, "adam", 0.1)
    path = save_checkpoint(tmp_path, net, opt, epoch=0, progress={})
    poison_tensor(path, "model.head.weight", float("inf"))
    reseal(path)
    with pytest.raises(ArtifactError, match=r"tensor 'model\.head\.weight' holds non-finite values"):
        load_checkpoint(tmp_path, net, opt)
