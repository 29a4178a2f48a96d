"""How the CLI fails: every error is one line on stderr and an exit code, never a traceback.

`ShoprecGroup` wraps click's own handling so that usage errors (a bad option value, a missing option) read
like shoprec's errors; `ShoprecCommand` refuses NaN and infinity for every float option before the command
runs, so options added later are covered without code of their own.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from shoprec.cli.console import print_error, stdout
from shoprec.exceptions import ShoprecError

try:  # typer >= 0.20 carries its own copy of click; older ones use click itself
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer
    from click import exceptions as click_errors  # type: ignore[no-redef]

#: Set to see the traceback of an unexpected error (a bug) instead of its one-line summary.
DEBUG_ENV = "SHOPREC_DEBUG"


class ShoprecCommand(TyperCommand):
    """A command whose float options must be finite (click's float type takes 'nan' and 'inf')."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        for param in self.params:
            values = ctx.params.get(param.name or "")
            for value in values if isinstance(values, list | tuple) else [values]:
                if isinstance(value, float) and not math.isfinite(value):
                    raise typer.BadParameter(f"expected a finite number, got {value}", ctx=ctx, param=param)
        return rest


class ShoprecGroup(TyperGroup):
    """The `shoprec` group: runs a command and turns whatever it raises into one line and an exit code."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_errors.NoArgsIsHelpError as exc:  # `shoprec` alone: the help, as click shows it
            stdout.print(exc.format_message(), highlight=False)
            code = exc.exit_code
        except click_errors.ClickException as exc:
            print_error(_usage_message(exc))
            code = exc.exit_code
        except typer.Abort:
            print_error("aborted")
            code = 1
        except ShoprecError as exc:
            print_error(str(exc))
            code = 2
        except Exception as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            print_error(
                f"internal error ({type(exc).__name__}: {exc}); this is a bug in shoprec, please report it "
                f"(set {DEBUG_ENV}=1 to see the traceback)"
            )
            code = 1
        if not standalone_mode:
            return code
        sys.exit(code or 0)


def _usage_message(exc: click_errors.ClickException) -> str:
    """click's message plus where to read about the command, e.g. `(see: shoprec train --help)`."""
    ctx = getattr(exc, "ctx", None)
    hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
    return exc.format_message() + hint
