"""Edits to saved artifacts and runs, as someone with write access (but without the signing key) could make them.

`reseal` recomputes a manifest's checksums after an edit: checksums alone then cannot tell, which is why only
a signature (SHOPREC_ARTIFACT_KEY) is tamper protection.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from shoprec.artifacts import ALGORITHM, MANIFEST, TENSORS, sha256_file, signature


def reseal(folder: Path, *, key: bytes | None = None, files: Iterable[str] | None = None) -> None:
    """Rewrite `folder`'s manifest with fresh checksums of `files` (default: those it lists), signed with `key`."""
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest.pop("signature", None)
    names = list(manifest["files"]) if files is None else list(files)
    manifest["files"] = {name: sha256_file(folder / name) for name in names}
    if key is not None:
        manifest["signature"] = {"algorithm": ALGORITHM, "value": signature(manifest, key)}
    (folder / MANIFEST).write_text(json.dumps(manifest))


def edit_json(path: Path, change: Callable[[dict[str, Any]], object]) -> None:
    """Apply `change` to the JSON object in `path` in place."""
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def poison_tensor(folder: Path, name: str, value: float = float("nan")) -> None:
    """Set the first entry of tensor `name` of an artifact to `value` (NaN by default)."""
    tensors = load_file(str(folder / TENSORS))
    array = np.array(tensors[name])
    array.reshape(-1)[0] = value
    tensors[name] = array
    save_file(tensors, str(folder / TENSORS))
