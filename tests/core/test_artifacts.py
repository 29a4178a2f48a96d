"""Artifacts: atomic writes, a manifest covering exactly their files, finite weights, typed fields, signing."""

import json
import re

import numpy as np
import pytest
from tests.core.tamper import edit_json, poison_tensor, reseal

from shoprec.artifacts import KEY_ENV, MANIFEST, STATE, TENSORS, read_artifact, write_artifact
from shoprec.exceptions import ArtifactError, ConfigError


def test_round_trip_and_manifest_checksums(tmp_path):
    path = write_artifact(tmp_path / "a", kind="model", tensors={"w": np.arange(6, dtype=np.float32)}, state={"x": 1})
    manifest, tensors, state = read_artifact(path, kind="model")
    assert tensors["w"].tolist() == list(range(6)) and state == {"x": 1}
    assert set(manifest["files"]) == {TENSORS, STATE}
    assert sorted(p.name for p in path.iterdir()) == sorted([MANIFEST, TENSORS, STATE])


def test_overwrite_replaces_atomically(tmp_path):
    write_artifact(tmp_path / "a", kind="model", tensors={"w": np.zeros(2, np.float32)}, state={"v": 1})
    write_artifact(tmp_path / "a", kind="model", tensors={"w": np.ones(2, np.float32)}, state={"v": 2})
    _, tensors, state = read_artifact(tmp_path / "a")
    assert state == {"v": 2} and tensors["w"].tolist() == [1, 1]
    assert [p.name for p in tmp_path.iterdir()] == ["a"]


def test_tampered_file_is_refused(tmp_path):
    path = write_artifact(tmp_path / "a", kind="model", tensors={"w": np.zeros(4, np.float32)}, state={})
    data = bytearray((path / TENSORS).read_bytes())
    data[-1] ^= 0xFF
    (path / TENSORS).write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        read_artifact(path)


def test_missing_or_foreign_artifacts_are_refused(tmp_path):
    with pytest.raises(ArtifactError, match="not a shoprec artifact"):
        read_artifact(tmp_path)
    (tmp_path / MANIFEST).write_text(json.dumps({"format": "other"}))
    with pytest.raises(ArtifactError, match="expected format"):
        read_artifact(tmp_path)
    path = write_artifact(tmp_path / "b", kind="pipeline", tensors={"w": np.zeros(1, np.float32)}, state={})
    with pytest.raises(ArtifactError, match="kind 'model'"):
        read_artifact(path, kind="model")


# -- the manifest must cover exactly the artifact's files ------------------------------------------------------


def _saved(tmp_path, **tensors):
    arrays = tensors or {"w": np.arange(4, dtype=np.float32)}
    return write_artifact(tmp_path / "a", kind="model", tensors=arrays, state={"x": 1})


@pytest.mark.parametrize(("files", "message"), [([], r"does not list \['state.json', 'tensors"), ([TENSORS], "'state")])
def test_a_manifest_listing_too_few_files_is_refused(tmp_path, files, message):
    path = _saved(tmp_path)
    reseal(path, files=files)  # checksums consistent with what it lists: only the coverage check can tell
    with pytest.raises(ArtifactError, match=message):
        read_artifact(path)


@pytest.mark.parametrize("name", ["notes.txt", "sub/extra.json"])
def test_a_file_the_manifest_does_not_list_is_refused(tmp_path, name):
    path = _saved(tmp_path)
    (path / name).parent.mkdir(exist_ok=True)
    (path / name).write_text("{}")
    with pytest.raises(ArtifactError, match=f"{name}: not listed in manifest.json"):
        read_artifact(path)


def test_a_listed_file_that_is_gone_is_refused(tmp_path):
    path = _saved(tmp_path)
    (path / STATE).unlink()
    with pytest.raises(ArtifactError, match=r"state\.json: missing from the artifact"):
        read_artifact(path)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_refused_unless_allowed(tmp_path, value):
    path = _saved(tmp_path, w=np.arange(4, dtype=np.float32), ids=np.arange(3))
    poison_tensor(path, "w", value)
    reseal(path)
    with pytest.raises(ArtifactError, match="tensor 'w' holds non-finite values"):
        read_artifact(path)
    _, tensors, _ = read_artifact(path, allow_nonfinite=("w",))
    assert not np.isfinite(tensors["w"][0]) and tensors["w"][1:].tolist() == [1, 2, 3]


# -- every manifest field checked, one clear error -------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.pop("files"), "field 'files' missing; expected a JSON object of file name -> SHA-256"),
        (lambda m: m.pop("kind"), "field 'kind' missing; expected a string"),
        (lambda m: m.pop("format_version"), "field 'format_version' missing; expected an integer >= 0"),
        (lambda m: m.pop("shoprec_version"), "field 'shoprec_version' missing"),
        (lambda m: m.update(files=["tensors.safetensors"]), "field 'files' is a list"),
        (lambda m: m.update(format_version="1"), "field 'format_version' is a string \"1\"; expected an integer"),
        (lambda m: m.update(kind=3), "field 'kind' is a number 3; expected a string"),
        (lambda m: m["files"].update({"../x": "0" * 64}), "entry '../x' is invalid"),
        (lambda m: m["files"].update({STATE: "not-hex"}), "entry 'state.json' is invalid"),
        (lambda m: m.update(signature="abc"), "field 'signature' is a string"),
    ],
)
def test_malformed_manifest_fields_are_named(tmp_path, change, message):
    path = _saved(tmp_path)
    edit_json(path / MANIFEST, change)
    with pytest.raises(ArtifactError, match=re.escape(message)) as info:
        read_artifact(path)
    assert str(path / MANIFEST) in str(info.value)


@pytest.mark.parametrize(("text", "message"), [("[1, 2]", "the file is a list"), ("{oops", "not valid JSON")])
def test_a_manifest_or_state_that_is_no_json_object_is_named(tmp_path, text, message):
    path = _saved(tmp_path)
    (path / MANIFEST).write_text(text)
    with pytest.raises(ArtifactError, match=message):
        read_artifact(path)
    path = _saved(tmp_path)
    (path / STATE).write_text(text)
    reseal(path)
    with pytest.raises(ArtifactError, match=f"state.json: {message}"):
        read_artifact(path)


# -- signing ---------------------------------------------------------------------------------------------------

KEY, OTHER = "k3y-for-tests-0123456789", "another-key-0123456789"


def test_with_a_key_artifacts_are_signed_and_verified(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    path = _saved(tmp_path)
    manifest, tensors, _ = read_artifact(path)
    assert manifest["signature"]["algorithm"] == "hmac-sha256" and len(manifest["signature"]["value"]) == 64
    assert tensors["w"].tolist() == [0, 1, 2, 3]
    monkeypatch.delenv(KEY_ENV)
    assert read_artifact(path)[2] == {"x": 1}  # without the key: checksums only


def test_signed_then_edited_is_refused_even_with_fresh_checksums(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    path = _saved(tmp_path)
    signed = json.loads((path / MANIFEST).read_text())["signature"]
    edit_json(path / STATE, lambda s: s.update(x=2))
    reseal(path)
    edit_json(path / MANIFEST, lambda m: m.update(signature=signed))  # the old signature kept
    with pytest.raises(ArtifactError, match="signature does not match SHOPREC_ARTIFACT_KEY"):
        read_artifact(path)
    monkeypatch.delenv(KEY_ENV)
    assert read_artifact(path)[2] == {"x": 2}  # what unkeyed checksums cannot catch


def test_unsigned_or_wrongly_signed_artifacts_are_refused_when_a_key_is_set(tmp_path, monkeypatch):
    path = _saved(tmp_path)  # no key: unsigned
    monkeypatch.setenv(KEY_ENV, KEY)
    with pytest.raises(ArtifactError, match="unsigned, and SHOPREC_ARTIFACT_KEY is set"):
        read_artifact(path)
    reseal(path, key=OTHER.encode())
    with pytest.raises(ArtifactError, match="signed with another key, or modified after signing"):
        read_artifact(path)
    reseal(path, key=KEY.encode())
    assert read_artifact(path)[2] == {"x": 1}


def test_a_malformed_signature_or_an_empty_key_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    path = _saved(tmp_path)
    edit_json(path / MANIFEST, lambda m: m["signature"].update(algorithm="md5"))
    expected = re.escape("field 'signature.algorithm' is a string \"md5\"; expected 'hmac-sha256'")
    with pytest.raises(ArtifactError, match=expected):
        read_artifact(path)
    monkeypatch.setenv(KEY_ENV, " ")
    with pytest.raises(ConfigError, match="SHOPREC_ARTIFACT_KEY is set but empty"):
        _saved(tmp_path)
