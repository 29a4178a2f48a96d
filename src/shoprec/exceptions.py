"""One place for every error shoprec raises on purpose.

Messages name what is at fault (file, line, column, field or parameter) and what was expected, so that
the CLI can print them as one clear line instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path


class ShoprecError(Exception):
    """Base class: anything the CLI reports as a one-line error."""


class _LocatedError(Exception):
    """A message about input data prefixed with where it applies (file, line, column), which stay attributes."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.column = column
        super().__init__(_located(message, self.path, line, column))


class DataError(_LocatedError, ShoprecError, ValueError):
    """Input data is malformed; the message says where (file, line, column) and what was expected."""


class DataWarning(_LocatedError, UserWarning):  # noqa: N818 (a warning, named as warnings are)
    """Input data was loaded with something dropped or changed; the message says what, how much and where.

    `strict=True` on a loader (`--strict` on the CLI) raises these as DataError instead.
    """


def _located(message: str, path: str | None, line: int | None, column: str | None) -> str:
    """'<path>, line N, column 'c': message' with whichever parts are known."""
    where = [] if path is None else [path]
    if line is not None:
        where.append(f"line {line}")
    if column is not None:
        where.append(f"column {column!r}")
    return f"{', '.join(where)}: {message}" if where else message


class ConfigError(ShoprecError, ValueError):
    """A configuration or parameter value is invalid; the message names the field."""


class NotFittedError(ShoprecError, RuntimeError):
    """A model was asked to predict before `fit` (or `load`) gave it learned state."""


class ArtifactError(ShoprecError):
    """A saved artifact is missing, corrupt, tampered with or of an unknown kind."""


class NotFoundError(ShoprecError, LookupError):
    """A user, item or category named in a request is not known to the service."""
