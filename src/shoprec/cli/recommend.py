"""`shoprec recommend RUN --user ID`: top-n items for one user of a saved run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from shoprec.cli.console import print_json, report_errors, stdout
from shoprec.cli.id_options import id_option


def recommend(
    run: Path = typer.Argument(..., help="Run directory written by `shoprec train`."),
    user: str = typer.Option(..., "--user", "-u", help="External user id as in the data set.", callback=id_option),
    n: int = typer.Option(10, "-n", help="Number of items.", min=1, max=1000),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recommend N items for USER; unknown users get the cold-start (popularity) list."""
    from shoprec.experiment import load_run

    with report_errors():
        _, model = load_run(run)
        index = model.user_vocab_.index_of(user)
        items, scores = model.recommend(np.array([index]), n)
    keep = items[0] >= 0
    ids = model.item_vocab_.external(items[0][keep]).tolist()
    rows = [
        {"rank": r + 1, "item": i, "score": float(s)} for r, (i, s) in enumerate(zip(ids, scores[0][keep], strict=True))
    ]
    if as_json:
        print_json({"user": user, "known_user": bool(index >= 0), "items": rows})
        return
    title = f"top {n} for user {user}" + ("" if index >= 0 else " (unknown user: cold-start list)")
    table = Table("rank", "item", "score", title=title)
    for row in rows:
        table.add_row(str(row["rank"]), row["item"], f"{row['score']:.4f}")
    stdout.print(table)
