"""The one id policy: what a user, item, category, brand or campaign id may be, wherever it enters shoprec.

Ids are data, never structure. An id is 1-256 characters of printable text: no control characters (C0, DEL
and C1, NUL included), no lone surrogates (a str holding one is not valid UTF-8), no line or paragraph
separators (U+2028/2029) and no U+FFFD, the replacement character a decoder substitutes for bytes that were
not UTF-8 (so "%FF%FE" in a URL is refused rather than silently becoming another id). Every other character
is allowed, `/` included: HTTP routes take ids with `/` as percent-encoded path parameters (docs/serving/api.md).

The same rule is checked by the HTTP schemas, the CLI options, the event store and the data loaders
(`check_ids`: one C-level scan of a whole column), so an id accepted anywhere can be stored, replayed and
deleted everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from shoprec.exceptions import DataError

MAX_ID_LENGTH = 256
#: Characters no id may contain (see the module docstring).
_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\ufffd]")


def id_problem(value: object) -> str | None:
    """Why `value` is not a valid id (one short phrase), or None when it is one."""
    if not isinstance(value, str):
        return f"expected a string id, got {type(value).__name__}"
    if not 1 <= len(value) <= MAX_ID_LENGTH:
        return f"must be 1-{MAX_ID_LENGTH} characters, got {len(value)}"
    bad = _REFUSED.search(value)
    if bad is not None:
        return f"contains {_describe(bad.group())} at position {bad.start()} (ids are printable text)"
    return None


def validate_id(value: object, field: str, where: str | None = None) -> str:
    """`value` when it is a valid id, else a DataError naming `field` (and `where`, e.g. a batch position)."""
    problem = id_problem(value)
    if problem is not None:
        prefix = f"{where}: " if where else ""
        raise DataError(f"{prefix}field {field!r} {problem}: {value!r}", column=field)
    return value  # type: ignore[return-value]


def check_ids(values: Sequence[str] | np.ndarray, field: str, *, path: object = None, first_line: int = 1) -> None:
    """Vectorised `validate_id` over a column of ids (list or numpy str/object array) for loaders.

    The common case is one regex scan and one length pass over the whole column in C; only a column that fails
    is walked to name its first bad row, reported as line `first_line + position` of `path`."""
    column = values.tolist() if isinstance(values, np.ndarray) else list(values)
    if all_valid(column):
        return
    position, problem = next((k, p) for k, p in enumerate(map(id_problem, column)) if p is not None)
    raise DataError(f"{problem}: {column[position]!r}", path=path, line=first_line + position, column=field)


def all_valid(column: list[object]) -> bool:
    """True when every value is a valid id: a type pass, a length pass and one regex scan, all in C."""
    if not column:
        return True
    if not set(map(type, column)) <= {str}:
        return False
    lengths = np.fromiter(map(len, column), dtype=np.int64, count=len(column))
    return bool(lengths.min() >= 1 and lengths.max() <= MAX_ID_LENGTH) and _REFUSED.search("".join(column)) is None


def _describe(char: str) -> str:
    names = {"\x00": "NUL", "\ufffd": "U+FFFD (bytes that were not UTF-8)"}
    return names.get(char, f"character U+{ord(char):04X}")
