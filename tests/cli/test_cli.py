"""The CLI run for real, as a user would: subprocesses of `python -m shoprec` on the synthetic shop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ENV = {**os.environ, "SHOPREC_THREADS": "1"}


def shoprec(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "shoprec", *args], capture_output=True, text=True, env=ENV)
    if check and proc.returncode != 0:
        raise AssertionError(f"shoprec {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def ials_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "ials"
    shoprec(
        "train",
        "--data",
        "synthetic-shop",
        "--model",
        "ials",
        "--split",
        "loo",
        "--out",
        str(out),
        "--param",
        "epochs=4",
        "--param",
        "embedding_size=16",
        "--no-progress",
    )
    return out


def test_help_lists_every_command():
    text = shoprec("--help").stdout
    for command in ("datasets", "train", "evaluate", "recommend", "compare"):
        assert command in text


def test_datasets_list_names_every_registered_set():
    rows = json.loads(shoprec("datasets", "list", "--json").stdout)
    names = {r["name"] for r in rows}
    expected = {
        "ml-100k",
        "ml-1m",
        "ml-1m-ncf",
        "ml-latest-small",
        "amazon-beauty",
        "amazon-grocery",
        "frappe",
        "synthetic-shop",
    }
    assert expected <= names
    assert next(r for r in rows if r["name"] == "synthetic-shop")["status"] == "generated"


def test_train_writes_a_run_that_evaluate_reproduces(ials_run):
    assert (ials_run / "model" / "manifest.json").is_file()
    saved = json.loads((ials_run / "metrics.json").read_text())
    again = json.loads(shoprec("evaluate", str(ials_run), "--json").stdout)
    assert again["model"] == "ials" and again["dataset"] == "synthetic-shop" and again["protocol"] == "full"
    for key in ("hr@10", "ndcg@10", "recall@20", "coverage@10"):
        assert key in again["metrics"]
        assert again["metrics"][key] == pytest.approx(saved["metrics"][key], abs=1e-6)
    assert 0.0 < again["metrics"]["hr@10"] <= 1.0


def test_recommend_returns_n_unseen_items_for_a_known_user(ials_run):
    payload = json.loads(shoprec("recommend", str(ials_run), "--user", "u001", "-n", "5", "--json").stdout)
    assert payload["known_user"] is True
    assert len(payload["items"]) == 5
    scores = [row["score"] for row in payload["items"]]
    assert scores == sorted(scores, reverse=True)


def test_recommend_unknown_user_gets_cold_start_list(ials_run):
    payload = json.loads(shoprec("recommend", str(ials_run), "--user", "no-such-user", "-n", "3", "--json").stdout)
    assert payload["known_user"] is False and len(payload["items"]) == 3


def test_compare_prints_a_row_per_model(tmp_path):
    out = tmp_path / "board.md"
    rows = json.loads(
        shoprec(
            "compare", "--data", "synthetic-shop", "--models", "popularity,ease", "--json", "--out", str(out)
        ).stdout
    )
    assert [r["model"] for r in rows] == ["popularity", "ease"]
    assert rows[1]["metrics"]["ndcg@10"] > rows[0]["metrics"]["ndcg@10"]
    assert "popularity" in out.read_text()


def test_train_from_a_toml_config(tmp_path):
    config = tmp_path / "exp.toml"
    config.write_text('[data]\nname = "synthetic-shop"\n[split]\nmethod = "loo"\n[model]\nname = "popularity"\n')
    result = json.loads(shoprec("train", "--config", str(config), "--out", str(tmp_path / "run"), "--json").stdout)
    assert result["model"] == "popularity"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--data", "synthetic-shop", "--model", "nope", "--out", "x"], "unknown model 'nope'"),
        (["train", "--data", "no-such-data", "--model", "ials", "--out", "x"], "no-such-data"),
        (["evaluate", "/nonexistent/run"], "not a shoprec run directory"),
        (["train", "--data", "synthetic-shop", "--model", "ials", "--out", "x", "--param", "epochs=-1"], "epochs"),
    ],
)
def test_errors_are_one_clear_line_without_traceback(args, message):
    proc = shoprec(*args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_recommend_refuses_an_id_with_a_control_character(ials_run):
    proc = shoprec("recommend", str(ials_run), "--user", "u001\x07", check=False)
    assert proc.returncode == 2 and "not a valid id" in proc.stderr and "--user" in proc.stderr
    assert "Traceback" not in proc.stderr
