"""The points ledger's rules: what a session deserves, and the grants and compensating
reversals that move a source from what it was granted to what it now deserves."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.recognition import PointsReason
from contracts.scheduling import SessionCompletedData, SessionKind
from services.recognition.ledger import (
    Entry,
    Grant,
    Totals,
    effect,
    hosting_grants,
    plan,
    session_grants,
)
from services.recognition.rules import PointsRules, RecognitionRules

HELD = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
RULES = PointsRules()


def completed(**changes: Any) -> SessionCompletedData:
    fields: dict[str, Any] = {
        "session_id": "s-1",
        "kind": SessionKind.MENTORING,
        "match_id": "m-1",
        "programme_id": "onboarding",
        "host_ids": ["mentor"],
        "participant_ids": ["mentee"],
        "attended_ids": ["mentee"],
        "held_at": HELD,
        "ratings": [],
    }
    return SessionCompletedData.model_validate(fields | changes)


def by_person(grants: list[Grant]) -> dict[tuple[str, PointsReason], int]:
    return {(g.person_id, g.reason): g.points for g in grants}


def test_a_held_session_earns_its_mentor_and_its_mentee_points() -> None:
    grants = session_grants(completed(), RULES)
    assert by_person(grants) == {
        ("mentor", PointsReason.SESSION_MENTORED): RULES.session_mentored,
        ("mentee", PointsReason.SESSION_ATTENDED): RULES.session_attended,
    }


def test_a_session_nobody_attended_earns_nothing() -> None:
    assert session_grants(completed(attended_ids=[]), RULES) == []


def test_good_feedback_from_participants_earns_the_host_a_bonus_with_the_ratings_attached() -> None:
    grants = session_grants(completed(ratings=[{"person_id": "mentee", "rating": 5}]), RULES)
    assert by_person(grants)[("mentor", PointsReason.GOOD_FEEDBACK)] == RULES.good_feedback
    hosting = next(g for g in grants if g.reason is PointsReason.SESSION_MENTORED)
    assert hosting.ratings == (5,)


def test_middling_feedback_earns_no_bonus_and_a_host_rating_their_own_session_does_not_count() -> None:
    ratings = [{"person_id": "mentee", "rating": 3}, {"person_id": "mentor", "rating": 5}]
    grants = session_grants(completed(ratings=ratings), RULES)
    assert ("mentor", PointsReason.GOOD_FEEDBACK) not in by_person(grants)
    assert next(g for g in grants if g.reason is PointsReason.SESSION_MENTORED).ratings == (3,)


def test_each_kind_of_session_recognises_its_hosts_for_what_they_did() -> None:
    expected = {
        SessionKind.CIRCLE: PointsReason.CIRCLE_LED,
        SessionKind.ADVISORY_BOARD: PointsReason.ADVISORY_BOARD_SERVICE,
        SessionKind.OFFICE_HOURS: PointsReason.OFFICE_HOURS_HOSTED,
        SessionKind.GROUP: PointsReason.TALK_GIVEN,
    }
    for kind, reason in expected.items():
        assert ("mentor", reason) in by_person(session_grants(completed(kind=kind), RULES))


def test_a_reverse_session_is_reverse_mentoring_whether_the_event_or_the_match_says_so() -> None:
    assert ("mentor", PointsReason.REVERSE_MENTORING) in by_person(
        session_grants(completed(reverse=True), RULES)
    )
    assert ("mentor", PointsReason.REVERSE_MENTORING) in by_person(
        session_grants(completed(), RULES, reverse=True)
    )


def test_a_programme_with_its_own_rules_is_paid_by_them() -> None:
    rules = RecognitionRules(programmes={"onboarding": PointsRules(session_mentored=40)})
    grants = session_grants(completed(), rules.for_programme("onboarding"))
    assert by_person(grants)[("mentor", PointsReason.SESSION_MENTORED)] == 40
    assert rules.for_programme("elsewhere") == rules.default


def test_office_hours_earn_their_host_only_while_someone_is_booked() -> None:
    assert hosting_grants("host", PointsReason.OFFICE_HOURS_HOSTED, False, HELD, RULES) == []
    grants = hosting_grants("host", PointsReason.OFFICE_HOURS_HOSTED, True, HELD, RULES)
    assert by_person(grants) == {("host", PointsReason.OFFICE_HOURS_HOSTED): RULES.office_hours_hosted}


def test_planning_the_same_entitlement_again_appends_nothing() -> None:
    first = plan("s-1", [], session_grants(completed(), RULES), 1)
    again = plan("s-1", first.granted, session_grants(completed(), RULES), 2)
    assert again.entries == ()
    assert again.granted == first.granted


def test_a_corrected_attendance_reverses_the_mentees_points_with_a_compensating_entry() -> None:
    first = plan("s-1", [], session_grants(completed(), RULES), 1)
    corrected = plan("s-1", first.granted, session_grants(completed(attended_ids=[]), RULES), 2)
    assert sorted(e.points for e in corrected.entries) == sorted(-e.points for e in first.entries)
    assert {e.reverses for e in corrected.entries} == {e.entry_id for e in first.entries}
    assert all(e.reason is PointsReason.CORRECTION for e in corrected.entries)
    assert corrected.granted == ()


def test_a_changed_rating_reverses_the_old_grant_and_grants_anew_so_no_entry_is_edited() -> None:
    low = completed(ratings=[{"person_id": "mentee", "rating": 2}])
    high = completed(ratings=[{"person_id": "mentee", "rating": 5}])
    first = plan("s-1", [], session_grants(low, RULES), 1)
    second = plan("s-1", first.granted, session_grants(high, RULES), 2)
    reasons = Counter(e.reason for e in second.entries)
    assert reasons == {
        PointsReason.CORRECTION: 1,
        PointsReason.SESSION_MENTORED: 1,
        PointsReason.GOOD_FEEDBACK: 1,
    }
    assert not {e.entry_id for e in second.entries} & {e.entry_id for e in first.entries}


def test_entry_ids_are_the_same_whoever_plans_them() -> None:
    grants = session_grants(completed(), RULES)
    assert plan("s-1", [], grants, 1) == plan("s-1", [], grants, 1)
    assert plan("s-1", [], grants, 1).entries != plan("s-2", [], grants, 1).entries


def test_a_reversal_undoes_exactly_what_its_entry_added() -> None:
    grants = session_grants(completed(ratings=[{"person_id": "mentee", "rating": 5}]), RULES)
    first = plan("s-1", [], grants, 1)
    undone = plan("s-1", first.granted, [], 2)
    originals = {e.entry_id: e for e in first.entries}
    net = _sum(effect(e) for e in first.entries)
    net = _sum([net, *(effect(r, originals[r.reverses or ""]) for r in undone.entries)])
    assert net == Totals(reasons=net.reasons)
    assert set(net.reasons.values()) == {0}


def _sum(items: Any) -> Totals:
    total = Totals()
    for t in items:
        total.points += t.points
        total.sessions += t.sessions
        total.rating_sum += t.rating_sum
        total.rating_count += t.rating_count
        for reason, n in t.reasons.items():
            total.reasons[reason] = total.reasons.get(reason, 0) + n
    return total


outcomes = st.fixed_dictionaries(
    {
        "attended": st.sets(st.sampled_from(["a", "b", "c"])),
        "ratings": st.dictionaries(st.sampled_from(["a", "b", "c", "host"]), st.integers(1, 5)),
        "kind": st.sampled_from(list(SessionKind)),
        "reverse": st.booleans(),
    }
)


def _outcome(o: dict[str, Any]) -> SessionCompletedData:
    return completed(
        kind=o["kind"],
        reverse=o["reverse"],
        host_ids=["host"],
        participant_ids=["a", "b", "c"],
        attended_ids=sorted(o["attended"]),
        ratings=[{"person_id": p, "rating": r} for p, r in sorted(o["ratings"].items())],
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(outcomes, min_size=1, max_size=6), st.booleans())
def test_however_often_an_outcome_is_corrected_the_ledger_sums_to_the_rules_applied_to_the_newest(
    revisions: list[dict[str, Any]], withdrawn: bool
) -> None:
    ledger: dict[str, Entry] = {}
    granted: tuple[Entry, ...] = ()
    for number, outcome in enumerate(revisions, start=1):
        decided = plan("s-1", granted, session_grants(_outcome(outcome), RULES), number)
        assert not set(ledger) & {e.entry_id for e in decided.entries}, "entries are only ever appended"
        ledger.update({e.entry_id: e for e in decided.entries})
        granted = decided.granted
        replayed = plan("s-1", granted, session_grants(_outcome(outcome), RULES), number)
        assert replayed.entries == (), "replaying the newest outcome changes nothing"
    final = [] if withdrawn else session_grants(_outcome(revisions[-1]), RULES)
    if withdrawn:
        decided = plan("s-1", granted, [], len(revisions) + 1)
        ledger.update({e.entry_id: e for e in decided.entries})
    per_person: Counter[str] = Counter()
    for entry in ledger.values():
        per_person[entry.person_id] += entry.points
    expected: Counter[str] = Counter()
    for grant in final:
        expected[grant.person_id] += grant.points
    assert {p: n for p, n in per_person.items() if n} == {p: n for p, n in expected.items() if n}
    folded = _sum(effect(e, ledger.get(e.reverses or "")) for e in ledger.values())
    assert folded.rating_count == sum(len(g.ratings) for g in final)
    assert folded.rating_sum == sum(sum(g.ratings) for g in final)
