"""Optimizer factory: dense/sparse routing, lazy row updates, and that every choice actually minimises."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shoprec.exceptions import ConfigError
from shoprec.training.optim import OPTIMIZERS, RowAdam, build_optimizer


class Tiny(nn.Module):
    def __init__(self, sparse: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.table = nn.Embedding(10, 3, sparse=sparse)
        self.head = nn.Linear(3, 1)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.head(self.table(rows)).squeeze(1)


@pytest.mark.parametrize(
    ("name", "kinds"),
    [
        ("adam", ["Adam", "RowAdam"]),
        ("adamw", ["AdamW", "RowAdam"]),
        ("adagrad", ["Adagrad", "Adagrad"]),
        ("sgd", ["SGD", "SGD"]),
    ],
)
def test_sparse_tables_get_a_sparse_capable_optimizer(name: str, kinds: list[str]) -> None:
    group = build_optimizer(Tiny(sparse=True), name, 0.1)
    assert [type(o).__name__ for o in group.optimizers] == kinds
    dense = build_optimizer(Tiny(sparse=False), name, 0.1)
    assert [type(o).__name__ for o in dense.optimizers] == kinds[:1]


def test_sparse_update_touches_only_batch_rows() -> None:
    model = Tiny(sparse=True)
    before = model.table.weight.detach().clone()
    opt = build_optimizer(model, "adam", 0.1)
    model(torch.tensor([2, 5])).sum().backward()
    opt.step()
    changed = (model.table.weight != before).any(dim=1)
    assert changed.nonzero().flatten().tolist() == [2, 5]


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("sparse", [False, True])
def test_every_optimizer_fits_a_regression(name: str, sparse: bool) -> None:
    model = Tiny(sparse)
    rows = torch.arange(10)
    target = torch.linspace(-1, 1, 10)
    opt = build_optimizer(model, name, 0.05 if name != "sgd" else 0.1, momentum=0.5 if name == "sgd" else 0.0)
    start = nn.functional.mse_loss(model(rows), target).item()
    for _ in range(150):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(rows), target)
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 * start


def test_state_dict_round_trip_and_mismatch() -> None:
    model = Tiny(sparse=True)
    opt = build_optimizer(model, "adam", 0.1)
    model(torch.tensor([1])).sum().backward()
    opt.step()
    other = build_optimizer(model, "adam", 0.1)
    other.load_state_dict(opt.state_dict())
    assert torch.equal(
        other.optimizers[1].state[model.table.weight]["exp_avg"], opt.optimizers[1].state[model.table.weight]["exp_avg"]
    )
    with pytest.raises(ConfigError, match="holds 1 optimizers, expected 2"):
        other.load_state_dict(opt.state_dict()[:1])


def test_unknown_optimizer_and_bad_rate() -> None:
    with pytest.raises(ConfigError, match="optimizer must be one of"):
        build_optimizer(Tiny(False), "lbfgs", 0.1)
    with pytest.raises(ConfigError, match="learning_rate"):
        build_optimizer(Tiny(False), "adam", 0.0)


@pytest.mark.parametrize("rows_per_step", [3, 40])  # few rows: the sort path; many: the bincount path
def test_row_adam_equals_sparse_adam(rows_per_step: int) -> None:
    tables = []
    for optimizer_cls in (RowAdam, torch.optim.SparseAdam):
        torch.manual_seed(0)
        table = nn.Embedding(50, 4, sparse=True)
        opt = optimizer_cls(list(table.parameters()), lr=0.05)
        for step in range(6):
            rows = torch.randint(0, 50, (rows_per_step,), generator=torch.Generator().manual_seed(step))
            opt.zero_grad()
            (table(rows) ** 2).sum().backward()  # repeated rows: gradients must be summed
            opt.step()
        tables.append(table.weight.detach())
    torch.testing.assert_close(tables[0], tables[1], rtol=1e-5, atol=1e-6)  # same math, other summation order
