import json

import numpy as np
import pytest

from shoprec.artifacts import MANIFEST, STATE, TENSORS, read_artifact, write_artifact
from shoprec.exceptions import ArtifactError


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
