"""Downloads over a local HTTP server and file:// URLs: checksums, an undamaged cache, zip extraction."""

from __future__ import annotations

import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import ClassVar

import pytest

from shoprec.data.sources import cache_dir, fetch
from shoprec.exceptions import DataError

PAYLOAD = b"user,item\n1,2\n" * 1000
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        QuietHandler.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, folder it serves) of an HTTP server on 127.0.0.1, stopped after the test."""
    root = tmp_path / "served"
    root.mkdir()
    QuietHandler.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_http_download_is_verified_and_cached(served: tuple[str, Path], tmp_path: Path) -> None:
    base, root = served
    (root / "data.csv").write_bytes(PAYLOAD)
    path = fetch(f"{base}/data.csv", SHA, tmp_path / "cache")
    assert path == tmp_path / "cache" / "data.csv"
    assert path.read_bytes() == PAYLOAD
    assert fetch(f"{base}/data.csv", SHA, tmp_path / "cache", filename="data.csv") == path
    assert QuietHandler.requests == ["/data.csv"]  # the second call found the verified file


def test_file_url_with_md5(tmp_path: Path) -> None:
    source = tmp_path / "src.bin"
    source.write_bytes(PAYLOAD)
    md5 = hashlib.md5(PAYLOAD, usedforsecurity=False).hexdigest()
    path = fetch(source.as_uri(), None, tmp_path / "cache", filename="copy.bin", md5=md5)
    assert path.read_bytes() == PAYLOAD


def test_checksum_mismatch_keeps_the_cache_as_it_was(served: tuple[str, Path], tmp_path: Path) -> None:
    base, root = served
    (root / "data.csv").write_bytes(PAYLOAD)
    cache = tmp_path / "cache"
    with pytest.raises(
        DataError, match=f"checksum mismatch for {base}/data.csv: expected sha256 {'0' * 64}, got sha256 {SHA}"
    ):
        fetch(f"{base}/data.csv", "0" * 64, cache)
    assert list(cache.iterdir()) == []  # no partial file left behind
    (cache / "data.csv").write_bytes(b"an older copy")
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch(f"{base}/data.csv", "1" * 64, cache)
    assert (cache / "data.csv").read_bytes() == b"an older copy"
    assert sorted(p.name for p in cache.iterdir()) == ["data.csv"]


def test_missing_url_is_a_data_error(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    with pytest.raises(DataError, match=r"cannot download .*/nothing\.zip"):
        fetch(f"{base}/nothing.zip", None, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_zip_is_extracted_once(tmp_path: Path) -> None:
    archive = tmp_path / "ml-tiny.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ml-tiny/u.data", "1\t2\t3\t4\n")
    cache = tmp_path / "cache"
    assert fetch(archive.as_uri(), hashlib.sha256(archive.read_bytes()).hexdigest(), cache) == cache
    extracted = cache / "ml-tiny" / "u.data"
    assert extracted.read_text() == "1\t2\t3\t4\n"
    extracted.write_text("edited")
    fetch(archive.as_uri(), None, cache)
    assert extracted.read_text() == "edited"
    assert fetch(archive.as_uri(), None, cache, extract=False) == cache / "ml-tiny.zip"


def test_zip_members_outside_the_folder_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escaped.txt", "x")
    with pytest.raises(DataError, match=r"'\.\./escaped\.txt' would be written outside"):
        fetch(archive.as_uri(), None, tmp_path / "cache")
    assert not (tmp_path / "escaped.txt").exists()


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHOPREC_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("SHOPREC_CACHE_DIR")
    assert cache_dir() == Path.home() / ".cache" / "shoprec"
