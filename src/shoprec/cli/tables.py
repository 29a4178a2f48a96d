"""Rich tables shared by the CLI commands."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.table import Table


def metrics_table(metrics: dict[str, Any], names: Iterable[str]) -> Table:
    """One row of headline metrics (those present) with their 95% intervals when known."""
    values = metrics.get("metrics", {})
    intervals = metrics.get("ci", {})
    table = Table(title=f"{metrics.get('model')} on {metrics.get('dataset')} ({metrics.get('protocol')} ranking)")
    shown = [n for n in names if n in values]
    for name in shown:
        table.add_column(name, justify="right")
    table.add_row(*[_with_ci(values[n], intervals.get(n)) for n in shown])
    return table


def leaderboard_table(rows: list[dict[str, Any]], names: Iterable[str]) -> Table:
    """Models as rows, metrics as columns, plus fit/evaluation seconds."""
    names = list(names)
    table = Table(title="leaderboard")
    table.add_column("model")
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("fit s", justify="right")
    table.add_column("eval s", justify="right")
    for row in rows:
        values = row.get("metrics", {})
        cells = [f"{values[n]:.4f}" if n in values else "-" for n in names]
        timings = row.get("timings", {})
        table.add_row(row["model"], *cells, f"{row.get('fit_seconds', 0):.2f}", f"{timings.get('total', 0):.2f}")
    return table


def _with_ci(value: float, interval: Any) -> str:
    if not interval:
        return f"{value:.4f}"
    low, high = interval
    return f"{value:.4f} [{low:.3f}, {high:.3f}]"
