"""When a message may go out: quiet hours and the daily digest, in the person's own time zone.

Pure functions of an instant and a zone. Instants are aware UTC datetimes; local wall times
are turned into instants with zoneinfo, so a quiet period spanning a DST change still ends at
the local time the person chose. A local time that does not exist on a given day (inside the
spring-forward gap) is shifted forward by the length of the gap.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def _instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant a local wall time happens on ``day`` (inside a DST gap, shifted forward by
    the gap, as zoneinfo resolves it)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def in_quiet_hours(local: time, start: time, end: time) -> bool:
    """Whether a local time falls in [start, end), a window that may span midnight."""
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_until(now: datetime, zone: ZoneInfo, start: time, end: time) -> datetime | None:
    """When quiet hours that hold at ``now`` end, or None when ``now`` is not quiet."""
    local = now.astimezone(zone)
    if not in_quiet_hours(local.time(), start, end):
        return None
    day = local.date()
    # The window ends today at ``end`` if that is still ahead, otherwise tomorrow.
    if local.time() >= end:
        day += timedelta(days=1)
    return _instant(day, end, zone)


def next_digest_at(now: datetime, zone: ZoneInfo, at: time) -> datetime:
    """The next daily digest time strictly after ``now``, in the person's zone."""
    local = now.astimezone(zone)
    candidate = _instant(local.date(), at, zone)
    if candidate <= now:
        candidate = _instant(local.date() + timedelta(days=1), at, zone)
    return candidate
