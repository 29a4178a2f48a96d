"""Runs and their artifacts refused when edited, incomplete, non-finite or malformed — through the Python API
and the CLI (`recommend`, `evaluate`, `serve --run`: one line, exit 2, no traceback)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.core.tamper import edit_json, poison_tensor, reseal
from tests.serving.shop import trained_run
from typer.testing import CliRunner

from shoprec.artifacts import KEY_ENV, MANIFEST, TENSORS
from shoprec.cli.main import app
from shoprec.exceptions import ArtifactError
from shoprec.experiment import load_run
from shoprec.serving.bundle import CATALOG_DIR, COLDSTART_DIR, load_bundle
from shoprec.serving.pipeline import BUNDLE_DIR, write_pipeline

KEY, OTHER = "run-key-0123456789abcdef", "not-the-run-key-0123456789"


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    return trained_run(tmp_path_factory.mktemp("trusted") / "run")


@pytest.fixture
def run(saved, tmp_path) -> Path:
    """A fresh copy of the trained run, for a test to edit."""
    return shutil.copytree(saved, tmp_path / "run")


def resealed(run: Path, *, key: bytes | None = None) -> None:
    """Fresh checksums for the model and the run after an edit (what anyone with write access can do)."""
    reseal(run / "model", key=key)
    reseal(run, key=key)


def _state(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def tamper(run: Path) -> None:
        edit_json(run / "model" / "state.json", change)
        resealed(run)

    return tamper


def _record(change: Callable[[dict], object], *, seal: bool = True) -> Callable[[Path], None]:
    def tamper(run: Path) -> None:
        edit_json(run / "run.json", change)
        if seal:
            reseal(run)

    return tamper


def _record_text(text: str) -> Callable[[Path], None]:
    def tamper(run: Path) -> None:
        (run / "run.json").write_text(text)
        reseal(run)

    return tamper


def _model_files(files: list[str]) -> Callable[[Path], None]:
    def tamper(run: Path) -> None:
        reseal(run / "model", files=files)
        reseal(run)

    return tamper


def _extra(name: str) -> Callable[[Path], None]:
    def tamper(run: Path) -> None:
        (run / name).write_text("{}")
        reseal(run)

    return tamper


def _nan(run: Path) -> None:
    poison_tensor(run / "model", "model.item_factors")
    resealed(run)


def _no_run_manifest(run: Path) -> None:
    (run / MANIFEST).unlink()


CASES = {
    "model manifest files {}": (_model_files([]), r"model/manifest\.json: field 'files' does not list \['state"),
    "model manifest missing an entry": (_model_files([TENSORS]), r"does not list \['state\.json'\]"),
    "unlisted file in the model": (_extra("model/extra.json"), r"model/extra\.json: not listed in manifest\.json"),
    "unlisted file in the run": (_extra("notes.json"), r"run/notes\.json: not listed in manifest\.json"),
    "edited run.json": (_record(lambda r: r["spec"].update(implicit_threshold=4.0), seal=False), "run.json: checksum"),
    "run manifest files {}": (lambda r: reseal(r, files=[]), r"does not list \['model/manifest\.json', 'run\.json'\]"),
    "run manifest without files": (lambda r: edit_json(r / MANIFEST, lambda m: m.pop("files")), "field 'files' miss"),
    "run without a manifest": (_no_run_manifest, r"run: not a shoprec artifact \(no manifest\.json"),
    "NaN item vectors": (_nan, "tensor 'model.item_factors' holds non-finite values"),
    "state.json without user_ids": (
        _state(lambda s: s.pop("user_ids")),
        "state.json: field 'user_ids' missing; expected a list of strings",
    ),
    "state.json without model": (_state(lambda s: s.pop("model")), "field 'model' missing; expected a string"),
    "state.json user_ids a number": (_state(lambda s: s.update(user_ids=5)), "field 'user_ids' is a number 5"),
    "state.json n_users a string": (_state(lambda s: s.update(n_users="150")), "field 'n_users' is a string"),
    "state.json ids of the wrong count": (_state(lambda s: s["item_ids"].pop()), "field 'item_ids' has 59 ids"),
    "state.json unknown model": (_state(lambda s: s.update(model="nope")), "field 'model': unknown model 'nope'"),
    "config without a known key": (
        _state(lambda s: s["config"].update(colour="red")),
        r"field 'config': IALSConfig: unknown parameter\(s\) \['colour'\]",
    ),
    "config of the wrong type": (
        _state(lambda s: s.update(config=["seed", 1])),
        "field 'config' is a list",
    ),
    "config value of the wrong type": (
        _state(lambda s: s["config"].update(embedding_size="big")),
        "field 'config': IALSConfig",
    ),
    "run.json without spec": (_record(lambda r: r.pop("spec")), "run.json: field 'spec' missing; expected a JSON obj"),
    "run.json spec without model": (_record(lambda r: r["spec"].pop("model")), "field 'spec.model' missing"),
    "run.json threshold a string": (
        _record(lambda r: r["spec"].update(implicit_threshold="high")),
        "field 'spec.implicit_threshold' is a string \"high\"; expected a finite number or null",
    ),
    "run.json ks not integers": (_record(lambda r: r["spec"].update(ks=["10"])), "field 'spec.ks' is a list"),
    "run.json fit_seconds a string": (_record(lambda r: r.update(fit_seconds="1s")), "field 'fit_seconds' is a str"),
    "run.json unknown spec setting": (
        _record(lambda r: r["spec"].update(colour="red")),
        r"field 'spec': unknown experiment setting\(s\) \['colour'\]",
    ),
    "run.json not an object": (_record_text("[]"), "run.json: the file is a list"),
    "run.json not JSON": (_record_text("{oops"), "run.json: not valid JSON"),
}


@pytest.mark.parametrize("case", CASES)
def test_python_api_refuses_with_one_clear_error(run, case):
    tamper, message = CASES[case]
    tamper(run)
    with pytest.raises(ArtifactError, match=message):
        load_run(run)


COMMANDS = {
    "recommend": lambda run: ["recommend", str(run), "--user", "u001"],
    "evaluate": lambda run: ["evaluate", str(run)],
    "serve --run": lambda run: ["serve", "--run", str(run)],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", CASES)
def test_cli_refuses_with_one_line_and_exit_2(run, case, command):
    tamper, message = CASES[case]
    tamper(run)
    result = CliRunner().invoke(app, COMMANDS[command](run))
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert re.search(message, lines[0]) and "Traceback" not in result.output


def test_a_real_cli_process_prints_one_line_without_traceback(run):
    _nan(run)
    for args in (COMMANDS["recommend"](run), COMMANDS["evaluate"](run)):
        proc = subprocess.run([sys.executable, "-m", "shoprec", *args], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.count("\n") == 1 and "non-finite" in proc.stderr and "Traceback" not in proc.stderr


def test_an_untouched_run_loads_and_recommends(run):
    spec, model = load_run(run)
    items, _ = model.recommend([0], 5)
    assert spec.model == "ials" and (items >= 0).all() and len(set(items[0].tolist())) == 5


# -- signing ---------------------------------------------------------------------------------------------------


@pytest.fixture
def signed(run, monkeypatch) -> Path:
    """The run signed with KEY, which the environment then holds."""
    resealed(run, key=KEY.encode())
    monkeypatch.setenv(KEY_ENV, KEY)
    return run


def test_a_signed_run_loads_with_its_key(signed):
    spec, _ = load_run(signed)
    assert spec.implicit_threshold is None
    assert json.loads((signed / MANIFEST).read_text())["signature"]["algorithm"] == "hmac-sha256"


def test_signed_then_edited_is_refused_even_with_fresh_checksums(signed):
    old = json.loads((signed / MANIFEST).read_text())["signature"]
    edit_json(signed / "run.json", lambda r: r["spec"].update(implicit_threshold=4.0))
    reseal(signed)
    edit_json(signed / MANIFEST, lambda m: m.update(signature=old))
    with pytest.raises(ArtifactError, match="signature does not match SHOPREC_ARTIFACT_KEY"):
        load_run(signed)


@pytest.mark.parametrize(
    ("sealing", "message"),
    [(None, "unsigned, and SHOPREC_ARTIFACT_KEY is set"), (OTHER.encode(), "signed with another key")],
)
@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_unsigned_or_wrong_key_is_refused_with_a_key_set(signed, sealing, message, command):
    reseal(signed / "model", key=sealing)
    reseal(signed, key=KEY.encode())  # even under a valid run signature the model's own is checked
    if command is None:
        with pytest.raises(ArtifactError, match=message):
            load_run(signed)
        return
    result = CliRunner().invoke(app, COMMANDS[command](signed))
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_a_key_set_while_saving_signs_every_file_of_a_run(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    run = trained_run(tmp_path / "signed", epochs=1)
    for folder in (run, run / "model"):
        assert len(json.loads((folder / MANIFEST).read_text())["signature"]["value"]) == 64
    assert set(json.loads((run / MANIFEST).read_text())["files"]) == {"run.json", "metrics.json", "model/manifest.json"}
    monkeypatch.setenv(KEY_ENV, OTHER)
    with pytest.raises(ArtifactError, match="signed with another key"):
        load_run(run)


# -- the serving bundle's JSON ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "change", "message"),
    [
        (CATALOG_DIR, lambda s: s.pop("ids"), "catalog/state.json: field 'ids' missing; expected a list of strings"),
        (CATALOG_DIR, lambda s: s.update(title="x"), "field 'title' is a string \"x\"; expected a list of strings"),
        (COLDSTART_DIR, lambda s: s.pop("prior"), "coldstart/state.json: field 'prior' missing; expected a finite"),
        (COLDSTART_DIR, lambda s: s.update(segment_field=3), "expected a string or null"),
    ],
)
def test_bundle_state_fields_are_checked(run, tmp_path, part, change, message):
    write_pipeline(run, tmp_path / "pipe")
    folder = tmp_path / "pipe" / BUNDLE_DIR / part
    edit_json(folder / "state.json", change)
    reseal(folder)
    _, model = load_run(run)
    with pytest.raises(ArtifactError, match=message):
        load_bundle(tmp_path / "pipe" / BUNDLE_DIR, model)
