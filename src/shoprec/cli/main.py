"""The `shoprec` command: thin typer commands, each calling one library function.

Errors that shoprec raises on purpose (ShoprecError) are printed as one clear line with exit code 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer

from shoprec.cli import audience, compare, datasets, evaluate, recommend, serve, train, tune
from shoprec.cli.console import report_errors

app = typer.Typer(
    name="shoprec",
    help="Train, evaluate and serve recommendations for online shops.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(datasets.app, name="datasets")
app.command("train")(train.train)
app.command("evaluate")(evaluate.evaluate)
app.command("recommend")(recommend.recommend)
app.command("compare")(compare.compare)
app.command("audience")(audience.audience)
app.command("tune")(tune.tune)
app.command("serve")(serve.serve)


def main() -> None:
    """Entry point used by `python -m shoprec`."""
    with report_errors():
        app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
