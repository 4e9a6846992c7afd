"""Events other services publish, shaped for notification tests: the contract examples with
the people, ids and times a test needs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from contracts.envelope import Envelope
from contracts.examples import example
from contracts.matching import MatchProposed
from contracts.recognition import BadgeAwarded, KudosGiven
from contracts.scheduling import SessionCancelled, SessionRescheduled, SessionScheduled
from services.scheduling.invites import Method, Status, invite

E = TypeVar("E", bound=Envelope)


def event_like(cls: type[E], **payload: Any) -> E:
    """The contract's example of ``cls`` with a fresh event id and these payload fields."""
    data = example(cls)
    data["payload"] = data["payload"] | payload
    data["event_id"] = str(uuid.uuid4())
    data.pop("subject")
    data["occurred_at"] = datetime.now(UTC).isoformat()
    return cls.model_validate(data)


def proposal(mentor_id: str, mentee_id: str) -> MatchProposed:
    return event_like(
        MatchProposed, match_id=f"m-{uuid.uuid4().hex[:8]}", mentor_id=mentor_id, mentee_id=mentee_id
    )


def badge(person_id: str, badge_name: str = "first_session") -> BadgeAwarded:
    return event_like(
        BadgeAwarded, award_id=f"a-{uuid.uuid4().hex[:8]}", person_id=person_id, badge=badge_name
    )


def kudos(from_id: str, to_id: str, message: str = "Thanks for the review walkthrough!") -> KudosGiven:
    return event_like(
        KudosGiven, kudos_id=f"k-{uuid.uuid4().hex[:8]}", from_id=from_id, to_id=to_id, message=message
    )


def _ics(session_id: str, sequence: int, start: datetime, *, cancelled: bool = False) -> dict[str, Any]:
    uid = f"{session_id}@mentorship.local"
    text = invite(
        uid,
        sequence,
        start,
        start + timedelta(minutes=45),
        "Mentoring session",
        status=Status.CANCELLED if cancelled else Status.CONFIRMED,
        method=Method.CANCEL if cancelled else Method.REQUEST,
    )
    return {"uid": uid, "sequence": sequence, "ics": text}


def session_scheduled(
    session_id: str, host_id: str, participant_id: str, start: datetime
) -> SessionScheduled:
    return event_like(
        SessionScheduled,
        session_id=session_id,
        host_ids=[host_id],
        participant_ids=[participant_id],
        unavailable_ids=[],
        starts_at=start.isoformat(),
        ends_at=(start + timedelta(minutes=45)).isoformat(),
        local_times=[],
        invite=_ics(session_id, 0, start),
    )


def session_rescheduled(
    session_id: str, host_id: str, participant_id: str, previous: datetime, start: datetime
) -> SessionRescheduled:
    return event_like(
        SessionRescheduled,
        session_id=session_id,
        host_ids=[host_id],
        participant_ids=[participant_id],
        unavailable_ids=[],
        starts_at=start.isoformat(),
        ends_at=(start + timedelta(minutes=45)).isoformat(),
        previous_start=previous.isoformat(),
        requested_by=host_id,
        local_times=[],
        invite=_ics(session_id, 1, start),
    )


def session_cancelled(
    session_id: str, host_id: str, participant_id: str, start: datetime
) -> SessionCancelled:
    return event_like(
        SessionCancelled,
        session_id=session_id,
        host_ids=[host_id],
        participant_ids=[participant_id],
        starts_at=start.isoformat(),
        cancelled_by=host_id,
        invite=_ics(session_id, 2, start, cancelled=True),
    )
