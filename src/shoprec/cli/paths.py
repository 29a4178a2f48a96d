"""Paths given on the command line, checked before any work starts (not after an hour of training)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from shoprec.exceptions import ConfigError


def check_output(path: Path, option: str, *, folder: bool) -> Path:
    """`path` if shoprec may write it: a folder (run directory) or a file, new or of the right kind, in a
    writable place. ConfigError naming the option otherwise."""
    kind = "a folder" if folder else "a file"
    if path.exists():
        if folder and not path.is_dir():
            raise ConfigError(f"{option} {path}: is an existing file; expected {kind} (new or existing)")
        if not folder and path.is_dir():
            raise ConfigError(f"{option} {path}: is a folder; expected {kind} to write")
        if not _writable(path if folder else path.parent) or not os.access(path, os.W_OK):
            raise ConfigError(f"{option} {path}: not writable")
        return path
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{option} {path}: {parent} is a file, so {kind} cannot be created under it")
    if not _writable(parent):
        raise ConfigError(f"{option} {path}: cannot create it, {parent} is not writable")
    return path


def _writable(folder: Path) -> bool:
    """Whether a file can be created in `folder`, by trying (permission bits say nothing for root, a
    read-only file system or /proc)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def check_input(path: Path, option: str, *, folder: bool, must_exist: bool = True) -> Path:
    """`path` if it is a folder (`folder=True`) or a file; ConfigError naming the option otherwise.

    must_exist=False leaves a missing path to the reader, whose message may say more (e.g. what to run).
    """
    kind = "a folder" if folder else "a file"
    if not path.exists():
        if not must_exist:
            return path
        raise ConfigError(f"{option} {path}: not found; expected {kind}")
    if path.is_dir() != folder:
        raise ConfigError(f"{option} {path}: is {'a file' if folder else 'a folder'}; expected {kind}")
    return path
