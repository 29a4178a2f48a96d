"""The `shoprec` command: thin typer commands, each calling one library function.

Errors that shoprec raises on purpose (ShoprecError) and usage errors are printed as one clear line with
exit code 2; anything else is a bug, summed up in one line with exit code 1 (SHOPREC_DEBUG=1: the traceback).
Help and messages are plain text, so brackets such as `[tune]` show as written (rich markup is off).
"""

from __future__ import annotations

import sys

import typer

from shoprec.cli import audience, compare, datasets, evaluate, recommend, serve, train, tune
from shoprec.cli.console import report_errors
from shoprec.cli.errors import ShoprecCommand, ShoprecGroup

app = typer.Typer(
    name="shoprec",
    help="Train, evaluate and serve recommendations for online shops.",
    cls=ShoprecGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
app.add_typer(datasets.app, name="datasets")
app.command("train", cls=ShoprecCommand)(train.train)
app.command("evaluate", cls=ShoprecCommand)(evaluate.evaluate)
app.command("recommend", cls=ShoprecCommand)(recommend.recommend)
app.command("compare", cls=ShoprecCommand)(compare.compare)
app.command("audience", cls=ShoprecCommand)(audience.audience)
app.command("tune", cls=ShoprecCommand)(tune.tune)
app.command("serve", cls=ShoprecCommand)(serve.serve)


def main() -> None:
    """Entry point used by `python -m shoprec`."""
    with report_errors():
        app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
