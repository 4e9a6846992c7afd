"""Answers to a proposal: both must accept, either may decline, late answers are refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.matching import Decision
from services.matching.lifecycle import Proposal, ProposalState, Refused, respond

OPEN = Proposal(match_id="m1", mentor_id="MENTOR", mentee_id="MENTEE", state=ProposalState.PROPOSED)


def test_one_acceptance_does_not_confirm_but_both_do() -> None:
    after_mentor, first = respond(OPEN, "MENTOR", Decision.ACCEPT)
    after_both, second = respond(after_mentor, "MENTEE", Decision.ACCEPT)
    assert (after_mentor.state, first) == (ProposalState.PROPOSED, None)
    assert (after_both.state, second) == (ProposalState.CONFIRMED, "confirmed")


def test_either_side_can_decline_while_the_proposal_is_open() -> None:
    for responder in ("MENTOR", "MENTEE"):
        declined, transition = respond(OPEN, responder, Decision.DECLINE)
        assert (declined.state, transition) == (ProposalState.DECLINED, "declined")


def test_answers_that_no_longer_apply_are_refused_with_a_reason() -> None:
    declined, _ = respond(OPEN, "MENTEE", Decision.DECLINE)
    with pytest.raises(Refused, match="declined already"):
        respond(declined, "MENTOR", Decision.ACCEPT)
    confirmed = Proposal("m1", "MENTOR", "MENTEE", ProposalState.CONFIRMED, frozenset({"MENTOR", "MENTEE"}))
    with pytest.raises(Refused, match="end it instead"):
        respond(confirmed, "MENTEE", Decision.DECLINE)
    with pytest.raises(Refused, match="only the proposed mentor or mentee"):
        respond(OPEN, "SOMEONE-ELSE", Decision.ACCEPT)


answers = st.lists(
    st.tuples(st.sampled_from(["MENTOR", "MENTEE"]), st.sampled_from(list(Decision))), max_size=6
)


@given(sequence=answers)
def test_a_proposal_is_confirmed_exactly_when_both_accepted_before_anyone_declined(
    sequence: list[tuple[str, Decision]],
) -> None:
    proposal, transitions = OPEN, []
    for responder, decision in sequence:
        try:
            proposal, transition = respond(proposal, responder, decision)
        except Refused:
            continue
        transitions.append(transition)
    accepted: set[str] = set()
    expected = ProposalState.PROPOSED
    for responder, decision in sequence:
        if expected is not ProposalState.PROPOSED:
            break
        if decision is Decision.DECLINE:
            expected = ProposalState.DECLINED
        else:
            accepted.add(responder)
            if accepted == {"MENTOR", "MENTEE"}:
                expected = ProposalState.CONFIRMED
    assert proposal.state is expected
    assert transitions.count("confirmed") + transitions.count("declined") == (
        expected is not ProposalState.PROPOSED
    )
