"""A data profile (`shoprec.data.profile`) as terminal text: a few aligned sections, warnings and advice last."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from shoprec.cli.console import stdout


def print_profile(profile: dict[str, Any]) -> None:
    """Sizes, activity quantiles, time, event mix, then what the loader warned about and what will hurt."""
    out = stdout.print
    out("[bold]profile[/]", highlight=False)
    out(
        f"  {profile['events']:,} events, {profile['users']:,} users, {profile['items']:,} items "
        f"(catalog {profile['catalog_items']:,}, {profile['cold_items']:,} without events; "
        f"{profile['cold_users']:,} profiled users without events), "
        f"density {profile['density']:.4%}",
        highlight=False,
    )
    for what in ("events_per_user", "events_per_item"):
        quantiles = profile[what]
        if quantiles:
            shown = ", ".join(f"{k} {v:g}" for k, v in quantiles.items() if k != "mean")
            out(f"  {what.replace('_', ' ')}: {shown} (mean {quantiles['mean']:.1f})", highlight=False)
    out(
        f"  users with one event {profile['users_with_one_event']:.1%}; items with under 5 events "
        f"{profile['items_with_under_5_events']:.1%}; repeat rate {profile['repeat_rate']:.1%}",
        highlight=False,
    )
    time = profile["time"]
    if time is not None:
        per_day = time["events_per_day"]
        out(
            f"  time: {time['first']} .. {time['last']} ({time['days']:g} days); events per day: mean "
            f"{per_day['mean']:.1f}, median {per_day['median']:g}, max {per_day['max']:,}, "
            f"{per_day['days_without_events']} days without events",
            highlight=False,
        )
    if profile["event_types"]:
        mix = ", ".join(f"{t} {v['events']:,} ({v['share']:.1%})" for t, v in profile["event_types"].items())
        out(f"  event types: {mix}", highlight=False)
    for message in profile["warnings"]:
        out(f"  [yellow]loader warning:[/] {escape(message)}", highlight=False)
    split = profile["suggested_split"]
    out(f"  [bold]suggested split[/]: {split['method']} ({split['why']})", highlight=False)
    for flag in profile["flags"]:
        out(f"  [red]will hurt:[/] {escape(flag)}", highlight=False)
