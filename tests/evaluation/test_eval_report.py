"""Leaderboard Markdown and the HTML report."""

from __future__ import annotations

import sys

import pytest

from shoprec.evaluation import EvaluationResult, leaderboard_markdown, write_html_report
from shoprec.exceptions import ShoprecError

ROWS = [
    {"model": "pop", "metrics": {"hr@10": 0.25, "ndcg@10": 0.1, "gini@10": 0.9}},
    {"model": "ials", "metrics": {"hr@10": 0.5, "ndcg@10": None, "gini@10": 0.4}},
]


def test_leaderboard_bolds_the_best_of_each_column():
    text = leaderboard_markdown(ROWS, ["hr@10", "ndcg@10", "gini@10"])
    assert text.splitlines() == [
        "| model | hr@10 | ndcg@10 | gini@10 |",
        "|---|---:|---:|---:|",
        "| pop | 0.2500 | **0.1000** | 0.9000 |",
        "| ials | **0.5000** | - | **0.4000** |",  # lower Gini is better; a missing value is "-"
    ]


def test_leaderboard_takes_flat_rows_and_default_columns():
    text = leaderboard_markdown([{"model": "a", "hr@10": 0.3, "coverage@10": 0.2}])
    assert text.splitlines()[0] == "| model | hr@10 | coverage@10 |"
    assert text.splitlines()[2] == "| a | **0.3000** | **0.2000** |"


def _result(hr: float) -> EvaluationResult:
    return EvaluationResult(
        metrics={"hr@10": hr, "ndcg@10": hr / 2},
        ci={"hr@10": (hr - 0.1, hr + 0.1)},
        segments={"users:history=1-5": {"n_users": 3.0, "hr@10": hr}},
        n_users=3,
        protocol="full",
        timings={"total": 0.1},
    )


def test_html_report_with_chart_and_segments(tmp_path):
    path = write_html_report({"pop": _result(0.2), "ials <b>": _result(0.4)}, tmp_path / "report.html")
    page = path.read_text()
    assert page.count('src="data:image/png;base64,') == 1
    assert "<td><b>0.4000</b></td>" in page and "<td>0.2000</td>" in page
    assert "users:history=1-5" in page and "ials &lt;b&gt;" in page  # labels are escaped


def test_html_report_without_plots_and_from_rows(tmp_path):
    page = write_html_report(ROWS, tmp_path / "r.html", plots=False).read_text()
    assert "<img" not in page and "<td>ials</td>" in page


def test_missing_matplotlib_names_the_plot_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # makes the import fail
    with pytest.raises(ShoprecError, match=r"shoprec\[plot\]"):
        write_html_report({"pop": _result(0.2)}, tmp_path / "r.html")
