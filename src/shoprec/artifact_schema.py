"""Typed checks of the JSON files inside artifacts and runs: one clear ArtifactError per bad field, never a traceback.

Each loader declares the fields it reads (name, check, what was expected) and calls `check_fields` before
touching them, so a missing key or a value of the wrong type is reported as
`runs/x/model/state.json: field 'user_ids' missing; expected a list of strings` instead of a KeyError.
Plain checks, no pydantic: models must load without the serve extra.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shoprec.exceptions import ArtifactError


@dataclass(frozen=True)
class Field:
    """One JSON field: its name, a predicate over its value and what the predicate expects (for the message)."""

    name: str
    check: Callable[[Any], bool]
    expected: str
    required: bool = True


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_str(value: Any) -> bool:
    return isinstance(value, str)


def is_object(value: Any) -> bool:
    return isinstance(value, dict)


def is_list(value: Any) -> bool:
    return isinstance(value, list)


def is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """`check`, or JSON null."""
    return lambda value: value is None or check(value)


#: A kind of JSON value: what it is called in messages, and its check.
Kind = tuple[str, Callable[[Any], bool]]

INT: Kind = ("an integer >= 0", is_int)
NUMBER: Kind = ("a finite number", is_number)
STR: Kind = ("a string", is_str)
OBJECT: Kind = ("a JSON object", is_object)
LIST: Kind = ("a list", is_list)
STR_LIST: Kind = ("a list of strings", is_str_list)


def json_field(name: str, kind: Kind, *, nullable: bool = False, required: bool = True) -> Field:
    """A Field from one of the kinds above (INT, STR_LIST, ...), optionally also accepting null."""
    expected, check = kind
    if nullable:
        return Field(name, optional(check), f"{expected} or null", required)
    return Field(name, check, expected, required)


def check_fields(where: str | Path, doc: Any, fields: tuple[Field, ...], *, prefix: str = "") -> dict[str, Any]:
    """`doc` itself when it is an object whose fields pass; else ArtifactError naming `where` and the field."""
    if not isinstance(doc, dict):
        what = f"field {prefix.rstrip('.')!r}" if prefix else "the file"
        raise ArtifactError(f"{where}: {what} is {_shown(doc)}; expected a JSON object")
    for spec in fields:
        name = f"{prefix}{spec.name}"
        if spec.name not in doc:
            if spec.required:
                raise ArtifactError(f"{where}: field {name!r} missing; expected {spec.expected}")
            continue
        if not spec.check(doc[spec.name]):
            raise ArtifactError(f"{where}: field {name!r} is {_shown(doc[spec.name])}; expected {spec.expected}")
    return doc


def read_json(path: Path) -> Any:
    """A JSON file's value; ArtifactError naming the file when it is missing or not JSON."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc})") from None


def _shown(value: Any) -> str:
    """A short description of a bad value: its JSON type, and the value itself when it is small."""
    kind = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
    text = json.dumps(value, default=str)
    return f"{kind} {text}" if len(text) <= 40 else kind
