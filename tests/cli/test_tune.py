"""`shoprec tune` end to end, as a user runs it: tune on the synthetic shop, then train the written best.toml."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shoprec.cli.main import app

pytest.importorskip("optuna")

ENV = {**os.environ, "SHOPREC_THREADS": "1"}
SPEC = """
[experiment]
seed = 1
ks = [10]

[data]
name = "synthetic-shop"
n_users = 150
n_items = 80
n_events = 2000

[split]
method = "loo"

[model]
name = "ials"
epochs = 2

[tune]
metric = "ndcg@10"
trials = 10
sampler = "random"
seed = 0

[tune.space]
embedding_size = { choices = [4, 8] }
reg = { low = 1e-3, high = 1.0, log = true }
alpha = { low = 1.0, high = 8.0 }
"""


def shoprec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shoprec", *args], capture_output=True, text=True, env=ENV)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("tune")
    (root / "spec.toml").write_text(SPEC)
    proc = shoprec("tune", str(root / "spec.toml"), "--out", str(root / "tuned"), "--trials", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    return root, json.loads(proc.stdout)


def test_tune_writes_best_toml_and_one_csv_row_per_trial(tuned):
    root, payload = tuned
    assert payload["trials"] == 3 and payload["metric"] == "ndcg@10" and payload["direction"] == "maximize"
    with (root / "tuned" / "trials.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["number"] for r in rows] == ["0", "1", "2"]
    assert set(rows[0]) == {"number", "embedding_size", "reg", "alpha", "value", "state", "seconds"}
    assert all(r["state"] == "COMPLETE" and float(r["seconds"]) > 0 for r in rows)
    best = max(rows, key=lambda r: float(r["value"]))
    assert float(best["value"]) == pytest.approx(payload["best_value"])
    assert payload["best_params"] == {
        "epochs": 2,
        "embedding_size": int(best["embedding_size"]),
        "reg": pytest.approx(float(best["reg"])),
        "alpha": pytest.approx(float(best["alpha"])),
    }


def test_best_toml_trains_unchanged_with_the_best_params(tuned):
    root, payload = tuned
    run = root / "run"
    proc = shoprec("train", "--config", str(root / "tuned" / "best.toml"), "--out", str(run), "--json", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    saved = json.loads((run / "run.json").read_text())["spec"]
    assert saved["params"] == payload["best_params"] and saved["data"] == "synthetic-shop"
    assert saved["data_options"] == {"n_users": 150, "n_items": 80, "n_events": 2000}
    assert 0.0 <= json.loads(proc.stdout)["metrics"]["ndcg@10"] <= 1.0


def test_unknown_parameter_is_a_one_line_error_naming_it(tmp_path):
    """In process (no data is loaded before the space is checked, so this needs no subprocess)."""
    (tmp_path / "spec.toml").write_text(SPEC.replace("alpha = {", "dropout = {"))
    result = CliRunner().invoke(app, ["tune", str(tmp_path / "spec.toml"), "--out", str(tmp_path / "tuned")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: tune.space.dropout: not a parameter of IALSConfig; allowed names:")
    assert "'alpha'" in result.stderr and not (tmp_path / "tuned").exists()
