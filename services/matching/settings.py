"""Settings of the matching service (``MATCHING_*`` beats ``MENTORSHIP_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.runtime.settings import ServiceSettings


class MatchingSettings(ServiceSettings):
    service_name: str = "matching"
    http_port: int = 8102
    programmes_file: Path | None = None
    proposal_ttl_hours: float = Field(
        default=72, gt=0, description="An unanswered proposal expires after this long."
    )
    expiry_sweep_seconds: float = Field(default=60, gt=0, description="How often expiry is checked.")
    pool_max_age_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How old this instance's copy of everyone may get before it is read again "
        "(profiles handled by other replicas arrive with the next read, which never takes more "
        "than a quarter of the instance's time).",
    )
    poor_fit_rating: int = Field(
        default=2, ge=1, le=5, description="A session rating at or below this offers a re-match."
    )
