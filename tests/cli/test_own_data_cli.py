"""`--data PATH` on the CLI: train/compare/info from a folder, runs that refuse a changed file, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shoprec.cli.main import app
from shoprec.data.export import export_dataset
from shoprec.data.synthetic import generate_shop
from shoprec.experiment import ExperimentSpec

pytestmark = pytest.mark.filterwarnings("ignore:.*exact duplicate row")


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    export_dataset(generate_shop(n_users=60, n_items=30, n_events=900, seed=2), tmp_path / "shop", fmt="csv")
    return tmp_path / "shop"


def cli(*args: str, code: int = 0) -> str:
    """Everything the command printed (stdout and stderr)."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def cli_json(*args: str) -> object:
    """The command's stdout as JSON (progress and the column line go to stderr)."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_train_from_a_folder_records_the_data_and_later_commands_refuse_a_changed_file(
    shop: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    out = cli("train", "--data", shop, "--model", "popularity", "--split", "temporal", "--out", run, "--json")
    assert "columns (guessed from the header): user=user_id,item=item_id,time=ts,event=event_type" in out
    record = json.loads((run / "run.json").read_text())
    assert record["data_source"]["path"] == str(shop.resolve())
    assert record["data_source"]["columns"]["event"] == "event_type"
    assert record["spec"]["data_options"]["event_weights"] == {"view": 1.0, "cart": 3.0, "purchase": 5.0}
    cli("evaluate", run, "--json")
    cli("recommend", run, "--user", "u001", "--json")
    with (shop / "items.csv").open("a") as catalog:
        catalog.write("i999,c01,b01,1.0\n")
    for command in (["evaluate", run], ["recommend", run, "--user", "u001"]):
        out = cli(*command, code=2)
        assert f"data file changed since training: {(shop / 'items.csv').resolve()} (sha256" in out


def test_compare_and_info_take_a_path_and_the_profile_is_json(shop: Path) -> None:
    rows = cli_json("compare", "--data", shop, "--models", "popularity,item_knn", "--split", "temporal", "--json")
    assert [row["model"] for row in rows] == ["popularity", "item_knn"]
    info = cli_json("datasets", "info", shop / "events.csv", "--json")
    assert info["status"] == "local files"
    assert info["profile"]["cold_items"] == 0 and info["profile"]["catalog_items"] == info["profile"]["items"]
    assert set(info["profile"]) >= {"events_per_user", "time", "event_types", "repeat_rate", "flags", "warnings"}


def test_a_toml_data_path_with_columns_and_weights(shop: Path, tmp_path: Path) -> None:
    config = tmp_path / "exp.toml"
    config.write_text(
        f'[data]\npath = "{shop}"\n[data.columns]\nuser = "user_id"\nitem = "item_id"\n'
        '[data.event_weights]\nview = 1\ncart = 2\npurchase = 9\n[split]\nmethod = "temporal"\n'
        '[model]\nname = "popularity"\n'
    )
    cli("train", "--config", config, "--out", tmp_path / "run")
    record = json.loads((tmp_path / "run" / "run.json").read_text())["data_source"]
    assert record["event_weights"] == {"view": 1, "cart": 2, "purchase": 9}
    config.write_text(f'[data]\npath = "{shop}"\nname = "ml-100k"\n[model]\nname = "popularity"\n')
    assert "takes a registered `name` or a `path`" in cli("train", "--config", config, "--out", tmp_path / "r", code=2)


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--columns", "item=sku"], ["events.csv", "item=sku: no such column", "['user_id', 'item_id', 'event_type'"]),
        (["--columns", "user=user_id,item=user_id"], ["column 'user_id' given two roles (user, item)"]),
        (["--event-weights", "view=1,purchase=5"], ["column 'event_type'", "'cart'", "with --event-weights (TOML"]),
        (["--columns", "item"], ["--columns: expected key=value pairs"]),
    ],
)
def test_bad_mappings_are_one_line_naming_the_column(shop: Path, flags: list[str], words: list[str]) -> None:
    out = cli("datasets", "info", shop, *flags, code=2)
    lines = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    for word in words:
        assert word in " ".join(out.split())


def test_a_missing_path_or_mapping_flags_on_a_registered_set_are_one_line_errors(tmp_path: Path) -> None:
    out = cli("train", "--data", "events.csv", "--model", "ials", "--out", tmp_path / "r", code=2)
    assert "unknown data set 'events.csv': not a registered name" in out and "no such file or folder" in out
    out = cli("datasets", "info", "synthetic-shop", "--columns", "user=u", code=2)
    assert "apply to a path, not to the data set 'synthetic-shop'" in out


def test_a_run_from_own_event_types_serves_with_the_same_weights(tmp_path: Path) -> None:
    from shoprec.serving.pipeline import PipelineConfig, write_pipeline

    log = tmp_path / "clicks.csv"
    rows = [f"u{u},i{(u * 7 + k) % 12},{'order' if k % 4 == 0 else 'click'},{1700000000 + 60 * (u * 9 + k)}"
            for u in range(20) for k in range(9)]  # fmt: skip
    log.write_text("visitor_id,product_id,action,ts\n" + "\n".join(rows) + "\n")
    run = tmp_path / "run"
    cli("train", "--data", log, "--event-weights", "click=1,order=4", "--model", "ials", "--param", "epochs=2",
        "--param", "embedding_size=8", "--split", "temporal", "--out", run, "--no-progress")  # fmt: skip
    pipeline = PipelineConfig.from_toml(write_pipeline(run, tmp_path / "pipeline"))
    assert pipeline.event_weights == {"click": 1.0, "order": 4.0}


def test_tune_data_flag_replaces_the_spec_data_and_best_toml_keeps_the_mapping(shop: Path, tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    spec = tmp_path / "tune.toml"
    spec.write_text(
        '[data]\nname = "synthetic-shop"\nn_users = 10\n[split]\nmethod = "temporal"\n[model]\nname = "ials"\n'
        'epochs = 1\n[tune]\nmetric = "ndcg@10"\ntrials = 1\n[tune.space]\nembedding_size = { choices = [4, 8] }\n'
    )
    out = cli("tune", spec, "--data", shop, "--columns", "user=user_id,item=item_id", "--out", tmp_path / "tuned")
    assert "columns (time, event guessed from the header): user=user_id,item=item_id,time=ts,event=event_type" in out
    best = ExperimentSpec.from_toml(tmp_path / "tuned" / "best.toml")
    assert best.data == str(shop) and best.data_options["columns"]["time"] == "ts"
    assert best.data_options["event_weights"] == {"view": 1.0, "cart": 3.0, "purchase": 5.0}
