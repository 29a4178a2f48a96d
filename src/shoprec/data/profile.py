"""A log's profile before anything is trained: sizes, activity quantiles, time, event mix, and advice.

Everything is computed with numpy over the interaction arrays (bincounts, quantiles, one sort for the
repeat rate), so profiling a 25M-event log costs about as much as loading it. The advice flags what will
hurt a model or an evaluation (most users with one event, no timestamps, a catalog mostly without events)
and suggests a split: temporal when the log has time, as production does (train on the past, test on
what came after).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np

from shoprec.data.dataset import Dataset

QUANTILES = (0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)
_DAY = 86_400


def profile_dataset(dataset: Dataset, warnings: list[str] | None = None) -> dict[str, Any]:
    """A JSON-ready profile of `dataset`; `warnings`: what the loader warned about, kept in the profile."""
    inter = dataset.interactions
    per_user, per_item = dataset.user_activity(), dataset.item_popularity()
    active_users, active_items = per_user[per_user > 0], per_item[per_item > 0]
    n = len(inter)
    pairs = np.unique(inter.users * np.int64(max(dataset.n_items, 1)) + inter.items).size if n else 0
    out: dict[str, Any] = {
        "events": n,
        "users": int(active_users.size),
        "items": int(active_items.size),
        "catalog_items": dataset.n_items,
        "cold_items": int(dataset.n_items - active_items.size),
        "cold_users": int(dataset.n_users - active_users.size),
        "density": float(n / max(active_users.size * active_items.size, 1)),
        "events_per_user": _quantiles(active_users),
        "events_per_item": _quantiles(active_items),
        "users_with_one_event": _share(int((active_users == 1).sum()), active_users.size),
        "items_with_under_5_events": _share(int((active_items < 5).sum()), active_items.size),
        "repeat_rate": _share(n - pairs, n),
        "event_types": _event_mix(dataset),
        "time": _time(inter.timestamps),
        "ratings": dataset.has_ratings,
        "item_features": dataset.item_features.names() if dataset.item_features else [],
        "user_features": dataset.user_features.names() if dataset.user_features else [],
        "warnings": list(warnings or []),
    }
    out["suggested_split"], out["flags"] = advise(out)
    return out


def advise(profile: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """(the suggested split with its reason, what will hurt) from a profile's numbers."""
    median_user = profile["events_per_user"]["p50"]
    if profile["time"] is not None:
        split = {"method": "temporal", "why": "the log has timestamps: train on the past, test on the latest events"}
    elif median_user >= 3:
        split = {"method": "loo-random", "why": "no timestamps; most users have several events"}
    else:
        split = {"method": "random", "why": "no timestamps and few events per user"}
    flags = []
    one = profile["users_with_one_event"]
    if one > 0.5:
        flags.append(
            f"{one:.0%} of users have a single event: a per-user split (loo) leaves them nothing to learn from, "
            "and personal models fall back to popularity for them"
        )
    if profile["events"] < 1000:
        flags.append(f"only {profile['events']:,} events: metrics will be noisy; compare models with care")
    cold = profile["cold_items"] / max(profile["catalog_items"], 1)
    if cold > 0.2:
        features = "item features" if profile["item_features"] else "item features (the catalog has none)"
        flags.append(
            f"{cold:.0%} of catalog items have no events: only models with {features} or cold-start lists show them"
        )
    if profile["time"] is None:
        flags.append("no timestamps: no temporal split, no recency; add a time column if the log has one")
    if profile["repeat_rate"] > 0.5:
        flags.append(
            f"{profile['repeat_rate']:.0%} of events repeat a (user, item) pair: serving excludes seen items by "
            "default, so repeat purchases will not be recommended (exclude_seen = false in the pipeline)"
        )
    if profile["density"] > 0.2 and profile["items"] > 50:
        flags.append(f"density {profile['density']:.1%} is unusually high for a shop log: is it pre-aggregated?")
    return split, flags


def _quantiles(counts: np.ndarray) -> dict[str, float]:
    if not counts.size:
        return {}
    values = np.quantile(counts, QUANTILES)
    names = ["min", "p25", "p50", "p75", "p90", "p99", "max"]
    return {name: float(v) for name, v in zip(names, values, strict=True)} | {"mean": float(counts.mean())}


def _share(part: int, whole: int) -> float:
    return float(part / whole) if whole else 0.0


def _event_mix(dataset: Dataset) -> dict[str, dict[str, float]]:
    """{type: {"events": count, "share": fraction}} in the data set's type order."""
    events = dataset.interactions.events
    if events is None or not dataset.event_types:
        return {}
    counts = np.bincount(events, minlength=len(dataset.event_types))
    total = max(int(counts.sum()), 1)
    return {t: {"events": int(c), "share": float(c / total)} for t, c in zip(dataset.event_types, counts, strict=True)}


def _time(timestamps: np.ndarray | None) -> dict[str, Any] | None:
    """First/last event (ISO, UTC), span in days and events per calendar day (mean, median, busiest)."""
    if timestamps is None or not len(timestamps):
        return None
    first, last = int(timestamps.min()), int(timestamps.max())
    per_day = np.bincount((timestamps - first) // _DAY)
    return {
        "first": _iso(first),
        "last": _iso(last),
        "days": round((last - first) / _DAY, 2),
        "events_per_day": {
            "mean": float(per_day.mean()),
            "median": float(np.median(per_day)),
            "max": int(per_day.max()),
            "days_without_events": int((per_day == 0).sum()),
        },
    }


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat().replace("+00:00", "Z")
