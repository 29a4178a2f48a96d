"""Typer callbacks applying the id policy (`shoprec.ids`) to id options: a bad `--user` is a usage error
naming the option, exactly as the HTTP API refuses the same id with a 422."""

from __future__ import annotations

import typer

from shoprec.ids import id_problem


def id_option(value: str | None) -> str | None:
    """`callback=` of an optional id option (None passes)."""
    if value is not None:
        problem = id_problem(value)
        if problem is not None:
            raise typer.BadParameter(f"not a valid id: {problem}: {value!r}")
    return value


def id_list_option(values: list[str] | None) -> list[str] | None:
    """`callback=` of a repeatable id option."""
    for value in values or []:
        id_option(value)
    return values
