"""The whole platform, end to end: the five services as processes of their own, driven only through
the inbound HR topic, the command topics, the read APIs, Mailpit and a chat receiver.

The services start once for this module (one namespace of topics and databases); each flow brings
its own people, with skills, teams and programmes chosen so that no flow's mentors suit another
flow's mentees better than that flow's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from icalendar import Calendar

from contracts.common import MentorshipKind, Weekday
from contracts.matching import (
    Decision,
    RequestMentorship,
    RequestMentorshipData,
    RespondToProposal,
    RespondToProposalData,
    RunCohortRound,
    RunCohortRoundData,
)
from contracts.scheduling import (
    RecordSessionOutcome,
    RecordSessionOutcomeData,
    RescheduleSession,
    RescheduleSessionData,
)
from tests.e2e.platform import SERVICES, Employee, Platform, platform_for_module
from tests.support.infrastructure import Infrastructure
from tests.support.mailpit import Mail
from tests.support.scheduling import (
    announce,
    book,
    cancel_booking,
    cancel_registration,
    publish_office_hours,
    register,
)
from tests.support.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

WORKING_DAY = (time(8), time(20))  # scheduling's default working hours, in each person's zone


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    async with platform_for_module(infrastructure, tmp_path_factory) as up:
        yield up


# ------------------------------------------------------------------ helpers


def mentor(person_id: str, name: str, skill: str, *, skill_level: str = "expert", **fields: Any) -> Employee:
    """An experienced employee who offers one mentee seat and is in no real-time programme."""
    return Employee(
        person_id,
        name,
        level="senior",
        programmes=["career-growth"],
        skills=[{"name": skill, "level": skill_level}],
        profile={"mentor": {"opted_in": True, "capacity": 1}},
        **fields,
    )


def colleague(person_id: str, name: str, **fields: Any) -> Employee:
    """Someone already at the company, matched only when they ask or a round includes them."""
    return Employee(person_id, name, programmes=["career-growth"], **fields)


async def accept(platform: Platform, match_id: str, *people: str) -> None:
    for person_id in people:
        data = RespondToProposalData(match_id=match_id, responder_id=person_id, decision=Decision.ACCEPT)
        await platform.command(RespondToProposal.create(data, source="web"))


async def ask(platform: Platform, person_id: str, kind: MentorshipKind, programme_id: str) -> None:
    data = RequestMentorshipData(
        request_id=f"{person_id}-{kind.value}", requester_id=person_id, kind=kind, programme_id=programme_id
    )
    await platform.command(RequestMentorship.create(data, source="web"))


async def matches_of(
    platform: Platform, person_id: str, holds: Callable[[Any], bool], what: str
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await platform.until(
        "matching", f"/people/{person_id}/matches", holds, what=what
    )
    return found


async def sessions_of(platform: Platform, person_id: str, what: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await platform.until(
        "scheduling", f"/people/{person_id}/sessions", bool, what=what
    )
    return found


async def invite_of(platform: Platform, mail: Mail) -> Any:
    """The VEVENT of the calendar invite attached to a mail."""
    calendar: Calendar = await platform.mailpit.invite(mail)
    return next(iter(calendar.walk("VEVENT")))


def attendees(event: Any) -> set[str]:
    found = event.get("ATTENDEE")
    found = found if isinstance(found, list) else [found]
    return {str(a).removeprefix("mailto:").removeprefix("MAILTO:").lower() for a in found}


# ------------------------------------------------------------------ flows 1, 2 and 6: one new hire

HIRE = Employee(
    "N-IN",
    "Nikhil Newhire",
    time_zone="Asia/Kolkata",
    level="junior",
    team="payments",
    skills=[{"name": "python-e2e", "level": "learning"}],  # a skill being learnt is a goal
    chat=("slack",),
)
HIRE_MENTOR = mentor(
    "M-LA", "Lena Mentor", "python-e2e", time_zone="America/Los_Angeles", team="platform", chat=("webhook",)
)


@dataclass(frozen=True)
class FirstSession:
    onboarding_event_id: str
    match: dict[str, Any]
    sessions: dict[str, dict[str, Any]]  # per person, as the scheduling read API shows it


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def first_session(platform: Platform) -> FirstSession:
    """A new hire onboarded, proposed a mentor, both accepted, the first session scheduled."""
    # The mentor's webhook fails its first call: that message is sent again later by the
    # notification service's sweep, outside the message that caused it.
    platform.receiver.respond(platform.hook("M-LA", "webhook"), 503, 200)
    await platform.onboard(HIRE_MENTOR)
    event_id = (await platform.onboard(HIRE))[HIRE.person_id]
    proposed = await platform.until(
        "matching",
        f"/people/{HIRE.person_id}/matches",
        bool,
        what="a mentor proposed within seconds of the onboarding event",
        timeout=15,
    )
    await accept(platform, proposed[0]["match_id"], HIRE_MENTOR.person_id, HIRE.person_id)
    confirmed = await matches_of(
        platform, HIRE.person_id, lambda ms: ms[0]["state"] == "confirmed", what="the match confirmed"
    )
    sessions = {
        person: (await sessions_of(platform, person, what=f"the first session on {person}'s calendar"))[0]
        for person in (HIRE.person_id, HIRE_MENTOR.person_id)
    }
    return FirstSession(event_id, confirmed[0], sessions)


async def test_a_new_hire_gets_a_mentor_a_first_session_in_both_time_zones_an_invite_and_a_chat_message(
    platform: Platform, first_session: FirstSession
) -> None:
    match = first_session.match
    assert (match["mentor_id"], match["kind"], match["programme_id"]) == ("M-LA", "one_to_one", "onboarding")
    assert sorted(match["accepted_by"]) == ["M-LA", "N-IN"]
    assert any("python-e2e" in part["explanation"] for part in match["breakdown"])

    hire_view, mentor_view = (first_session.sessions[p] for p in ("N-IN", "M-LA"))
    assert hire_view["session_id"] == mentor_view["session_id"]
    assert hire_view["match_id"] == match["match_id"]
    starts_at = datetime.fromisoformat(hire_view["starts_at"])
    length = datetime.fromisoformat(hire_view["ends_at"]) - starts_at
    for view, zone in ((hire_view, "Asia/Kolkata"), (mentor_view, "America/Los_Angeles")):
        local = datetime.fromisoformat(view["local_start"])
        assert local == starts_at
        assert local.utcoffset() == starts_at.astimezone(ZoneInfo(zone)).utcoffset()
        assert local.weekday() < 5
        assert WORKING_DAY[0] <= local.time()
        assert (local + length).time() <= WORKING_DAY[1]

    mail = await platform.mail(
        "N-IN", lambda s: s.startswith("Session booked"), what="the session's email to the new hire"
    )
    local = starts_at.astimezone(ZoneInfo("Asia/Kolkata"))
    assert f"{local:%H:%M} (Asia/Kolkata)" in mail.subject
    event = await invite_of(platform, mail)
    assert str(event["UID"]) == f"{hire_view['session_id']}@mentorship.local"
    assert event.decoded("DTSTART") == starts_at
    assert attendees(event) == {platform.address("N-IN"), platform.address("M-LA")}

    slack = await platform.chat(
        "N-IN",
        "slack",
        lambda body: body["text"].startswith("Session booked"),
        what="the session on the new hire's Slack",
    )
    assert "(Asia/Kolkata)" in slack["blocks"][0]["text"]["text"]
    hook = await platform.chat(
        "M-LA",
        "webhook",
        lambda body: body["template"] == "session_scheduled",
        what="the session on the mentor's webhook",
    )
    assert hook["data"]["session_id"] == hire_view["session_id"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def completed_session(platform: Platform, first_session: FirstSession) -> str:
    """The pair met early: the session moved to a moment from now, held, and rated by the hire."""
    session_id = str(first_session.sessions["N-IN"]["session_id"])
    # Seconds ahead, so the move is accepted; an outcome is only taken once a session began.
    new_start = (datetime.now(UTC) + timedelta(seconds=12)).replace(microsecond=0)
    moved = RescheduleSessionData(session_id=session_id, requested_by="N-IN", new_start=new_start)
    await platform.command(RescheduleSession.create(moved, source="web"))
    await platform.until(
        "scheduling",
        "/people/N-IN/sessions",
        lambda views: any(datetime.fromisoformat(v["starts_at"]) == new_start for v in views),
        what="the session moved",
    )
    await eventually(lambda: datetime.now(UTC) > new_start, timeout=30, what="the session starting")
    outcome = RecordSessionOutcomeData(
        session_id=session_id, recorded_by="N-IN", attended=True, rating=5, comment="Clear and patient."
    )
    await platform.command(RecordSessionOutcome.create(outcome, source="web"))
    return session_id


async def test_a_session_completed_with_good_feedback_earns_the_mentor_points_and_a_first_badge(
    platform: Platform, completed_session: str
) -> None:
    def all_time(recognition: dict[str, Any]) -> dict[str, Any]:
        return next(t for t in recognition["totals"] if t["period"] == "all")

    mentor = await platform.until(
        "recognition",
        "/people/M-LA/recognition",
        lambda r: bool(r["badges"]) and all_time(r)["points"] >= 15,
        what="the mentor's points and badge",
    )
    hire = await platform.until(
        "recognition",
        "/people/N-IN/recognition",
        lambda r: all_time(r)["points"] > 0,
        what="the hire's points",
    )

    # 10 for mentoring the session, 5 for the hire's rating of 5; 2 for the hire who attended.
    assert (all_time(mentor)["points"], all_time(mentor)["sessions"]) == (15, 1)
    assert all_time(mentor)["average_rating"] == 5
    assert [b["badge"] for b in mentor["badges"]] == ["first_session"]
    assert all_time(hire)["points"] == 2
    badge_mail = await platform.mail(
        "M-LA", lambda s: s.startswith("You earned a badge"), what="the badge announced to the mentor"
    )
    assert "first session" in badge_mail.subject


async def test_one_correlation_id_traces_the_new_hire_through_every_service_log_without_personal_data(
    platform: Platform, first_session: FirstSession, completed_session: str
) -> None:
    chain = first_session.onboarding_event_id
    # The last link of the chain: recognition folded the session's points.
    await platform.until(
        "recognition",
        "/people/M-LA/recognition",
        lambda r: bool(r["badges"]),
        what="the session's points folded",
    )

    def traced(service: str) -> bool:
        return any(line.get("correlation_id") == chain for line in platform.log_lines(service))

    for service in SERVICES:
        await eventually(partial(traced, service), timeout=10, what=f"{service} logging the hire's chain")
    # Deliveries sent again after a failure are logged in the chain too.
    deliveries = await platform.get("notification", "/deliveries?recipient_id=M-LA&channel=webhook")
    retried = [d["notification_id"] for d in deliveries if d["correlation_id"] == chain and d["attempts"] > 1]
    assert retried
    delivered = {
        line["notification_id"]: line.get("correlation_id")
        for line in platform.log_lines("notification")
        if line.get("event") == "notification delivered"
    }
    assert {delivered.get(n) for n in retried} == {chain}
    logs = "".join(platform.services[s].log.read_text() for s in SERVICES)
    assert HIRE.name not in logs
    assert platform.address("N-IN") not in logs
    assert platform.hook("N-IN", "slack") not in logs  # a webhook URL is a credential


# ------------------------------------------------------------------ flow 3: a mentor leaves


async def test_an_offboarded_mentors_mentee_is_proposed_another_mentor_and_told(platform: Platform) -> None:
    leaving = mentor("M-LEAVES", "Mara Leaving", "kafka-e2e", team="data")
    staying = mentor("M-STAYS", "Milo Staying", "kafka-e2e", skill_level="proficient", team="mobile")
    mentee = Employee(
        "N-KAFKA", "Kim Kafka", level="junior", skills=[{"name": "kafka-e2e", "level": "learning"}]
    )
    await platform.onboard(leaving, staying)
    await platform.onboard(mentee)
    first = (await matches_of(platform, "N-KAFKA", bool, what="the best kafka mentor proposed"))[0]
    assert first["mentor_id"] == "M-LEAVES"
    await accept(platform, first["match_id"], "M-LEAVES", "N-KAFKA")
    await matches_of(
        platform, "N-KAFKA", lambda ms: ms[0]["state"] == "confirmed", what="the first match confirmed"
    )

    await platform.offboard("M-LEAVES")
    matches = await matches_of(
        platform, "N-KAFKA", lambda ms: len(ms) == 2, what="another mentor proposed after the first left"
    )

    states = {m["mentor_id"]: m["state"] for m in matches}
    assert states == {"M-LEAVES": "ended", "M-STAYS": "proposed"}
    ended = await platform.mail(
        "N-KAFKA", lambda s: s.startswith("Your mentorship with"), what="the mentee told the match ended"
    )
    assert "Mara Leaving" in ended.subject
    await platform.mail(
        "N-KAFKA",
        lambda s: s == "We suggest Milo Staying as your mentor",
        what="the mentee told about the new mentor",
    )


# ------------------------------------------------------------------ flow 4: seats and waiting


async def test_office_hours_booked_to_capacity_refuse_the_next_guest_until_a_cancellation_frees_a_seat(
    platform: Platform,
) -> None:
    host = colleague("OH-HOST", "Olga Host")
    guests = [colleague(f"OH-G{n}", f"Guest Number{n}") for n in (1, 2, 3)]
    await platform.onboard(host, *guests)
    soon = datetime.now(UTC) + timedelta(days=2)
    weekday = Weekday(soon.strftime("%A").lower())
    await platform.command(publish_office_hours("oh-e2e", "OH-HOST", weekday=weekday, seats=2, weeks=1))

    def ours(slots: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [s for s in slots if s["office_hours_id"] == "oh-e2e"]

    slot = ours(await platform.until("scheduling", "/office-hours", lambda s: bool(ours(s)), what="slots"))[0]
    slot_start = datetime.fromisoformat(slot["slot_start"])
    for n in (1, 2, 3):
        await platform.command(book("oh-e2e", f"oh-b{n}", f"OH-G{n}", slot_start))

    refused = await platform.mail(
        "OH-G3", lambda s: s == "We could not book those office hours", what="the third guest refused"
    )
    assert "full" in refused.text.lower()
    await platform.until("scheduling", "/office-hours", lambda s: not ours(s), what="the slot shown as full")
    booked = await platform.mail("OH-G1", lambda s: s.startswith("Office hours booked"), what="a seat booked")
    assert (await invite_of(platform, booked)).decoded("DTSTART") == slot_start

    await platform.command(cancel_booking("oh-e2e", "oh-b1", "OH-G1"))
    freed = await platform.until(
        "scheduling", "/office-hours", lambda s: bool(ours(s)), what="the cancelled seat free again"
    )
    assert ours(freed)[0]["seats_left"] == 1
    await platform.command(book("oh-e2e", "oh-b3-again", "OH-G3", slot_start))
    again = await platform.mail(
        "OH-G3", lambda s: s.startswith("Office hours booked"), what="the refused guest booked after all"
    )
    assert (await invite_of(platform, again)).decoded("DTSTART") == slot_start
    await platform.until("scheduling", "/office-hours", lambda s: not ours(s), what="the slot full again")
    await platform.mail(
        "OH-G1", lambda s: s.startswith("Office hours booking cancelled"), what="the cancellation confirmed"
    )


async def test_a_full_group_session_waitlists_the_next_person_and_seats_them_when_someone_cancels(
    platform: Platform,
) -> None:
    host = colleague("GS-HOST", "Greta Host")
    people = [colleague(f"GS-R{n}", f"Reg Number{n}") for n in (1, 2, 3)]
    await platform.onboard(host, *people)
    await platform.command(announce("gs-e2e", "GS-HOST", capacity=2))
    for n in (1, 2, 3):
        await platform.command(register("gs-e2e", f"GS-R{n}"))

    def ours(sessions: list[dict[str, Any]]) -> dict[str, Any]:
        return next((s for s in sessions if s["group_session_id"] == "gs-e2e"), {})

    full = await platform.until(
        "scheduling",
        "/group-sessions",
        lambda s: ours(s).get("waitlist_length") == 1,
        what="two seats taken and one person waiting",
    )
    assert ours(full)["seats_left"] == 0
    waiting = await platform.mail(
        "GS-R3", lambda s: s.startswith("You are on the waiting list"), what="the third told they wait"
    )
    assert "(number 1)" in waiting.subject
    await platform.mail("GS-R2", lambda s: s == "Your seat is reserved", what="the second seated")

    await platform.command(cancel_registration("gs-e2e", "GS-R1"))
    promoted = await platform.mail(
        "GS-R3", lambda s: s == "Good news: a seat opened up for you", what="the waiting person promoted"
    )
    assert str((await invite_of(platform, promoted))["UID"]) == "gs-e2e@mentorship.local"
    after = await platform.until(
        "scheduling",
        "/group-sessions",
        lambda s: ours(s).get("waitlist_length") == 0,
        what="the waitlist empty after the promotion",
    )
    assert ours(after)["seats_left"] == 0


# ------------------------------------------------------------------ flow 5: other forms


async def test_a_reverse_mentorship_is_proposed_accepted_scheduled_and_announced(platform: Platform) -> None:
    junior = colleague(
        "RV-JUNIOR",
        "Ravi Junior",
        level="junior",
        team="data",
        skills=[{"name": "genai-e2e", "level": "proficient"}],
        profile={"preferences": {"reverse_mentorship": True}},
    )
    senior = colleague(
        "RV-SENIOR", "Rita Senior", level="principal", team="platform", profile={"goals": ["genai-e2e"]}
    )
    await platform.onboard(junior, senior)
    await ask(platform, "RV-SENIOR", MentorshipKind.REVERSE, "reverse-mentoring")
    proposed = (await matches_of(platform, "RV-SENIOR", bool, what="a reverse mentor proposed"))[0]
    assert (proposed["kind"], proposed["mentor_id"]) == ("reverse", "RV-JUNIOR")

    await accept(platform, proposed["match_id"], "RV-JUNIOR", "RV-SENIOR")
    await matches_of(
        platform, "RV-SENIOR", lambda ms: ms[0]["state"] == "confirmed", what="the reverse match confirmed"
    )
    session = (await sessions_of(platform, "RV-SENIOR", what="the reverse pair's first session"))[0]
    assert session["host_ids"] == ["RV-JUNIOR"]
    for person in ("RV-JUNIOR", "RV-SENIOR"):
        mail = await platform.mail(
            person, lambda s: s.startswith("Session booked"), what=f"{person} invited to the session"
        )
        assert str((await invite_of(platform, mail))["UID"]) == f"{session['session_id']}@mentorship.local"


async def test_a_circles_round_forms_a_peer_circle_that_is_scheduled_and_announced(
    platform: Platform,
) -> None:
    peers = [
        Employee(
            f"PC-{n}", f"Peer Number{n}", team=f"team-{n}", programmes=["circles"], interests=["rust-e2e"]
        )
        for n in range(1, 5)
    ]
    await platform.onboard(*peers)
    round_ = RunCohortRoundData(round_id="circles-e2e", programme_id="circles", requested_by="OPS")
    await platform.command(RunCohortRound.create(round_, source="ops"))

    circle = (await platform.until("matching", "/people/PC-2/circles", bool, what="a circle formed"))[0]
    assert (circle["topic"], sorted(circle["member_ids"])) == ("rust-e2e", [p.person_id for p in peers])
    session = (await sessions_of(platform, "PC-3", what="the circle's first session"))[0]
    assert (session["kind"], session["match_id"]) == ("circle", circle["circle_id"])
    for peer in peers:
        await platform.mail(
            peer.person_id,
            lambda s: s == "Your peer circle on rust-e2e is ready",
            what="the circle announced",
        )
        await platform.mail(
            peer.person_id, lambda s: s.startswith("Session booked"), what="the circle's session announced"
        )


async def test_an_advisory_board_is_seated_for_different_goals_scheduled_and_announced(
    platform: Platform,
) -> None:
    goals = ["bd-strategy", "bd-finance", "bd-hiring"]
    board_mentors = [
        mentor(f"BD-M{n}", f"Board Mentor{n}", goal, team=f"board-{n}") for n, goal in enumerate(goals)
    ]
    mentee = colleague("BD-MENTEE", "Bea Mentee", team="sales", profile={"goals": goals})
    await platform.onboard(*board_mentors, mentee)
    await ask(platform, "BD-MENTEE", MentorshipKind.ADVISORY_BOARD, "advisory-board")

    seats = await matches_of(platform, "BD-MENTEE", lambda ms: len(ms) == 3, what="a board of three seated")
    assert {(s["mentor_id"], s["strength"]) for s in seats} == {
        (m.person_id, goal) for m, goal in zip(board_mentors, goals, strict=True)
    }
    assert {s["state"] for s in seats} == {"confirmed"}
    session = (await sessions_of(platform, "BD-MENTEE", what="the board's first session"))[0]
    assert (session["kind"], sorted(session["host_ids"])) == (
        "advisory_board",
        [m.person_id for m in board_mentors],
    )
    await platform.mail(
        "BD-MENTEE", lambda s: s == "Your personal advisory board is ready", what="the board announced"
    )
    for board_mentor in board_mentors:
        await platform.mail(
            board_mentor.person_id,
            lambda s: s == "You are on Bea Mentee's advisory board",
            what="a mentor told about their seat",
        )
    await platform.mail(
        "BD-MENTEE", lambda s: s.startswith("Session booked"), what="the board's session announced"
    )
