"""Standings: per-period totals, the leaderboard score, badge criteria and rankings.

Leaderboard score (never volume alone)
--------------------------------------

For a person and a period, with ``P`` the net points earned in it (kudos and good feedback
included) and ``S``/``N`` the sum and number of feedback ratings their work received::

    quality = (S + PRIOR_MEAN * PRIOR_WEIGHT) / (N + PRIOR_WEIGHT)     # Bayesian average, 1..5
    score   = P * quality / PRIOR_MEAN

``PRIOR_MEAN`` is 3 (the middle of the scale) and ``PRIOR_WEIGHT`` 5 ratings, so a handful
of ratings moves the multiplier a little and a long record of them moves it a lot. Someone
with no ratings yet scores their points unchanged (multiplier 1); consistently excellent
feedback raises it towards 5/3, poor feedback lowers it towards 1/3. Twice the sessions at
an average of 2 score less than the same work rated 4.5: a leaderboard of this score rewards
mentoring people value, not the count of meetings.

Periods are calendar months (``2026-11``), quarters (``2026-q4``) and all time (``all``),
taken from when the work happened; a correction lands in the period of what it corrects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from contracts.recognition import Badge, PointsReason
from services.recognition.ledger import Totals
from services.recognition.rules import BadgeRules

PRIOR_MEAN = 3.0
PRIOR_WEIGHT = 5.0
ALL_TIME = "all"
EVERY_PROGRAMME = "*"


def month_key(at: date) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def quarter_key(at: date) -> str:
    return f"{at.year:04d}-q{(at.month - 1) // 3 + 1}"


def period_keys(at: datetime) -> tuple[str, str, str]:
    """The month, the quarter and all time: every period a piece of work counts in."""
    day = at.astimezone(UTC).date()
    return (month_key(day), quarter_key(day), ALL_TIME)


def resolve_period(period: str, today: date) -> str:
    """A period as asked for (``month``, ``quarter``, ``all``, ``2026-11``, ``2026-q4``) to its key."""
    name = period.strip().lower()
    if name == "month":
        return month_key(today)
    if name == "quarter":
        return quarter_key(today)
    if name in (ALL_TIME, "all-time", "all_time"):
        return ALL_TIME
    period_bounds(name)  # refuses what is not a period
    return name


def period_bounds(key: str) -> tuple[date, date]:
    """First and last day of a month or quarter key."""
    try:
        year_text, part = key.split("-")
        year = int(year_text)
        if part.startswith("q"):
            quarter = int(part[1:])
            if not 1 <= quarter <= 4:
                raise ValueError
            first_month, months = 3 * (quarter - 1) + 1, 3
        else:
            first_month, months = int(part), 1
            if not 1 <= first_month <= 12:
                raise ValueError
    except ValueError as error:
        raise ValueError(f"{key!r} is not a period: use month, quarter, all, YYYY-MM or YYYY-qN") from error
    start = date(year, first_month, 1)
    after = first_month + months
    end = date(year + (after - 1) // 12, (after - 1) % 12 + 1, 1)
    return start, date.fromordinal(end.toordinal() - 1)


def previous_month(today: date) -> str:
    first = date(today.year, today.month, 1)
    return month_key(date.fromordinal(first.toordinal() - 1))


def field_name(text: str) -> str:
    """A programme id as a document field name (no dots or leading dollar signs)."""
    return text.replace("%", "%25").replace(".", "%2E").replace("$", "%24")


def collection_of(period: str) -> str:
    """Each period's standings live in a collection of their own, so rebuilding one period's
    boards reads only the people active in it (Mongo-wire servers may scan whole collections)."""
    return f"standings_{period.replace('-', '_')}"


def increments(change: Totals, programme_id: str | None) -> dict[str, int]:
    """The ``$inc`` of one entry on a person's standings document of one period: the totals,
    and the totals of the programme it belongs to."""
    inc: dict[str, int] = {}
    bases = [""] + ([f"programmes.{field_name(programme_id)}."] if programme_id else [])
    for base in bases:
        inc[f"{base}points"] = change.points
        inc[f"{base}sessions"] = change.sessions
        inc[f"{base}rating_sum"] = change.rating_sum
        inc[f"{base}rating_count"] = change.rating_count
    for reason, count in change.reasons.items():
        inc[f"reasons.{reason}"] = count
    return inc


def totals_from(doc: Mapping[str, Any] | None) -> Totals:
    """Totals as stored in a standings document (or in one programme's part of it)."""
    if not doc:
        return Totals()
    return Totals(
        points=int(doc.get("points", 0)),
        sessions=int(doc.get("sessions", 0)),
        rating_sum=int(doc.get("rating_sum", 0)),
        rating_count=int(doc.get("rating_count", 0)),
        reasons={k: int(v) for k, v in (doc.get("reasons") or {}).items()},
    )


def quality(totals: Totals) -> float:
    """The Bayesian average rating (1 to 5) of the module docstring."""
    return (totals.rating_sum + PRIOR_MEAN * PRIOR_WEIGHT) / (totals.rating_count + PRIOR_WEIGHT)


def score(totals: Totals) -> float:
    """Points weighted by feedback: see the module docstring."""
    return round(totals.points * quality(totals) / PRIOR_MEAN, 2)


def average_rating(totals: Totals) -> float | None:
    if totals.rating_count <= 0:
        return None
    return round(min(5.0, max(1.0, totals.rating_sum / totals.rating_count)), 2)


BADGE_CRITERIA: dict[Badge, str] = {
    Badge.FIRST_SESSION: "Took part in a first mentoring session",
    Badge.SESSIONS_5: "Took part in 5 sessions",
    Badge.SESSIONS_10: "Took part in 10 sessions",
    Badge.SESSIONS_25: "Took part in 25 sessions",
    Badge.FIRST_REVERSE_MENTORSHIP: "Mentored a more senior colleague for the first time",
    Badge.CIRCLE_HOST: "Led a peer mentoring circle session",
    Badge.OFFICE_HOURS_REGULAR: "Held office hours {office_hours} times",
    Badge.SPEAKER: "Gave a knowledge-sharing talk or workshop",
    Badge.ADVISORY_BOARD_MEMBER: "Served on a personal advisory board",
    Badge.HIGHLY_RATED: "Average feedback of at least {average} over {minimum} or more ratings",
}


def earned_badges(totals: Totals, rules: BadgeRules) -> dict[Badge, str]:
    """Every badge the all-time totals meet, with what earned it in plain words.

    Badges are kept once awarded: a later correction lowers points, not badges.
    """
    reasons = totals.reasons
    met = {
        Badge.FIRST_SESSION: totals.sessions >= 1,
        Badge.SESSIONS_5: totals.sessions >= 5,
        Badge.SESSIONS_10: totals.sessions >= 10,
        Badge.SESSIONS_25: totals.sessions >= 25,
        Badge.FIRST_REVERSE_MENTORSHIP: reasons.get(PointsReason.REVERSE_MENTORING.value, 0) >= 1,
        Badge.CIRCLE_HOST: reasons.get(PointsReason.CIRCLE_LED.value, 0) >= 1,
        Badge.OFFICE_HOURS_REGULAR: reasons.get(PointsReason.OFFICE_HOURS_HOSTED.value, 0)
        >= rules.office_hours_regular,
        Badge.SPEAKER: reasons.get(PointsReason.TALK_GIVEN.value, 0) >= 1,
        Badge.ADVISORY_BOARD_MEMBER: reasons.get(PointsReason.ADVISORY_BOARD_SERVICE.value, 0) >= 1,
        Badge.HIGHLY_RATED: totals.rating_count >= rules.highly_rated_minimum
        and totals.rating_sum >= rules.highly_rated_average * totals.rating_count,
    }
    words = {
        "office_hours": rules.office_hours_regular,
        "average": rules.highly_rated_average,
        "minimum": rules.highly_rated_minimum,
    }
    return {badge: BADGE_CRITERIA[badge].format(**words) for badge, ok in met.items() if ok}


@dataclass(frozen=True)
class Standing:
    """One line of a leaderboard."""

    person_id: str
    score: float
    points: int
    sessions: int
    average_rating: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "score": self.score,
            "points": self.points,
            "sessions": self.sessions,
            "average_rating": self.average_rating,
        }


def rank(people: Iterable[tuple[str, Totals]], limit: int) -> list[Standing]:
    """The best ``limit`` people by score, then points, then id (stable for ties); people
    with nothing in the period are left out."""
    rows = [
        Standing(person, score(t), t.points, t.sessions, average_rating(t))
        for person, t in people
        if t.points or t.sessions
    ]
    rows.sort(key=lambda s: (-s.score, -s.points, s.person_id))
    return rows[:limit]


def boards(
    standings: Iterable[Mapping[str, Any]], teams: Mapping[str, str], limit: int
) -> dict[str, list[Standing]]:
    """Every leaderboard of one period from its standings documents: overall (``*``), per
    team (``team:<team>``, by each person's current team) and per programme
    (``programme:<id>``)."""
    scopes: dict[str, list[tuple[str, Totals]]] = {}
    for doc in standings:
        person = str(doc["_id"])
        totals = totals_from(doc)
        scopes.setdefault(EVERY_PROGRAMME, []).append((person, totals))
        team = teams.get(person)
        if team:
            scopes.setdefault(f"team:{team}", []).append((person, totals))
        for programme, values in (doc.get("programmes") or {}).items():
            scopes.setdefault(f"programme:{programme}", []).append((person, totals_from(values)))
    return {scope: rank(rows, limit) for scope, rows in scopes.items()}
