"""Streaming download with checksum verification into a cache that a failed download never damages.

Bytes go to a temporary file beside the target while being hashed; only a verified file is renamed
into place (an atomic rename), so an interrupted or corrupt download leaves the cache as it was.
Works with http(s):// and file:// URLs. Zip archives are unpacked next to the file, once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from shoprec.exceptions import DataError

log = logging.getLogger(__name__)
_CHUNK = 1 << 20
_TIMEOUT_S = 60


def cache_dir() -> Path:
    """`$SHOPREC_CACHE_DIR`, or `~/.cache/shoprec`."""
    return Path(os.environ.get("SHOPREC_CACHE_DIR") or Path.home() / ".cache" / "shoprec")


def fetch(
    url: str,
    sha256: str | None,
    dest_dir: str | Path,
    *,
    filename: str | None = None,
    extract: bool = True,
    md5: str | None = None,
) -> Path:
    """Download `url` into `dest_dir` unless a file with the right checksum is already there.

    sha256 / md5: expected hex digests (GroupLens publishes only md5); with neither, the file is
    not verified and a warning is logged. Returns the file, or for a zip with `extract` the folder
    it was unpacked into (`dest_dir`). A checksum mismatch is a DataError; the partial file is removed.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / (filename or Path(urllib.parse.urlparse(url).path).name or "download")
    if not (target.is_file() and _matches(target, sha256, md5)):
        _download(url, target, sha256, md5)
        _marker(target).unlink(missing_ok=True)
    if extract and zipfile.is_zipfile(target):
        _extract(target, dest_dir)
        return dest_dir
    return target


def _digests(path: Path) -> tuple[str, str]:
    sha, md = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            sha.update(chunk)
            md.update(chunk)
    return sha.hexdigest(), md.hexdigest()


def _matches(path: Path, sha256: str | None, md5: str | None) -> bool:
    if sha256 is None and md5 is None:
        return True
    sha, md = _digests(path)
    return (sha256 is None or sha == sha256.lower()) and (md5 is None or md == md5.lower())


def _download(url: str, target: Path, sha256: str | None, md5: str | None) -> None:
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    partial_path = Path(partial)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            shutil.copyfileobj(response, out, _CHUNK)
        if sha256 is None and md5 is None:
            log.warning("%s: no checksum known, the download is not verified", url)
        elif not _matches(partial_path, sha256, md5):
            sha, md = _digests(partial_path)
            expected = f"sha256 {sha256}" if sha256 else f"md5 {md5}"
            raise DataError(f"checksum mismatch for {url}: expected {expected}, got sha256 {sha} / md5 {md}")
        partial_path.replace(target)
    except (urllib.error.URLError, OSError) as exc:
        raise DataError(f"cannot download {url}: {getattr(exc, 'reason', exc)}") from None
    finally:
        partial_path.unlink(missing_ok=True)


def _marker(archive: Path) -> Path:
    return archive.with_name(f".{archive.name}.extracted")


def _extract(archive: Path, dest_dir: Path) -> None:
    """Unpack once (a marker file records it); members that would land outside `dest_dir` are refused."""
    marker = _marker(archive)
    if marker.is_file():
        return
    root = dest_dir.resolve()
    with zipfile.ZipFile(archive) as zf:
        for member in zf.namelist():
            if not (root / member).resolve().is_relative_to(root):
                raise DataError(f"archive member {member!r} would be written outside {root}", path=archive)
        zf.extractall(root)
    marker.touch()
