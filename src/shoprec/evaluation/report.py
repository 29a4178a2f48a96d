"""Reports of evaluation results: a Markdown leaderboard and a self-contained HTML page with a bar chart.

Rows are dicts as the CLI writes them (`{"model": ..., "metrics": {...}, ...}`, i.e. a label plus
`EvaluationResult.to_dict()`) or flat (`{"model": ..., "hr@10": ...}`). The best value of each column is
bold; for error-like metrics (RMSE, Gini, ...) the lowest is best.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shoprec.evaluation.evaluator import EvaluationResult
from shoprec.exceptions import ShoprecError

#: Columns shown when the caller names none (those present in some row).
DEFAULT_COLUMNS = ("hr@10", "ndcg@10", "recall@20", "mrr@10", "map@10", "auc", "coverage@10", "novelty@10", "rmse")

#: Metric names (before "@k") for which lower is better.
LOWER_IS_BETTER = frozenset({"rmse", "mae", "log_loss", "gini", "avg_pop"})


def _values(row: Mapping[str, Any]) -> Mapping[str, Any]:
    return row.get("metrics", row)


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None) -> tuple[list[str], list[list[str]]]:
    """Chosen columns and formatted cells per row, best of each column wrapped in ** **."""
    if columns is None:
        columns = [c for c in DEFAULT_COLUMNS if any(c in _values(r) for r in rows)]
    columns = list(columns)
    cells = [[str(row.get("model", f"row {i + 1}"))] for i, row in enumerate(rows)]
    for name in columns:
        values = [_values(row).get(name) for row in rows]
        known = [v for v in values if isinstance(v, int | float) and not math.isnan(v)]
        lower = name.split("@")[0] in LOWER_IS_BETTER
        best = (min(known) if lower else max(known)) if known else None
        for row_cells, value in zip(cells, values, strict=True):
            text = _format(value)
            row_cells.append(f"**{text}**" if best is not None and value == best else text)
    return columns, cells


def leaderboard_markdown(rows: list[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A Markdown table: one row per model, one column per metric, the best value of each column in bold."""
    columns, cells = _table(rows, columns)
    lines = ["| model | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def _as_rows(results: Mapping[str, EvaluationResult | Mapping[str, Any]] | Sequence[Mapping[str, Any]]) -> list[dict]:
    if isinstance(results, Mapping):
        return [
            {"model": label, **(r.to_dict() if isinstance(r, EvaluationResult) else dict(r))}
            for label, r in results.items()
        ]
    return [dict(r) for r in results]


def _bar_chart(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A grouped bar chart (metrics x models) as a base64 PNG; needs the `plot` extra."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ShoprecError(
            "plots need matplotlib: install the extra with `pip install 'shoprec[plot]'` (or pass plots=False)"
        ) from exc
    shown = [c for c in columns if c.split("@")[0] not in LOWER_IS_BETTER and not c.startswith("novelty")]
    fig = Figure(figsize=(max(6.0, 1.2 * len(shown)), 4.0))
    ax = fig.add_subplot()
    width = 0.8 / max(len(rows), 1)
    for i, row in enumerate(rows):
        heights = [_values(row).get(c) or 0.0 for c in shown]
        ax.bar([j + i * width for j in range(len(shown))], heights, width, label=str(row.get("model", i + 1)))
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(shown))], shown)
    ax.set_ylabel("value")
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _html_table(header: list[str], cells: list[list[str]]) -> str:
    def cell(text: str, tag: str) -> str:
        bold = text.startswith("**")
        inner = html.escape(text.strip("*"))
        return f"<{tag}>{'<b>' + inner + '</b>' if bold else inner}</{tag}>"

    head = "".join(cell(h, "th") for h in header)
    body = "".join("<tr>" + "".join(cell(c, "td") for c in row) + "</tr>" for row in cells)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_html_report(
    results: Mapping[str, EvaluationResult | Mapping[str, Any]] | Sequence[Mapping[str, Any]],
    path: str | Path,
    plots: bool = True,
) -> Path:
    """Write one self-contained HTML page: leaderboard, bar chart of the main metrics, segments per model.

    results: label -> EvaluationResult (or its `to_dict()`), or leaderboard rows with a "model" key.
    """
    rows = _as_rows(results)
    columns, cells = _table(rows, None)
    parts = ["<h1>shoprec evaluation</h1>", _html_table(["model", *columns], cells)]
    if plots and columns:
        parts.append(f'<img alt="main metrics" src="data:image/png;base64,{_bar_chart(rows, columns)}">')
    for row in rows:
        segments = row.get("segments") or {}
        if segments:
            names = sorted({n for values in segments.values() for n in values})
            seg_cells = [[seg, *(_format(values.get(n)) for n in names)] for seg, values in segments.items()]
            parts += [
                f"<h2>{html.escape(str(row.get('model')))}: segments</h2>",
                _html_table(["segment", *names], seg_cells),
            ]
    style = "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}</style>"
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>shoprec report</title>{style}</head>"
    page += "<body>" + "\n".join(parts) + "</body></html>\n"
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out


def _format(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) and not math.isnan(value) else "-"
