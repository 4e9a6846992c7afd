"""Settings of the recognition service (``RECOGNITION_*`` beats ``MENTORSHIP_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.runtime.settings import ServiceSettings


class RecognitionSettings(ServiceSettings):
    service_name: str = "recognition"
    http_port: int = 8105
    rules_file: Path | None = Field(
        default=None, description="JSON points and badge rules per programme; the defaults without it."
    )
    leaderboard_size: int = Field(default=100, ge=1, le=1000, description="Lines kept per leaderboard.")
    leaderboard_refresh_seconds: float = Field(
        default=10, gt=0, description="How often leaderboards touched by new points are rebuilt."
    )
    digest_seconds: float = Field(default=3600, gt=0, description="How often finished months are digested.")
    digest_lines: int = Field(default=10, ge=1, le=100, description="People named per digest.")
    programme_owners: dict[str, list[str]] = Field(
        default_factory=dict, description="Programme id to the person ids who receive its digest."
    )
