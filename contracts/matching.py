"""Matching commands and events: requests, proposals, responses, circles and boards.

Every proposal carries its score breakdown, so the event log alone explains why a match was
made (and an auditor can replay the reasoning).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from contracts.common import EntityId, Frozen, LongText, MentorshipKind, PersonId, ShortText, Tag
from contracts.envelope import Envelope, Payload


class Decision(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"


class DeclineReason(StrEnum):
    NO_CAPACITY = "no_capacity"
    SCHEDULE = "schedule"
    NOT_A_FIT = "not_a_fit"
    CONFLICT_OF_INTEREST = "conflict_of_interest"
    OTHER = "other"


class EndReason(StrEnum):
    COMPLETED = "completed"
    NOT_A_FIT = "not_a_fit"
    MENTOR_LEFT = "mentor_left"
    MENTEE_LEFT = "mentee_left"
    MENTOR_ON_LEAVE = "mentor_on_leave"
    INACTIVE = "inactive"
    OTHER = "other"


class ScoreComponent(Frozen):
    """One criterion of a compatibility score, in numbers and in words."""

    criterion: Tag = Field(
        description="For example 'skill_coverage', 'seniority_gap', 'availability_overlap'."
    )
    weight: float = Field(ge=0)
    value: float = Field(ge=0, le=1, description="How well the pair meets the criterion, 0 to 1.")
    contribution: float = Field(description="weight × value: its share of the total score.")
    explanation: ShortText = Field(description="A plain sentence a person can read.")


class RequestMentorshipData(Payload):
    request_id: EntityId
    requester_id: PersonId
    kind: MentorshipKind = MentorshipKind.ONE_TO_ONE
    programme_id: Tag = "onboarding"
    topics: list[Tag] = Field(default_factory=list, max_length=20, description="What they want help with.")
    note: LongText | None = None


class RespondToProposalData(Payload):
    match_id: EntityId
    responder_id: PersonId
    decision: Decision
    reason: DeclineReason | None = Field(default=None, description="Required when declining.")
    note: LongText | None = None

    @model_validator(mode="after")
    def _decline_has_reason(self) -> Self:
        if self.decision is Decision.DECLINE and self.reason is None:
            raise ValueError("a decline needs a reason")
        return self


class EndMatchData(Payload):
    match_id: EntityId
    ended_by: PersonId
    reason: EndReason
    note: LongText | None = None


class ExpireProposalData(Payload):
    match_id: EntityId
    proposed_at: AwareDatetime = Field(description="When the unanswered proposal was made.")


class RunCohortRoundData(Payload):
    round_id: EntityId
    programme_id: Tag
    requested_by: PersonId
    candidates_per_mentee: int = Field(default=10, ge=1, le=100)
    fairness: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Spreads mentees over mentors: a mentor's k-th mentee of the round costs this "
        "much score times k. 0 maximises the total score alone.",
    )


class MatchProposedData(Payload):
    match_id: EntityId
    kind: MentorshipKind
    programme_id: Tag
    mentor_id: PersonId
    mentee_id: PersonId
    score: float = Field(description="Sum of the breakdown's contributions.")
    breakdown: list[ScoreComponent] = Field(min_length=1)
    request_id: EntityId | None = None
    round_id: EntityId | None = Field(default=None, description="Set when proposed by a cohort round.")
    replaces_match_id: EntityId | None = Field(default=None, description="Set when this is a re-match.")


class MatchParticipants(Payload):
    match_id: EntityId
    kind: MentorshipKind
    programme_id: Tag
    mentor_id: PersonId
    mentee_id: PersonId


class MatchDeclinedData(MatchParticipants):
    declined_by: PersonId
    reason: DeclineReason
    will_rematch: bool = Field(description="Whether matching is looking for another mentor.")


class MatchEndedData(MatchParticipants):
    ended_by: PersonId | None = Field(default=None, description="None when the platform ended it.")
    reason: EndReason


class ProposalExpiredData(MatchParticipants):
    waiting_on: list[PersonId] = Field(description="Who had not accepted when the proposal expired.")
    will_rematch: bool


class PauseReason(StrEnum):
    MENTEE_ON_LEAVE = "mentee_on_leave"
    MENTOR_ON_LEAVE = "mentor_on_leave"


class MatchPausedData(MatchParticipants):
    reason: PauseReason


class RequestWaitlistedData(Payload):
    request_id: EntityId
    person_id: PersonId
    kind: MentorshipKind
    programme_id: Tag
    reason: ShortText = Field(description="Why no match yet, in plain words.")
    unmet_topics: list[Tag] = Field(default_factory=list, description="Demand that no mentor covers now.")


class CircleFormedData(Payload):
    circle_id: EntityId
    programme_id: Tag
    topic: Tag
    facilitator_id: PersonId | None = None
    member_ids: list[PersonId] = Field(min_length=2, max_length=12)


class BoardSeat(Frozen):
    mentor_id: PersonId
    strength: Tag = Field(description="What this mentor brings to the board, e.g. 'leadership'.")
    score: float


class AdvisoryBoardFormedData(Payload):
    board_id: EntityId
    mentee_id: PersonId
    programme_id: Tag
    seats: list[BoardSeat] = Field(min_length=2, max_length=6)


class CohortRoundCompletedData(Payload):
    round_id: EntityId
    programme_id: Tag
    proposed: int = Field(ge=0)
    waitlisted: int = Field(ge=0)
    total_score: float
    optimal: bool = Field(description="True when the assignment is proven to maximise the total score.")


class RequestMentorship(Envelope):
    """Ask for a mentor, a reverse mentor, a peer circle, an advisory board or an external mentor."""

    kind = "command"
    subject_field = "requester_id"
    type: Literal["matching.request_mentorship"] = "matching.request_mentorship"
    version: Literal[1] = 1
    payload: RequestMentorshipData


class RespondToProposal(Envelope):
    """Accept or decline a proposed match."""

    kind = "command"
    subject_field = "match_id"
    type: Literal["matching.respond_to_proposal"] = "matching.respond_to_proposal"
    version: Literal[1] = 1
    payload: RespondToProposalData


class EndMatch(Envelope):
    """End a match; frees the mentor's capacity for the waitlist."""

    kind = "command"
    subject_field = "match_id"
    type: Literal["matching.end_match"] = "matching.end_match"
    version: Literal[1] = 1
    payload: EndMatchData


class ExpireProposal(Envelope):
    """Close a proposal nobody answered in time; the mentee gets the next best mentor.

    Matching sends it to itself from its expiry sweep, keyed by match id, so the expiry is
    ordered with the participants' own answers to that proposal.
    """

    kind = "command"
    subject_field = "match_id"
    type: Literal["matching.expire_proposal"] = "matching.expire_proposal"
    version: Literal[1] = 1
    payload: ExpireProposalData


class RunCohortRound(Envelope):
    """Match every waiting mentee of a programme at once, maximising the total score."""

    kind = "command"
    subject_field = "programme_id"
    type: Literal["matching.run_cohort_round"] = "matching.run_cohort_round"
    version: Literal[1] = 1
    payload: RunCohortRoundData


class _MatchEvent(Envelope):
    subject_field = "match_id"


class MatchProposed(_MatchEvent):
    """A mentor was proposed, with the score breakdown that explains why."""

    type: Literal["matching.match_proposed"] = "matching.match_proposed"
    version: Literal[1] = 1
    payload: MatchProposedData


class MatchConfirmed(_MatchEvent):
    """Both sides accepted; scheduling plans the first session."""

    type: Literal["matching.match_confirmed"] = "matching.match_confirmed"
    version: Literal[1] = 1
    payload: MatchParticipants


class MatchDeclined(_MatchEvent):
    type: Literal["matching.match_declined"] = "matching.match_declined"
    version: Literal[1] = 1
    payload: MatchDeclinedData


class MatchEnded(_MatchEvent):
    type: Literal["matching.match_ended"] = "matching.match_ended"
    version: Literal[1] = 1
    payload: MatchEndedData


class ProposalExpired(_MatchEvent):
    """Nobody answered in time; the seat is free again and matching looks further."""

    type: Literal["matching.proposal_expired"] = "matching.proposal_expired"
    version: Literal[1] = 1
    payload: ProposalExpiredData


class MatchPaused(_MatchEvent):
    """A participant is on leave: no sessions until they return; the match resumes then."""

    type: Literal["matching.match_paused"] = "matching.match_paused"
    version: Literal[1] = 1
    payload: MatchPausedData


class MatchResumed(_MatchEvent):
    """The participant is back from leave; sessions continue."""

    type: Literal["matching.match_resumed"] = "matching.match_resumed"
    version: Literal[1] = 1
    payload: MatchParticipants


class RequestWaitlisted(Envelope):
    """No suitable mentor has capacity now; the request waits and is filled when one frees up."""

    subject_field = "person_id"
    type: Literal["matching.request_waitlisted"] = "matching.request_waitlisted"
    version: Literal[1] = 1
    payload: RequestWaitlistedData


class CircleFormed(Envelope):
    subject_field = "circle_id"
    type: Literal["matching.circle_formed"] = "matching.circle_formed"
    version: Literal[1] = 1
    payload: CircleFormedData


class AdvisoryBoardFormed(Envelope):
    subject_field = "board_id"
    type: Literal["matching.advisory_board_formed"] = "matching.advisory_board_formed"
    version: Literal[1] = 1
    payload: AdvisoryBoardFormedData


class CohortRoundCompleted(Envelope):
    subject_field = "programme_id"
    type: Literal["matching.cohort_round_completed"] = "matching.cohort_round_completed"
    version: Literal[1] = 1
    payload: CohortRoundCompletedData
