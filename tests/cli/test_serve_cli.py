"""`shoprec serve`: straight from a trained run directory, and one-line errors for a wrong invocation."""

from __future__ import annotations

import httpx
from tests.serving.server import Server, shared_run
from typer.testing import CliRunner

from shoprec.cli.main import app
from shoprec.models.base import Recommender


def test_serve_from_a_run_directory_writes_its_pipeline_and_answers(tmp_path_factory) -> None:
    run = shared_run(tmp_path_factory)
    user = Recommender.load(run / "model").user_vocab_.to_list()[0]
    with Server(run, flag="--run", keys=False) as server:
        health = httpx.get(server.url + "/health", timeout=10).json()
        listed = httpx.get(server.url + f"/recommendations/{user}", params={"n": 3}, timeout=10).json()
    assert (run / "pipeline" / "pipeline.toml").is_file()
    assert health["status"] == "ok" and health["items"] == 60
    assert listed["source"] == "personal" and len(listed["items"]) == 3


def test_serve_needs_exactly_one_source(tmp_path) -> None:
    runner = CliRunner()
    for args in ([], ["--pipeline", str(tmp_path / "p.toml"), "--run", str(tmp_path)]):
        result = runner.invoke(app, ["serve", *args])
        assert result.exit_code == 2
        assert "exactly one of --pipeline" in result.output


def test_serve_reports_a_missing_pipeline_file_in_one_line(tmp_path) -> None:
    result = CliRunner().invoke(app, ["serve", "--pipeline", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "pipeline file not found" in result.output
