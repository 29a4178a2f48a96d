"""`shoprec audience --pipeline P --item X | --category C --out users.csv`: a marketing audience as CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import typer

from shoprec.cli.console import console, report_errors
from shoprec.cli.id_options import id_list_option, id_option
from shoprec.cli.paths import check_input, check_output


def exact(score: float) -> str:
    """The shortest text that reads back as exactly this float, so a score copied from the file into
    --min-score keeps its own user (six decimals used to round it up and drop that user)."""
    return repr(float(score))


def audience(
    pipeline: Path = typer.Option(..., "--pipeline", help="pipeline.toml of the service (see `write_pipeline`)."),
    item: list[str] = typer.Option(
        None, "--item", help="Target item id (repeatable); or use --category.", callback=id_list_option
    ),
    category: str = typer.Option(None, "--category", help="Target every item of this category.", callback=id_option),
    size: int = typer.Option(1000, "--size", min=1, help="Most users to pick."),
    min_score: float = typer.Option(None, "--min-score", help="Keep only users scoring at least this."),
    exclude_purchased_days: float = typer.Option(
        0.0, "--exclude-purchased-days", min=0, help="Leave out users who bought a target item in the last N days."
    ),
    frequency_cap: int = typer.Option(
        None, "--frequency-cap", min=1, help="Leave out users already sent this many campaigns in the window."
    ),
    cap_window_days: float = typer.Option(7.0, "--cap-window-days", min=0, help="Window of the frequency cap."),
    campaign: str = typer.Option(
        None, "--campaign", help="Record the picked users as sent for this campaign.", callback=id_option
    ),
    out: Path = typer.Option(..., "--out", "-o", help="CSV file to write (columns user,score)."),
) -> None:
    """Pick the users most likely to want the items (or category) and write them best first as CSV."""
    from shoprec.serving.pipeline import PipelineConfig
    from shoprec.serving.results import AudienceRequest
    from shoprec.serving.service import RecommendationService

    with report_errors():
        check_input(pipeline, "--pipeline", folder=False, must_exist=False)
        check_output(out, "--out", folder=False)
        request = AudienceRequest(
            items=list(item or []),
            category=category,
            size=size,
            min_score=min_score,
            exclude_purchased_days=exclude_purchased_days,
            frequency_cap=frequency_cap,
            cap_window_days=cap_window_days,
            campaign=campaign,
        )
        with RecommendationService.open(PipelineConfig.from_toml(pipeline)) as service:
            members = service.audience(request)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["user", "score"])
        writer.writerows((user, exact(score)) for user, score in members)
    recorded = f"; recorded as sent for campaign {campaign!r}" if campaign else ""
    console.print(f"{len(members)} users written to {out}{recorded}")
