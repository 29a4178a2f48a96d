"""Plain request/result values of the RecommendationService (the HTTP and CLI layers map them to JSON/CSV)."""

from __future__ import annotations

from dataclasses import dataclass, field

from shoprec.exceptions import ConfigError


@dataclass(frozen=True)
class Recommended:
    """One recommended item with a short human reason ("because you viewed X").

    Fields in the order of the HTTP schema (`schemas.RecommendedItem`), which serialises these directly."""

    item: str
    score: float
    title: str | None
    reason: str


@dataclass(frozen=True)
class RecommendationList:
    """A user's list; `source` says whether it came from their vector ("personal") or "cold_start".

    Fields in the order of the HTTP schema (`schemas.Recommendations`), which serialises these directly."""

    user: str
    source: str
    version: str
    items: list[Recommended]


@dataclass(frozen=True)
class AudienceRequest:
    """Who to target for some items or a category, and which users to leave out.

    exclude_purchased_days: leave out users who bought a target item in the last N days (0: none);
    frequency_cap: leave out users already sent this many campaigns (any campaign) in the last
    `cap_window_days`; campaign: record the picked users as sent for it (None: a dry run).
    """

    items: list[str] = field(default_factory=list)
    category: str | None = None
    size: int = 1000
    min_score: float | None = None
    exclude_purchased_days: float = 0.0
    frequency_cap: int | None = None
    cap_window_days: float = 7.0
    campaign: str | None = None

    def __post_init__(self) -> None:
        if bool(self.items) == (self.category is not None):
            raise ConfigError("audience: give either items or a category (exactly one of them)")
        if self.size < 1:
            raise ConfigError(f"audience: size must be >= 1, got {self.size}")
        if self.exclude_purchased_days < 0 or self.cap_window_days < 0:
            raise ConfigError("audience: exclude_purchased_days and cap_window_days must be >= 0")
        if self.frequency_cap is not None and self.frequency_cap < 1:
            raise ConfigError(f"audience: frequency_cap must be >= 1, got {self.frequency_cap}")
        if self.campaign is not None and not self.campaign.strip():
            raise ConfigError("audience: campaign must be a non-empty name")
