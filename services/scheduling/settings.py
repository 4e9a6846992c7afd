"""Settings of the scheduling service (``SCHEDULING_*`` beats ``MENTORSHIP_*``)."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

from pydantic import Field

from services.runtime.settings import ServiceSettings
from services.scheduling.slots import WorkingHours


class SchedulingSettings(ServiceSettings):
    service_name: str = "scheduling"
    http_port: int = 8103
    horizon_days: int = Field(default=14, ge=1, le=90, description="How far ahead a first session is sought.")
    min_notice_hours: float = Field(
        default=24, ge=0, description="No session sooner than this after a match."
    )
    session_minutes: int = Field(default=45, ge=15, le=240)
    # 08:00-20:00 rather than 09:00-18:00: a pair as far apart as UTC-8 and UTC+5:30 shares the
    # edges of both working days (evening for one, early morning for the other) and nothing else.
    working_start: time = time(8)
    working_end: time = time(20)
    reminder_leads_minutes: list[int] = Field(default_factory=lambda: [24 * 60, 60])
    sweep_seconds: float = Field(default=30, gt=0, description="How often reminders and nudges are checked.")
    invite_domain: str = "mentorship.local"
    programmes_file: Path | None = None

    @property
    def working_hours(self) -> WorkingHours:
        return WorkingHours(start=self.working_start, end=self.working_end)

    @property
    def reminder_leads(self) -> tuple[timedelta, ...]:
        return tuple(timedelta(minutes=m) for m in self.reminder_leads_minutes)
