"""Shared console helpers for the CLI: one rich console, one-line errors, key=value parameters."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from shoprec.exceptions import ShoprecError

#: Wide enough for the leaderboard when output goes to a file or pipe (rich assumes 80 columns there).
_WIDTH = None if sys.stdout.isatty() else 160
#: Markup off: messages and table cells hold user input (ids, paths, TOML keys like `[tune]`) shown as written.
console = Console(stderr=True, width=_WIDTH, markup=False)
stdout = Console(width=_WIDTH, markup=False)


def _one_line(label: str, style: str, message: object) -> Text:
    """`label message` as styled text (never parsed as markup), newlines folded so it stays one line."""
    parts = [line.strip() for line in str(message).splitlines() if line.strip()]
    return Text.assemble((label, style), " ", "; ".join(parts))


def print_error(message: object) -> None:
    """`error: <message>` as one line on stderr."""
    console.print(_one_line("error:", "bold red", message), highlight=False, soft_wrap=True)


def _show_warning(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> None:
    """Warnings as one line (`warning: ...`) instead of Python's file:line + source dump."""
    console.print(_one_line("warning:", "yellow", message), highlight=False, soft_wrap=True)


warnings.showwarning = _show_warning


@contextmanager
def report_errors() -> Iterator[None]:
    """Turn shoprec's own errors into `error: <message>` and exit code 2 instead of a traceback."""
    try:
        yield
    except ShoprecError as exc:
        print_error(exc)
        raise SystemExit(2) from None


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """`["embedding_size=64", "reg=0.01"]` -> {"embedding_size": 64, "reg": 0.01} (JSON values where they parse)."""
    params: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="--param")
        key, raw = pair.split("=", 1)
        try:
            params[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            params[key.strip()] = raw
    return params


def print_json(payload: Any) -> None:
    """Machine-readable output: one JSON object on stdout."""
    sys.stdout.write(json.dumps(payload, indent=2, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
