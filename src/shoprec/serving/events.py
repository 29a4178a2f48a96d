"""Events as the service receives them, and the validation of a batch before anything is stored.

A batch is all-or-nothing: it is checked as a whole first, and the first bad event raises a DataError that
names its field and its position in the batch, before the store opens a transaction.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, fields
from operator import attrgetter

import numpy as np

from shoprec.exceptions import DataError
from shoprec.ids import all_valid, validate_id

#: The event type that marks a purchase (excluded from lists, and from audiences of recent buyers).
PURCHASE = "purchase"
#: One SQL row of the events table: (user, item, event, weight or None, timestamp).
EventRow = tuple[str, str, str, float | None, float]
#: Event timestamps may be at most this many seconds ahead of the server's clock (clock skew, time zones).
MAX_FUTURE_SECONDS = 86_400.0


@dataclass(frozen=True)
class Event:
    """One user action on an item; `weight` None lets the service apply its per-event-type weight."""

    user: str
    item: str
    event: str = "view"
    weight: float | None = None
    timestamp: float | None = None


_EVENT_FIELDS = tuple(f.name for f in fields(Event))


def check_id(field: str, value: object, where: str) -> str:
    """`value` when it is a valid id (`shoprec.ids`), else a DataError naming `field` and `where` it was."""
    return validate_id(value, field, where)


def check_number(field: str, value: object, where: str) -> float:
    """`value` as a float when it is a finite real number (not a bool), else a DataError naming `field`."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
        raise DataError(f"{where}: field {field!r} must be a finite number, got {value!r}", column=field)
    return float(value)


def event_rows(events: list[Event], allowed: frozenset[str] | None, now: float) -> Iterable[EventRow]:
    """Validate a batch and turn it into SQL rows; the first bad event raises, naming its field and position.

    Whole columns are checked with C-level set/numpy operations; only a batch that fails them (or holds values
    of other numeric types, e.g. numpy float32) takes the per-event path that converts or names the culprit.
    """
    users, items, kinds, weights, stamps = (list(map(attrgetter(f), events)) for f in _EVENT_FIELDS)
    if not (
        all(map(all_valid, (users, items, kinds)))
        and (allowed is None or allowed.issuperset(kinds))
        and _plain_finite(weights)
        and _plain_finite(stamps, at_most=now + MAX_FUTURE_SECONDS)
    ):
        return [_event_row(position, e, allowed, now) for position, e in enumerate(events)]
    if None in stamps:
        stamps = [now if t is None else t for t in stamps]
    return zip(users, items, kinds, weights, stamps, strict=True)


def _plain_finite(values: list[object], at_most: float = np.inf) -> bool:
    """True when every value is None, an int or a float, and the numbers are finite and at most `at_most`."""
    if not set(map(type, values)) <= {int, float, type(None)}:
        return False
    present = np.asarray([v for v in values if v is not None] if None in values else values, dtype=np.float64)
    return bool(np.isfinite(present).all() and (present <= at_most).all())


def _event_row(position: int, e: Event, allowed: frozenset[str] | None, now: float) -> EventRow:
    where = f"event {position} of the batch (nothing of the batch was written)"
    for field in ("user", "item", "event"):
        check_id(field, getattr(e, field), where)
    if allowed is not None and e.event not in allowed:
        raise DataError(f"{where}: field 'event' must be one of {sorted(allowed)}, got {e.event!r}", column="event")
    weight = None if e.weight is None else check_number("weight", e.weight, where)
    ts = now if e.timestamp is None else check_number("timestamp", e.timestamp, where)
    if ts > now + MAX_FUTURE_SECONDS:
        raise DataError(
            f"{where}: field 'timestamp' is more than a day ahead of the server's clock ({ts} > {now:.0f} + "
            f"{MAX_FUTURE_SECONDS:.0f} s)",
            column="timestamp",
        )
    return (e.user, e.item, e.event, weight, ts)
