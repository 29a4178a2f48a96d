"""Artifacts on disk: safetensors for arrays, JSON for everything else, a manifest of SHA-256 checksums for both.

Nothing a user loads is ever unpickled. The manifest is required and lists every file of the artifact with
its checksum; loading refuses a missing manifest, a listed file that is missing or differs, and any file the
manifest does not list. Checksums detect corruption; only a signature is tamper protection: with
`SHOPREC_ARTIFACT_KEY` set, manifests are HMAC-SHA256-signed when written and refused unsigned or wrongly
signed when read (whoever can edit an artifact can also recompute its checksums, but not the signature).

Layout of an artifact directory:
    manifest.json       {"format": "shoprec-artifact", "format_version": 1, "kind": ..., "shoprec_version": ...,
                         "files": {name: sha256}, "signature": {"algorithm": "hmac-sha256", "value": hex}?}
    tensors.safetensors named arrays (floating-point ones must be finite)
    state.json          JSON-able state (configs, vocabularies, ...)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from shoprec import __version__
from shoprec.artifact_schema import INT, STR, Field, check_fields, json_field, read_json
from shoprec.exceptions import ArtifactError, ConfigError

FORMAT = "shoprec-artifact"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TENSORS = "tensors.safetensors"
STATE = "state.json"
KEY_ENV = "SHOPREC_ARTIFACT_KEY"
ALGORITHM = "hmac-sha256"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_MANIFEST_FIELDS = (
    json_field("kind", STR),
    json_field("format_version", INT),
    json_field("shoprec_version", STR),
    Field("files", lambda v: isinstance(v, dict), "a JSON object of file name -> SHA-256 hex digest"),
    Field("signature", lambda v: isinstance(v, dict), f"an object {{'algorithm': {ALGORITHM!r}, 'value': hex}}", False),
)
_SIGNATURE_FIELDS = (
    Field("algorithm", lambda v: v == ALGORITHM, repr(ALGORITHM)),
    Field("value", lambda v: isinstance(v, str) and bool(_HEX64.fullmatch(v)), "64 hex digits"),
)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact_key(environ: Mapping[str, str] | None = None) -> bytes | None:
    """The signing key from SHOPREC_ARTIFACT_KEY (None when unset); set but empty is a ConfigError."""
    env = os.environ if environ is None else environ
    raw = env.get(KEY_ENV)
    if raw is None:
        return None
    if not raw.strip():
        raise ConfigError(f"{KEY_ENV} is set but empty: set it to a secret key to sign artifacts, or unset it")
    return raw.encode()


def signature(manifest: Mapping[str, Any], key: bytes) -> str:
    """HMAC-SHA256 of the canonical manifest (sorted keys, no whitespace, without its signature)."""
    body = {k: v for k, v in manifest.items() if k != "signature"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def write_manifest(root: Path, *, kind: str, files: Collection[str]) -> dict[str, Any]:
    """Write `root/manifest.json` listing `files` (paths relative to root) with checksums; signed when keyed."""
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "shoprec_version": __version__,
        "files": {name: sha256_file(root / name) for name in sorted(files)},
    }
    key = artifact_key()
    if key is not None:
        manifest["signature"] = {"algorithm": ALGORITHM, "value": signature(manifest, key)}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def write_artifact(path: str | Path, *, kind: str, tensors: dict[str, np.ndarray], state: dict[str, Any]) -> Path:
    """Write an artifact atomically: files go to a temporary sibling directory that is renamed into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
        save_file(arrays, str(tmp / TENSORS))
        (tmp / STATE).write_text(json.dumps(state, sort_keys=True))
        write_manifest(tmp, kind=kind, files=(TENSORS, STATE))
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


def read_manifest(path: str | Path, *, kind: str | None = None) -> dict[str, Any]:
    """The manifest of an artifact directory: format, fields and (with SHOPREC_ARTIFACT_KEY set) signature checked."""
    root = Path(path)
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(f"{root}: not a shoprec artifact (no {MANIFEST}; every artifact and run needs one)")
    manifest = read_json(manifest_path)
    if isinstance(manifest, dict) and manifest.get("format") != FORMAT:
        raise ArtifactError(f"{manifest_path}: expected format {FORMAT!r}, got {manifest.get('format')!r}")
    check_fields(manifest_path, manifest, _MANIFEST_FIELDS)
    if manifest["format_version"] > FORMAT_VERSION:
        raise ArtifactError(f"{manifest_path}: format version {manifest['format_version']} is newer than supported")
    for name, digest in manifest["files"].items():
        if not _plain_name(name) or not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise ArtifactError(
                f"{manifest_path}: field 'files' entry {name!r} is invalid; "
                "expected a relative path inside the artifact -> a SHA-256 hex digest"
            )
    if kind is not None and manifest["kind"] != kind:
        raise ArtifactError(f"{root}: expected an artifact of kind {kind!r}, got {manifest['kind']!r}")
    _check_signature(manifest_path, manifest)
    return manifest


def _check_signature(manifest_path: Path, manifest: dict[str, Any]) -> None:
    key = artifact_key()
    if key is None:
        return  # checksums only: corruption is detected, deliberate edits are not
    if "signature" not in manifest:
        raise ArtifactError(
            f"{manifest_path}: unsigned, and {KEY_ENV} is set so every artifact must be signed with it "
            "(save it again with the key set)"
        )
    check_fields(manifest_path, manifest["signature"], _SIGNATURE_FIELDS, prefix="signature.")
    if not hmac.compare_digest(manifest["signature"]["value"], signature(manifest, key)):
        raise ArtifactError(
            f"{manifest_path}: signature does not match {KEY_ENV} (signed with another key, or modified after signing)"
        )


def _plain_name(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts and name != MANIFEST


def verify_directory(
    path: str | Path, *, kind: str | None = None, required: Collection[str] = (), recursive: bool = True
) -> dict[str, Any]:
    """Check the manifest, that it lists exactly the directory's files (`recursive`: also those in sub-folders;
    else the top-level ones), that `required` are among them and that every checksum matches; returns it."""
    root = Path(path)
    manifest = read_manifest(root, kind=kind)
    listed = manifest["files"]
    absent = sorted(set(required) - set(listed))
    if absent:
        raise ArtifactError(f"{root / MANIFEST}: field 'files' does not list {absent}; the artifact is incomplete")
    found = root.rglob("*") if recursive else root.iterdir()
    extra = sorted(p.relative_to(root).as_posix() for p in found if p.is_file()) if root.is_dir() else []
    extra = [name for name in extra if name != MANIFEST and name not in listed]
    if extra:
        raise ArtifactError(
            f"{root / extra[0]}: not listed in {MANIFEST}; an artifact may hold only the files its manifest lists"
        )
    for name, expected in listed.items():
        file = root / name
        if not file.is_file():
            raise ArtifactError(f"{file}: missing from the artifact (listed in {MANIFEST})")
        actual = sha256_file(file)
        if actual != expected:
            raise ArtifactError(
                f"{file}: checksum mismatch (expected {expected[:12]}…, got {actual[:12]}…); "
                "the artifact is corrupt or was modified"
            )
    return manifest


def read_artifact(
    path: str | Path, *, kind: str | None = None, allow_nonfinite: Collection[str] = ()
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict]:
    """Verify manifest, files and checksums, then return (manifest, tensors, state).

    Floating-point tensors must be finite (no NaN or inf), except those named in `allow_nonfinite`."""
    root = Path(path)
    manifest = verify_directory(root, kind=kind, required=(TENSORS, STATE))
    try:
        tensors = load_file(str(root / TENSORS))
    except Exception as exc:  # safetensors raises its own error types
        raise ArtifactError(f"{root / TENSORS}: unreadable ({exc})") from None
    check_finite(root / TENSORS, tensors, skip=allow_nonfinite)
    state = check_fields(root / STATE, read_json(root / STATE), ())
    return manifest, tensors, state


def check_finite(where: Path, tensors: Mapping[str, np.ndarray], *, skip: Collection[str] = ()) -> None:
    """ArtifactError naming the first floating-point tensor holding NaN or inf (one vectorised pass per tensor)."""
    for name, array in tensors.items():
        if name not in skip and np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            raise ArtifactError(f"{where}: tensor {name!r} holds non-finite values (NaN or inf); refused")
