"""The explicit state machine of a proposal: who may answer, and what each answer leads to.

A proposal is confirmed only when both the mentor and the mentee accepted; the first
acceptance never confirms it on its own. Either side may decline while it is open, which
frees the mentor's seat and sends matching to the next best mentor. Answers that no longer
apply are refused with a reason instead of being silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal

from contracts.matching import Decision


class ProposalState(StrEnum):
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    DECLINED = "declined"


class Refused(Exception):
    """An answer that cannot apply to the proposal as it stands."""


@dataclass(frozen=True)
class Proposal:
    match_id: str
    mentor_id: str
    mentee_id: str
    state: ProposalState
    accepted_by: frozenset[str] = frozenset()


Transition = Literal["confirmed", "declined"] | None


def respond(proposal: Proposal, responder_id: str, decision: Decision) -> tuple[Proposal, Transition]:
    """The proposal after an answer, and the transition it caused (None when still waiting)."""
    if responder_id not in (proposal.mentor_id, proposal.mentee_id):
        raise Refused("only the proposed mentor or mentee can answer this proposal")
    if proposal.state is ProposalState.DECLINED:
        raise Refused("this proposal was declined already")
    if proposal.state is ProposalState.CONFIRMED:
        if decision is Decision.ACCEPT:
            return proposal, None
        raise Refused("this match is confirmed; end it instead of declining")
    if decision is Decision.DECLINE:
        return replace(proposal, state=ProposalState.DECLINED), "declined"
    accepted = proposal.accepted_by | {responder_id}
    if accepted >= {proposal.mentor_id, proposal.mentee_id}:
        return replace(proposal, state=ProposalState.CONFIRMED, accepted_by=accepted), "confirmed"
    return replace(proposal, accepted_by=accepted), None
