"""The points ledger's rules: what a source of recognition is entitled to, and which entries
(new grants and compensating reversals) turn what was granted into that.

A *source* is one thing recognition is earned from: a session, an office-hours slot, a
group session, a kudos. Each time news about a source arrives (a completion, a corrected
completion, a cancellation, a booking), the source's full entitlement is worked out again
from the newest facts, and ``plan`` compares it with what the ledger already granted:
anything no longer deserved is reversed by a compensating entry, anything newly deserved is
granted, and what is unchanged is left alone. Nothing is ever edited in place.

Entry ids are deterministic (uuid5 of source, person, reason and the revision that granted
it), so a redelivered event, a replay or a second replica plans exactly the same entries and
the ledger's unique ids absorb the repeat.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from statistics import fmean

from contracts.envelope import deterministic_id
from contracts.recognition import PointsReason
from contracts.scheduling import GroupFormat, SessionCompletedData, SessionKind
from services.recognition.rules import PointsRules

HOST_REASON: dict[SessionKind, PointsReason] = {
    SessionKind.MENTORING: PointsReason.SESSION_MENTORED,
    SessionKind.CIRCLE: PointsReason.CIRCLE_LED,
    SessionKind.ADVISORY_BOARD: PointsReason.ADVISORY_BOARD_SERVICE,
    SessionKind.OFFICE_HOURS: PointsReason.OFFICE_HOURS_HOSTED,
    SessionKind.GROUP: PointsReason.TALK_GIVEN,
}
"""What hosting a held session of each kind is recognised as."""

SESSION_REASONS = frozenset(
    {
        PointsReason.SESSION_MENTORED,
        PointsReason.SESSION_ATTENDED,
        PointsReason.OFFICE_HOURS_HOSTED,
        PointsReason.CIRCLE_LED,
        PointsReason.TALK_GIVEN,
        PointsReason.REVERSE_MENTORING,
        PointsReason.ADVISORY_BOARD_SERVICE,
    }
)
"""Reasons that stand for taking part in one session; they count towards session badges."""

KNOWLEDGE_SHARING = frozenset({GroupFormat.TECH_TALK, GroupFormat.LUNCH_AND_LEARN, GroupFormat.WORKSHOP})
"""Group formats whose host gives a talk; a study group is peers learning together."""


@dataclass(frozen=True)
class Grant:
    """Points one person deserves from one source, for one reason."""

    person_id: str
    reason: PointsReason
    points: int
    earned_at: datetime
    programme_id: str | None = None
    ratings: tuple[int, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.person_id, self.reason.value)


@dataclass(frozen=True)
class Entry:
    """One ledger line: a grant, or (``reverses`` set, points negated) its reversal."""

    entry_id: str
    person_id: str
    reason: PointsReason
    points: int
    earned_at: datetime
    programme_id: str | None = None
    ratings: tuple[int, ...] = ()
    reverses: str | None = None


@dataclass(frozen=True)
class Plan:
    """What the ledger needs appended, and what the source holds granted afterwards."""

    entries: tuple[Entry, ...]
    granted: tuple[Entry, ...]


def entry_id(source_id: str, grant: Grant, revision: int) -> str:
    return deterministic_id("ledger", source_id, grant.person_id, grant.reason.value, str(revision))


def reversal_id(original_entry_id: str) -> str:
    return deterministic_id("ledger", original_entry_id, "reversal")


def plan(source_id: str, granted: Iterable[Entry], deserved: Iterable[Grant], revision: int) -> Plan:
    """Entries that move a source from what it was granted to what it now deserves.

    A grant whose points, ratings or date changed is reversed and granted again, so every
    entry in the ledger stays exactly as it was first written.
    """
    wanted = {g.key: g for g in deserved}
    kept: list[Entry] = []
    entries: list[Entry] = []
    for held in granted:
        grant = wanted.get((held.person_id, held.reason.value))
        if grant is not None and _same(held, grant):
            kept.append(held)
            del wanted[grant.key]
            continue
        entries.append(
            Entry(
                entry_id=reversal_id(held.entry_id),
                person_id=held.person_id,
                reason=PointsReason.CORRECTION,
                points=-held.points,
                earned_at=held.earned_at,
                programme_id=held.programme_id,
                reverses=held.entry_id,
            )
        )
    for grant in wanted.values():
        new = Entry(
            entry_id=entry_id(source_id, grant, revision),
            person_id=grant.person_id,
            reason=grant.reason,
            points=grant.points,
            earned_at=grant.earned_at,
            programme_id=grant.programme_id,
            ratings=grant.ratings,
        )
        entries.append(new)
        kept.append(new)
    return Plan(entries=tuple(entries), granted=tuple(kept))


def _same(held: Entry, grant: Grant) -> bool:
    return (
        held.points == grant.points
        and held.ratings == grant.ratings
        and held.earned_at == grant.earned_at
        and held.programme_id == grant.programme_id
    )


def session_grants(
    session: SessionCompletedData, rules: PointsRules, *, reverse: bool = False
) -> list[Grant]:
    """What a completed session deserves, from its newest outcome.

    - A session nobody attended was not held: its hosts earn nothing for it.
    - Each host earns for hosting by the session's kind (a reverse 1:1 is reverse mentoring),
      with the participants' ratings attached; hosts rating each other do not count.
    - Each host also earns for good feedback when the participants' average rating reaches
      the programme's threshold.
    - Each participant who attended earns for attending.
    """
    if not session.attended_ids:
        return []
    hosts = list(dict.fromkeys(session.host_ids))
    reason = HOST_REASON[session.kind]
    if session.kind is SessionKind.MENTORING and (reverse or session.reverse):
        reason = PointsReason.REVERSE_MENTORING
    ratings = tuple(
        r.rating for r in sorted(session.ratings, key=lambda r: r.person_id) if r.person_id not in hosts
    )

    def grant(person_id: str, kind: PointsReason, rated: tuple[int, ...] = ()) -> Grant:
        return Grant(
            person_id, kind, rules.points(kind), session.held_at, session.programme_id, ratings=rated
        )

    grants: list[Grant] = []
    for host in hosts:
        grants.append(grant(host, reason, ratings))
        if ratings and fmean(ratings) >= rules.good_feedback_rating:
            grants.append(grant(host, PointsReason.GOOD_FEEDBACK))
    grants.extend(
        grant(person, PointsReason.SESSION_ATTENDED)
        for person in dict.fromkeys(session.attended_ids)
        if person not in hosts
    )
    return grants


def hosting_grants(
    host_id: str, reason: PointsReason, held: bool, at: datetime, rules: PointsRules
) -> list[Grant]:
    """An office-hours slot or a group session: its host earns once it has someone to host."""
    return [Grant(host_id, reason, rules.points(reason), earned_at=at)] if held else []


@dataclass
class Totals:
    """Running sums of ledger entries; what leaderboards and badges are computed from."""

    points: int = 0
    sessions: int = 0
    rating_sum: int = 0
    rating_count: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def effect(entry: Entry, reversed_entry: Entry | None = None) -> Totals:
    """How one entry changes a person's totals: a reversal undoes its original exactly."""
    original = reversed_entry if entry.reverses is not None else entry
    if original is None:
        raise ValueError("a reversal needs the entry it reverses")
    sign = -1 if entry.reverses is not None else 1
    counted = 1 if original.reason in SESSION_REASONS else 0
    return Totals(
        points=entry.points,
        sessions=sign * counted,
        rating_sum=sign * sum(original.ratings),
        rating_count=sign * len(original.ratings),
        reasons={original.reason.value: sign},
    )
