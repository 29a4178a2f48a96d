"""Warn or fail: the one switch between loading with a `DataWarning` and refusing with a `DataError`.

Loaders warn (naming what was dropped or changed, how many and where) where a reasonable user wants
the data loaded anyway; `strict=True` turns each of those warnings into a DataError. The switch is a
context variable so that helpers deep in a loader need no extra parameter.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import ParamSpec, TypeVar

from shoprec.exceptions import DataError, DataWarning

_STRICT: ContextVar[bool] = ContextVar("shoprec_strict_data", default=False)
P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def strict_data(enabled: bool = True) -> Iterator[None]:
    """Within the block, data warnings are raised as DataError (nesting never turns strictness off)."""
    token = _STRICT.set(_STRICT.get() or enabled)
    try:
        yield
    finally:
        _STRICT.reset(token)


def warn_data(
    message: str, *, path: str | Path | None = None, line: int | None = None, column: str | None = None
) -> None:
    """A DataWarning, or a DataError under `strict_data()`."""
    if _STRICT.get():
        raise DataError(f"{message} (an error because strict=True)", path=path, line=line, column=column)
    warnings.warn(DataWarning(message, path=path, line=line, column=column), stacklevel=3)


def with_strict(loader: Callable[P, R]) -> Callable[..., R]:
    """Give a loader a keyword `strict: bool = False` that runs it under `strict_data(strict)`."""

    @functools.wraps(loader)
    def wrapper(*args: P.args, strict: bool = False, **kwargs: P.kwargs) -> R:
        with strict_data(strict):
            return loader(*args, **kwargs)

    signature = inspect.signature(loader)
    strict = inspect.Parameter("strict", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=bool)
    wrapper.__signature__ = signature.replace(parameters=[*signature.parameters.values(), strict])  # type: ignore[attr-defined]
    return wrapper
