"""A made-up organisation and what its people do, as the inbound messages other systems send.

Pure: the same seed gives the same messages (and the same ids), so a second run of the demo is
a replay the services recognise, not a second organisation.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from contracts.catalogue import HR_EMPLOYEES, MATCHING_COMMANDS, PROFILE_COMMANDS, SCHEDULING_COMMANDS

NAMESPACE = uuid.UUID("0b6f5f1e-4a53-4d8f-9c1e-5d7e2f1a9c33")

# Teams sit in one region each, as most do; a few people work away from their team.
REGIONS: dict[str, tuple[str, ...]] = {
    "europe": ("Europe/Berlin", "Europe/London", "Europe/Madrid", "Africa/Lagos"),
    "americas": ("America/New_York", "America/Los_Angeles", "America/Sao_Paulo", "America/Chicago"),
    "apac": ("Asia/Kolkata", "Asia/Singapore", "Australia/Sydney", "Asia/Tokyo"),
}
TEAMS: dict[str, str] = {
    "payments": "europe",
    "platform": "europe",
    "data": "europe",
    "mobile": "americas",
    "growth": "americas",
    "security": "americas",
    "search": "apac",
    "support-tools": "apac",
}
SKILLS = (
    "python",
    "kafka",
    "kubernetes",
    "react",
    "sql",
    "security",
    "ux-research",
    "leadership",
    "go",
    "testing",
)
LANGUAGES = ("en", "de", "es", "pt", "hi", "ja", "fr")
FIRST = (
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Linus",
    "Margaret",
    "Tim",
    "Radia",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Hedy",
    "Donald",
    "Shafi",
    "Leslie",
    "Sophie",
    "Yukihiro",
    "Anita",
)
LAST = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Johnson",
    "Torvalds",
    "Hamilton",
    "Berners",
    "Perlman",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Lamarr",
    "Knuth",
    "Goldwasser",
    "Lamport",
    "Wilson",
    "Matsumoto",
    "Borg",
)
STAFF_LEVELS = ("mid", "senior", "senior", "staff", "principal", "manager")
HIRE_LEVELS = ("intern", "junior", "junior", "mid", "mid", "senior")
CIRCLE_COHORT = 5
OCCURRED = datetime(2026, 11, 1, 9, tzinfo=UTC)


def demo_id(*parts: str) -> str:
    """A stable id for a demo message or record."""
    return str(uuid.uuid5(NAMESPACE, ":".join(parts)))


@dataclass(frozen=True)
class Message:
    """One message as an outside system would send it: logical topic, key, JSON body."""

    topic: str
    key: str
    body: dict[str, object]
    not_before: datetime | None = None  # sent at this time (people act later, not at once)

    @property
    def type(self) -> str:
        return str(self.body["type"])


def message(topic: str, key: str, kind: str, payload: dict[str, object], *parts: str, source: str) -> Message:
    body: dict[str, object] = {
        "event_id": demo_id(kind, *parts),
        "type": kind,
        "source": source,
        "occurred_at": OCCURRED.isoformat(),
        "payload": payload,
    }
    return Message(topic, key, body)


@dataclass(frozen=True)
class Person:
    person_id: str
    team: str
    level: str
    time_zone: str
    skills: tuple[str, ...]
    new_hire: bool
    interests: tuple[str, ...] = ()


@dataclass
class Organisation:
    """What the demo sends, in the order it sends it (each stage waits for the one before)."""

    people: list[Person] = field(default_factory=list)
    staff: list[Message] = field(default_factory=list)
    volunteers: list[Message] = field(default_factory=list)
    new_hires: list[Message] = field(default_factory=list)
    hire_profiles: list[Message] = field(default_factory=list)
    early_requests: list[Message] = field(default_factory=list)
    activities: list[Message] = field(default_factory=list)
    rounds: list[Message] = field(default_factory=list)

    @property
    def mentors(self) -> list[str]:
        return [m.key for m in self.volunteers if _opted_in(m)]


def _opted_in(command: Message) -> bool:
    payload = command.body["payload"]
    return isinstance(payload, dict) and bool(payload.get("mentor", {}).get("opted_in"))


def _working_week(rng: random.Random, days: int) -> list[dict[str, str]]:
    weekdays = ("monday", "tuesday", "wednesday", "thursday", "friday")
    start = rng.choice(("08:00", "09:00", "10:00"))
    end = {"08:00": "16:00", "09:00": "17:00", "10:00": "18:00"}[start]
    return [{"weekday": d, "start": start, "end": end} for d in sorted(rng.sample(weekdays, k=days))]


def _contact(rng: random.Random, person_id: str, chat_url: str) -> dict[str, object]:
    """A mix of preferences: email only, or email and one chat channel; some want digests."""
    choice = rng.random()
    contact: dict[str, object] = {"channels": ["email"], "digest": rng.random() < 0.15}
    if choice < 0.35:
        contact |= {"channels": ["email", "slack"], "slack_webhook_url": f"{chat_url}/slack/{person_id}"}
    elif choice < 0.5:
        contact |= {"channels": ["email", "teams"], "teams_webhook_url": f"{chat_url}/teams/{person_id}"}
    elif choice < 0.6:
        contact |= {"channels": ["email", "webhook"], "webhook_url": f"{chat_url}/webhook/{person_id}"}
    if rng.random() < 0.1:
        contact["quiet_hours"] = {"start": "20:00", "end": "07:00"}
    return contact


def _onboarding(rng: random.Random, person: Person, manager_id: str | None, start: date) -> Message:
    payload: dict[str, object] = {
        "employee_id": person.person_id,
        "full_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "work_email": f"{person.person_id.lower()}@demo.example",
        "start_date": start.isoformat(),
        "title": "Engineer" if person.level in ("intern", "junior", "mid") else "Senior Engineer",
        "level": person.level,
        "team": person.team,
        "time_zone": person.time_zone,
        "skills": [
            {"name": s, "level": rng.choice(("working", "proficient", "expert"))} for s in person.skills
        ],
        "interests": list(person.interests) or rng.sample(SKILLS, k=2),
    }
    if manager_id:
        payload["manager_id"] = manager_id
    if not person.new_hire:
        # Existing staff are not new hires: they join the career programme, not onboarding.
        payload["programmes"] = ["career-growth"]
    return message(
        HR_EMPLOYEES.name, person.person_id, "employee.onboarded", payload, person.person_id, source="demo-hr"
    )


def _person(rng: random.Random, index: int, new_hire: bool) -> Person:
    team = rng.choice(tuple(TEAMS))
    region = TEAMS[team] if rng.random() < 0.85 else rng.choice(tuple(REGIONS))
    return Person(
        person_id=f"{'H' if new_hire else 'S'}{index:04d}",
        team=team,
        level=rng.choice(HIRE_LEVELS if new_hire else STAFF_LEVELS),
        time_zone=rng.choice(REGIONS[region]),
        skills=tuple(rng.sample(SKILLS, k=rng.randint(1 if new_hire else 2, 4))),
        new_hire=new_hire,
    )


def demo_organisation(people: int, chat_url: str, now: datetime, seed: int = 7) -> Organisation:
    """About two in five are existing staff (most of them willing to mentor), the rest new hires."""
    if people < 12:
        raise ValueError("the demo needs at least 12 people to show every form of mentorship")
    rng = random.Random(seed)
    org = Organisation()
    staff_count = max(6, people * 2 // 5)
    staff = [_person(rng, i, new_hire=False) for i in range(staff_count)]
    hires = [_person(rng, i, new_hire=True) for i in range(people - staff_count)]
    # The first few new hires start together in one team: a cohort that makes a peer circle.
    cohort_zones = REGIONS["europe"][:3]
    for i in range(CIRCLE_COHORT):
        zone, interests = cohort_zones[i % 3], ("kafka", "python")
        hires[i] = replace(hires[i], team="platform", level="junior", time_zone=zone, interests=interests)
    # A mid-level engineer who mentors nobody asks for an advisory board before the new
    # hires take the mentors' seats.
    board_seeker = next((p for p in staff if p.level == "mid"), staff[-1])
    org.people = staff + hires
    managers = {
        team: next((p.person_id for p in staff if p.team == team and p.level == "manager"), None)
        for team in TEAMS
    }
    for person in staff:
        manager = managers[person.team] if managers[person.team] != person.person_id else None
        org.staff.append(_onboarding(rng, person, manager, date(2024, 3, 1)))
        volunteering = person.level != "mid" and rng.random() < 0.8 and person is not board_seeker
        goals = 3 if person is board_seeker else 2
        update: dict[str, object] = {
            "person_id": person.person_id,
            "languages": ["en", *rng.sample(LANGUAGES[1:], k=rng.randint(0, 1))],
            "availability": _working_week(rng, days=3),
            "goals": rng.sample([s for s in SKILLS if s not in person.skills], k=goals),
            "contact": _contact(rng, person.person_id, chat_url),
        }
        if volunteering:
            update["mentor"] = {"opted_in": True, "capacity": rng.randint(1, 3)}
        org.volunteers.append(
            message(
                PROFILE_COMMANDS.name,
                person.person_id,
                "profile.update",
                update,
                person.person_id,
                "volunteers",
                source="demo-web",
            )
        )
    for index in range(max(2, people // 60)):
        person_id = f"X{index:03d}"
        org.volunteers.append(
            message(
                PROFILE_COMMANDS.name,
                person_id,
                "profile.register_external_mentor",
                {
                    "person_id": person_id,
                    "display_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    "email": f"{person_id.lower()}@partner.example",
                    "organisation": rng.choice(("Open Source Foundation", "University Lab", "Partner Co")),
                    "time_zone": rng.choice(REGIONS["europe"] + REGIONS["americas"]),
                    "skills": [{"name": s, "level": "expert"} for s in rng.sample(SKILLS, k=3)],
                    "capacity": 2,
                    "languages": ["en"],
                    "availability": _working_week(rng, days=2),
                },
                person_id,
                source="demo-partners",
            )
        )
    for person in hires:
        manager = managers[person.team]
        org.new_hires.append(
            _onboarding(rng, person, manager, date(2026, 12, 1) + timedelta(days=rng.randint(0, 20)))
        )
        preferences: dict[str, object] = {"external_mentor": rng.random() < 0.1}
        if person.level in ("intern", "junior") and rng.random() < 0.3:
            preferences["reverse_mentorship"] = True
        org.hire_profiles.append(
            message(
                PROFILE_COMMANDS.name,
                person.person_id,
                "profile.update",
                {
                    "person_id": person.person_id,
                    "goals": rng.sample([s for s in SKILLS if s not in person.skills], k=rng.randint(1, 3)),
                    "languages": ["en"],
                    "availability": _working_week(rng, days=4),
                    "preferences": preferences,
                    "contact": _contact(rng, person.person_id, chat_url),
                },
                person.person_id,
                "profile",
                source="demo-web",
            )
        )
    org.early_requests = [_request(board_seeker, "advisory_board", "advisory-board")]
    org.activities, org.rounds = _activities(staff, hires, now)
    return org


def _activities(
    staff: list[Person], hires: list[Person], now: datetime
) -> tuple[list[Message], list[Message]]:
    """Office hours, a talk, a reverse mentorship and peer circle requests;
    then the circles round (sent once the requests are waiting, as they travel on other keys)."""
    seniors = [p for p in staff if p.level in ("staff", "principal", "manager")] or staff
    host, speaker, learner = seniors[0], seniors[-1], seniors[len(seniors) // 2]
    talk_start = now.replace(hour=15, minute=0, second=0, microsecond=0) + timedelta(days=7)
    circle_members = hires[:CIRCLE_COHORT]
    office_hours_id = demo_id("office-hours", host.person_id)
    talk_id = demo_id("talk", speaker.person_id)
    activities = [
        message(
            SCHEDULING_COMMANDS.name,
            office_hours_id,
            "scheduling.publish_office_hours",
            {
                "office_hours_id": office_hours_id,
                "host_id": host.person_id,
                "title": "Ask me about system design",
                "topics": ["architecture"],
                "weekday": "wednesday",
                "start": "10:00",
                "duration_minutes": 60,
                "time_zone": host.time_zone,
                "seats": 3,
                "weeks": 4,
            },
            host.person_id,
            "office-hours",
            source="demo-web",
        ),
        message(
            SCHEDULING_COMMANDS.name,
            talk_id,
            "scheduling.announce_group_session",
            {
                "group_session_id": talk_id,
                "host_id": speaker.person_id,
                "format": "tech_talk",
                "title": "How our event pipeline keeps promises",
                "topics": ["kafka"],
                "starts_at": talk_start.isoformat(),
                "duration_minutes": 45,
                "time_zone": speaker.time_zone,
                "capacity": 8,
            },
            speaker.person_id,
            "talk",
            source="demo-web",
        ),
        _request(learner, "reverse", "reverse-mentoring"),
    ]
    activities += [_request(member, "peer_circle", "circles") for member in circle_members]
    rounds = [
        message(
            MATCHING_COMMANDS.name,
            "circles",
            "matching.run_cohort_round",
            {
                "round_id": demo_id("round", "circles"),
                "programme_id": "circles",
                "requested_by": host.person_id,
            },
            "circles",
            "round",
            source="demo-ops",
        )
    ]
    return activities, rounds


def _request(person: Person, kind: str, programme_id: str) -> Message:
    return message(
        MATCHING_COMMANDS.name,
        person.person_id,
        "matching.request_mentorship",
        {
            "request_id": demo_id(kind, person.person_id),
            "requester_id": person.person_id,
            "kind": kind,
            "programme_id": programme_id,
        },
        person.person_id,
        kind,
        source="demo-web",
    )
