"""Artifacts on disk: safetensors for arrays, JSON for everything else, SHA-256 checksums for both.

Nothing a user loads is ever unpickled. A manifest lists every file with its checksum; loading
verifies them all and refuses a corrupt or tampered artifact with `ArtifactError`.

Layout of an artifact directory:
    manifest.json       {"format": "shoprec-artifact", "format_version": 1, "kind": ..., "files": {name: sha256}, ...}
    tensors.safetensors named arrays
    state.json          JSON-able state (configs, vocabularies, ...)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from shoprec import __version__
from shoprec.exceptions import ArtifactError

FORMAT = "shoprec-artifact"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TENSORS = "tensors.safetensors"
STATE = "state.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_artifact(path: str | Path, *, kind: str, tensors: dict[str, np.ndarray], state: dict[str, Any]) -> Path:
    """Write an artifact atomically: files go to a temporary sibling directory that is renamed into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
        save_file(arrays, str(tmp / TENSORS))
        (tmp / STATE).write_text(json.dumps(state, sort_keys=True))
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": kind,
            "shoprec_version": __version__,
            "files": {name: sha256_file(tmp / name) for name in (TENSORS, STATE)},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        if target.exists():
            backup = target.with_name(f".{target.name}.old")
            shutil.rmtree(backup, ignore_errors=True)
            os.replace(target, backup)
            os.replace(tmp, target)
            shutil.rmtree(backup)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of an artifact directory, checked for format and version."""
    root = Path(path)
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(f"{root}: not a shoprec artifact (no {MANIFEST})")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{manifest_path}: corrupt manifest ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise ArtifactError(f"{manifest_path}: expected format {FORMAT!r}, got {manifest.get('format')!r}")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise ArtifactError(f"{manifest_path}: format version {manifest['format_version']} is newer than supported")
    return manifest


def read_artifact(path: str | Path, *, kind: str | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray], dict]:
    """Verify checksums, then return (manifest, tensors, state)."""
    root = Path(path)
    manifest = read_manifest(root)
    if kind is not None and manifest.get("kind") != kind:
        raise ArtifactError(f"{root}: expected an artifact of kind {kind!r}, got {manifest.get('kind')!r}")
    for name, expected in manifest.get("files", {}).items():
        file = root / name
        if not file.is_file():
            raise ArtifactError(f"{file}: missing from the artifact")
        actual = sha256_file(file)
        if actual != expected:
            raise ArtifactError(
                f"{file}: checksum mismatch (expected {expected[:12]}…, got {actual[:12]}…); "
                "the artifact is corrupt or was modified"
            )
    try:
        tensors = load_file(str(root / TENSORS))
        state = json.loads((root / STATE).read_text())
    except Exception as exc:  # safetensors raises its own error types
        raise ArtifactError(f"{root}: unreadable artifact ({exc})") from None
    return manifest, tensors, state
