"""Recognition: points, badges, kudos and digests, written out for other systems to consume."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from contracts.common import EntityId, Frozen, LongText, PersonId, ShortText, Tag
from contracts.envelope import Envelope, Payload


class PointsReason(StrEnum):
    SESSION_MENTORED = "session_mentored"
    SESSION_ATTENDED = "session_attended"
    OFFICE_HOURS_HOSTED = "office_hours_hosted"
    CIRCLE_LED = "circle_led"
    TALK_GIVEN = "talk_given"
    REVERSE_MENTORING = "reverse_mentoring"
    ADVISORY_BOARD_SERVICE = "advisory_board_service"
    GOOD_FEEDBACK = "good_feedback"
    KUDOS_RECEIVED = "kudos_received"
    CORRECTION = "correction"


class Badge(StrEnum):
    FIRST_SESSION = "first_session"
    SESSIONS_5 = "sessions_5"
    SESSIONS_10 = "sessions_10"
    SESSIONS_25 = "sessions_25"
    FIRST_REVERSE_MENTORSHIP = "first_reverse_mentorship"
    CIRCLE_HOST = "circle_host"
    OFFICE_HOURS_REGULAR = "office_hours_regular"
    SPEAKER = "speaker"
    ADVISORY_BOARD_MEMBER = "advisory_board_member"
    HIGHLY_RATED = "highly_rated"


class GiveKudosData(Payload):
    kudos_id: EntityId
    from_id: PersonId
    to_id: PersonId
    message: LongText = Field(min_length=1)
    session_id: EntityId | None = None


class PointsAwardedData(Payload):
    entry_id: EntityId = Field(description="Deterministic per source event and person: one entry each.")
    person_id: PersonId
    points: int = Field(description="Negative for a compensating entry.")
    reason: PointsReason
    source_event_id: EntityId
    programme_id: Tag | None = None
    reverses_entry_id: EntityId | None = None
    earned_at: AwareDatetime | None = Field(
        default=None,
        description="When the recognised work happened (a session's start, a kudos' sending); it decides "
        "the leaderboard period. A compensating entry carries the date of the entry it reverses.",
    )
    feedback_ratings: list[Annotated[int, Field(ge=1, le=5)]] = Field(
        default_factory=list,
        description="Feedback ratings (1 to 5) the recognised work received; leaderboards weigh points by "
        "them. A compensating entry withdraws the ratings of the entry it reverses.",
    )


class BadgeAwardedData(Payload):
    award_id: EntityId
    person_id: PersonId
    badge: Badge
    criteria: ShortText = Field(description="What earned it, in plain words.")


class KudosGivenData(GiveKudosData):
    pass


class DigestLine(Frozen):
    person_id: PersonId
    points: int
    sessions: int = Field(ge=0)
    badges: list[Badge] = Field(default_factory=list)
    average_rating: float | None = Field(default=None, ge=1, le=5)


class RecognitionDigestReadyData(Payload):
    digest_id: EntityId
    scope: Literal["team", "programme"]
    scope_id: Tag
    period_start: date
    period_end: date
    recipient_ids: list[PersonId] = Field(description="Managers or programme owners to send it to.")
    lines: list[DigestLine]
    headline: ShortText


class GiveKudos(Envelope):
    """A mentee thanks a mentor."""

    kind = "command"
    subject_field = "to_id"
    type: Literal["recognition.give_kudos"] = "recognition.give_kudos"
    version: Literal[1] = 1
    payload: GiveKudosData


class PointsAwarded(Envelope):
    subject_field = "person_id"
    type: Literal["recognition.points_awarded"] = "recognition.points_awarded"
    version: Literal[1] = 1
    payload: PointsAwardedData


class BadgeAwarded(Envelope):
    subject_field = "person_id"
    type: Literal["recognition.badge_awarded"] = "recognition.badge_awarded"
    version: Literal[1] = 1
    payload: BadgeAwardedData


class KudosGiven(Envelope):
    subject_field = "to_id"
    type: Literal["recognition.kudos_given"] = "recognition.kudos_given"
    version: Literal[1] = 1
    payload: KudosGivenData


class RecognitionDigestReady(Envelope):
    """A periodic digest per team or programme, for notification and for other systems."""

    subject_field = "digest_id"
    type: Literal["recognition.digest_ready"] = "recognition.digest_ready"
    version: Literal[1] = 1
    payload: RecognitionDigestReadyData
