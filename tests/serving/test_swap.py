"""POST /admin/swap on a real server whose artifacts are signed: only pipelines under the artifacts root, one
answer that reveals nothing for every refused path, tampered artifacts refused (409), nothing left on disk."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from tests.core.tamper import edit_json, poison_tensor, reseal
from tests.serving.server import Server, headers, shared_run

from shoprec.artifacts import KEY_ENV, MANIFEST, TENSORS
from shoprec.serving.bundle import COLDSTART_DIR
from shoprec.serving.pipeline import BUNDLE_DIR, PipelineConfig, write_pipeline

ADMIN = headers("admin")
KEY, OTHER = "swap-key-0123456789abcdef", "other-key-0123456789abcdef"
REFUSED = "is not a pipeline this server may swap to"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """The artifacts root: a signed copy of the shared run and the served pipeline's folder."""
    root = tmp_path_factory.mktemp("root")
    run = shutil.copytree(shared_run(tmp_path_factory), root / "run")
    reseal(run / "model", key=KEY.encode())
    reseal(run, key=KEY.encode())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, KEY)
        write_pipeline(run, root / "served")
    return root


@pytest.fixture(scope="module")
def server(root):
    with Server(root / "served" / "pipeline.toml", env={KEY_ENV: KEY}) as running:  # default root: beside it
        yield running


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=60.0) as http:
        yield http


def files_under(folder: Path) -> set[str]:
    return {str(p) for p in folder.rglob("*")}


def swap(client: httpx.Client, path: str | Path) -> httpx.Response:
    return client.post("/admin/swap", json={"pipeline": str(path)}, headers=ADMIN)


def candidate(root: Path, name: str, **changes: object) -> Path:
    """A pipeline folder under the root over a copy of the served model (with a store that does not exist yet)."""
    folder = root / name
    folder.mkdir()
    served = PipelineConfig.from_toml(root / "served" / "pipeline.toml")
    model = shutil.copytree(served.retrieval, folder / "model")
    config = replace(served, **{"retrieval": model, "store": folder / "events.sqlite", **changes})
    (folder / "pipeline.toml").write_text(config.to_toml(folder))
    return folder


def _signed(change: Callable[[Path], object]) -> Callable[[Path], None]:
    """An edit whose checksums and signature are made consistent again: only the structural check can tell."""

    def tamper(model: Path) -> None:
        change(model)
        reseal(model, key=KEY.encode())

    return tamper


def _state(change: Callable[[dict], object]) -> Callable[[Path], None]:
    return _signed(lambda model: edit_json(model / "state.json", change))


def _files(files: list[str]) -> Callable[[Path], None]:
    return lambda model: reseal(model, files=files, key=KEY.encode())


def _edited_keeping_signature(model: Path) -> None:
    old = (model / MANIFEST).read_text()
    edit_json(model / "state.json", lambda s: s["user_ids"].reverse())
    reseal(model)
    edit_json(model / MANIFEST, lambda m: m.update(signature=json.loads(old)["signature"]))


TAMPERED = {
    "manifest files {}": (_files([]), r"field 'files' does not list \['state.json', 'tensors.safetensors'\]"),
    "manifest missing an entry": (_files([TENSORS]), r"does not list \['state.json'\]"),
    "unlisted file": (lambda m: (m / "swapped_ids.json").write_text("[]"), "swapped_ids.json: not listed in manifest"),
    "NaN item vectors": (_signed(lambda m: poison_tensor(m, "model.item_factors")), "'model.item_factors' holds non"),
    "state.json without user_ids": (_state(lambda s: s.pop("user_ids")), "field 'user_ids' missing"),
    "state.json wrong type": (_state(lambda s: s.update(n_items=[1])), "field 'n_items' is a list"),
    "config wrong type": (_state(lambda s: s.update(config=1)), "field 'config' is a number"),
    "manifest without kind": (lambda m: edit_json(m / MANIFEST, lambda d: d.pop("kind")), "field 'kind' missing"),
    "signed then edited": (_edited_keeping_signature, "signature does not match SHOPREC_ARTIFACT_KEY"),
    "unsigned": (lambda m: reseal(m), "unsigned, and SHOPREC_ARTIFACT_KEY is set"),
    "wrong key": (lambda m: reseal(m, key=OTHER.encode()), "signed with another key"),
}


@pytest.mark.parametrize("case", TAMPERED)
def test_a_tampered_artifact_is_refused_and_leaves_nothing_on_disk(client, root, case):
    tamper, message = TAMPERED[case]
    folder = candidate(root, f"cand-{list(TAMPERED).index(case)}")
    tamper(folder / "model")
    before, version = files_under(root), client.get("/health").json()["version"]
    response = swap(client, folder / "pipeline.toml")
    assert response.status_code == 409, response.text
    assert re.search(message, response.json()["detail"]), response.text
    assert files_under(root) == before and not (folder / "events.sqlite").exists()
    assert client.get("/health").json()["version"] == version


def test_a_tampered_bundle_is_refused(client, root):
    folder = candidate(root, "cand-bundle")
    bundle = shutil.copytree(root / "served" / BUNDLE_DIR, folder / BUNDLE_DIR)
    edit_json(bundle / COLDSTART_DIR / "state.json", lambda s: s.pop("prior"))
    reseal(bundle / COLDSTART_DIR, key=KEY.encode())
    config = replace(PipelineConfig.from_toml(folder / "pipeline.toml"), bundle=bundle)
    (folder / "pipeline.toml").write_text(config.to_toml(folder))
    response = swap(client, folder / "pipeline.toml")
    assert response.status_code == 409 and "coldstart/state.json: field 'prior' missing" in response.json()["detail"]
    assert not (folder / "events.sqlite").exists()


def test_a_pipeline_under_the_root_is_swapped_in(client, root):
    folder = candidate(root, "good")
    response = swap(client, "good/pipeline.toml")  # relative: to the root
    assert response.status_code == 200, response.text
    assert client.get("/health").json()["version"] == response.json()["version"]
    assert (folder / "events.sqlite").is_file()


def _secrets(root: Path) -> Path:
    path = root / "secrets.toml"
    path.write_text('db_password = "hunter2"\n[payment_gateway]\napi_token = "tok-123"\n')
    return path


def _outside(root: Path) -> Path:
    return write_pipeline(root / "run", root.parent / f"{root.name}-outside")  # a valid pipeline beside the root


def _store_outside(root: Path) -> Path:
    folder = candidate(root, "store-outside", store=root.parent / f"{root.name}-elsewhere.sqlite")
    return folder / "pipeline.toml"


def _link_outside(root: Path) -> Path:
    link = root / "link.toml"
    link.symlink_to(_outside(root))
    return link


REFUSED_PATHS = {
    "outside the root": _outside,
    "store outside the root": _store_outside,
    "symlink to outside the root": _link_outside,
    "climbing out": lambda root: Path("..") / f"{root.name}-outside" / "pipeline.toml",
    "a TOML with secrets under the root": _secrets,
    "a folder under the root": lambda root: root / "run",
    "a binary file under the root": lambda root: root / "run" / "model" / TENSORS,
    "a system file": lambda root: Path("/etc/passwd"),
    "a missing file": lambda root: root / "no-such" / "pipeline.toml",
    "a NUL byte": lambda root: "pipeline\x00.toml",
}


@pytest.mark.parametrize("case", REFUSED_PATHS)
def test_refused_paths_get_one_answer_that_reveals_nothing_and_change_nothing(client, root, case):
    path = str(REFUSED_PATHS[case](root))
    outside = root.parent / f"{root.name}-outside"
    before = files_under(root) | files_under(outside)
    response = swap(client, path)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert (
        detail == f"body.pipeline: {str(path)!r} {REFUSED}: it must be a valid pipeline.toml under the server's "
        "artifacts root, naming only paths under it (the server log says why)"
    )
    for secret in ("db_password", "hunter2", "payment_gateway", "api_token", "root:", "retrieval", "store"):
        assert secret not in detail.replace(path, "")
    assert files_under(root) | files_under(outside) == before
    assert not (root.parent / f"{root.name}-elsewhere.sqlite").exists()
    assert not (outside / "events.sqlite").exists()


def test_the_server_log_says_why_a_swap_was_refused(client, root, server):
    swap(client, "/etc/passwd")
    assert "swap to '/etc/passwd' refused: outside the artifacts root" in server.log_tail()


def test_the_artifacts_root_comes_from_the_environment_or_swaps_are_off(root):
    from shoprec.exceptions import ConfigError
    from shoprec.serving.app import ServerSettings
    from shoprec.serving.routers.admin import pipeline_under_root

    assert ServerSettings.from_env({"SHOPREC_ARTIFACTS_ROOT": str(root)}).swap_root == root
    assert ServerSettings.from_env({}).swap_root is None
    with pytest.raises(ConfigError, match="SHOPREC_ARTIFACTS_ROOT must be an existing folder"):
        ServerSettings.from_env({"SHOPREC_ARTIFACTS_ROOT": str(root / "no-such")})
    with pytest.raises(ConfigError, match="no artifacts root, so it swaps to no pipeline"):
        pipeline_under_root(str(root / "served" / "pipeline.toml"), None)
    config = pipeline_under_root("served/pipeline.toml", root)
    assert config.store == root / "served" / "events.sqlite"
    with pytest.raises(ConfigError, match=REFUSED):  # the same pipeline, under a root that does not hold its run
        pipeline_under_root(str(root / "served" / "pipeline.toml"), root / "served")
