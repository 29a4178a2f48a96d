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


def _reference_lazy_adam(
    weight: torch.Tensor, batches: list[torch.Tensor], grads: list[torch.Tensor], lr: float
) -> list[torch.Tensor]:
    """Row-wise lazy Adam written out in float64, one row at a time: the definition RowAdam must match."""
    w = weight.double().clone()
    m, v = torch.zeros_like(w), torch.zeros_like(w)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    weights = []
    for t, (rows, grad) in enumerate(zip(batches, grads, strict=True), start=1):
        g = grad.double()
        for row in set(rows.tolist()):  # rows outside the batch keep their weights and moments
            m[row] = beta1 * m[row] + (1 - beta1) * g[row]
            v[row] = beta2 * v[row] + (1 - beta2) * g[row] ** 2
            m_hat, v_hat = m[row] / (1 - beta1**t), v[row] / (1 - beta2**t)
            w[row] -= lr * m_hat / (v_hat.sqrt() + eps)
        weights.append(w.clone())
    return weights


def test_row_adam_matches_reference_lazy_adam_step_by_step() -> None:
    torch.manual_seed(3)
    table = nn.Embedding(12, 5, sparse=True)
    start = table.weight.detach().clone()
    opt = RowAdam(list(table.parameters()), lr=0.01)
    batches = [torch.tensor([0, 3, 3, 7]), torch.tensor([7, 7, 7]), torch.tensor([1, 0, 11, 3, 5])]
    targets = torch.randn(len(batches), 5)
    grads, weights = [], []
    for rows, target in zip(batches, targets, strict=True):
        opt.zero_grad()
        ((table(rows) - target) ** 2).sum().backward()  # repeated rows: their gradients must be summed
        grads.append(table.weight.grad.to_dense())  # type: ignore[union-attr]
        opt.step()
        weights.append(table.weight.detach().clone())
    assert opt.state[table.weight]["step"] == 3
    for got, want in zip(weights, _reference_lazy_adam(start, batches, grads, lr=0.01), strict=True):
        torch.testing.assert_close(got.double(), want, rtol=0, atol=1e-6)
    untouched = [2, 4, 6, 8, 9, 10]
    assert torch.equal(table.weight[untouched], start[untouched])


def test_row_adam_accepts_a_coalesced_gradient() -> None:
    """A coalesced gradient (e.g. after a data parallel all-reduce) gives the same step as the raw one."""
    results = []
    for coalesce in (False, True):
        torch.manual_seed(0)
        table = nn.Embedding(6, 3, sparse=True)
        opt = RowAdam(list(table.parameters()), lr=0.1)
        table(torch.tensor([4, 1, 4])).sum().backward()
        if coalesce:
            table.weight.grad = table.weight.grad.coalesce()  # type: ignore[union-attr]
        opt.step()
        results.append(table.weight.detach())
    torch.testing.assert_close(results[0], results[1], rtol=0, atol=0)


@pytest.mark.parametrize(("name", "reference"), [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)])
def test_dense_adam_is_fused_and_matches_the_plain_loop(name: str, reference: type[torch.optim.Optimizer]) -> None:
    models = [Tiny(sparse=False), Tiny(sparse=False)]
    ours = build_optimizer(models[0], name, 0.05, weight_decay=0.01)
    assert ours.optimizers[0].defaults["fused"] is True
    plain = reference(models[1].parameters(), lr=0.05, weight_decay=0.01, foreach=False)
    rows = torch.tensor([0, 4, 4, 9])
    for model, opt in ((models[0], ours), (models[1], plain)):
        for _ in range(5):
            opt.zero_grad()
            model(rows).pow(2).sum().backward()
            opt.step()
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
