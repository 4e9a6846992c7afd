"""Simulated people: how the demo's employees answer what the platform tells them.

Pure: each platform event (and the time it is seen) maps to the commands a person would send
back through the public command topics. Choices are derived from ids, not from a random
generator, so a replayed event gets the same answer under the same id (the services ignore it
twice).

A first session is days away and its outcome can only be recorded once it started, so half
the pairs move their first session to a couple of minutes from now, meet, and report how it
went: that is how the demo shows sessions completing and mentors earning points and badges.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from contracts.catalogue import MATCHING_COMMANDS, RECOGNITION_COMMANDS, SCHEDULING_COMMANDS
from deploy.local.demo.organisation import Message, demo_id, message

OFFICE_HOURS_VISITORS = 4  # one more than the seats, so the last is refused
TALK_REGISTRATIONS = 10  # two more than the capacity, so two wait
MEET_IN = timedelta(seconds=90)  # how soon a pair that meets at once moves its first session
REPORT_AFTER = timedelta(seconds=5)  # how long after the start they report how it went


def _one_in(n: int, *parts: str) -> bool:
    digest = hashlib.sha256(":".join(parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") % n == 0


@dataclass
class People:
    """Who answers; remembers only what a person would (which match had its first session)."""

    new_hires: list[str]
    first_sessions: set[str] = field(default_factory=set)
    meeting_now: set[str] = field(default_factory=set)
    thanked: set[str] = field(default_factory=set)
    now: datetime | None = None

    def react(self, event: dict[str, Any], now: datetime) -> list[Message]:
        self.now = now
        payload = event.get("payload") or {}
        handler = getattr(self, "_" + str(event.get("type", "")).replace(".", "_"), None)
        return handler(payload) if handler else []

    def _matching_match_proposed(self, p: dict[str, Any]) -> list[Message]:
        match_id = p["match_id"]
        # About one mentee in eight finds the proposal not a fit; the next best mentor follows.
        if p["kind"] == "one_to_one" and _one_in(8, match_id, "decline"):
            return [_answer(match_id, p["mentee_id"], "decline", reason="not_a_fit")]
        return [_answer(match_id, p["mentor_id"], "accept"), _answer(match_id, p["mentee_id"], "accept")]

    def _scheduling_session_scheduled(self, p: dict[str, Any]) -> list[Message]:
        series = p.get("match_id") or p["session_id"]
        if series in self.first_sessions:
            return []
        self.first_sessions.add(series)
        if p["kind"] != "mentoring" or not _one_in(2, series, "meet now") or self.now is None:
            return []
        session_id, mentee = p["session_id"], p["participant_ids"][0]
        self.meeting_now.add(session_id)
        new_start = (self.now + MEET_IN).replace(microsecond=0)
        return [
            message(
                SCHEDULING_COMMANDS.name,
                session_id,
                "scheduling.reschedule_session",
                {
                    "session_id": session_id,
                    "requested_by": mentee,
                    "new_start": new_start.isoformat(),
                    "reason": "We both have time right now.",
                },
                session_id,
                "meet now",
                source="demo-web",
            )
        ]

    def _scheduling_session_rescheduled(self, p: dict[str, Any]) -> list[Message]:
        session_id = p["session_id"]
        if session_id not in self.meeting_now:
            return []
        self.meeting_now.discard(session_id)
        host, guest = p["host_ids"][0], p["participant_ids"][0]
        after = datetime.fromisoformat(p["starts_at"]) + REPORT_AFTER
        # The mentor confirms it happened; the mentee rates it.
        return [
            _outcome(session_id, host, rating=None, at=after),
            _outcome(session_id, guest, rating=5 if _one_in(3, session_id) else 4, at=after),
        ]

    def _scheduling_session_completed(self, p: dict[str, Any]) -> list[Message]:
        # A session's outcome may be reported twice (mentor, then mentee): thank once.
        session_id = p["session_id"]
        if not p["attended_ids"] or session_id in self.thanked or not _one_in(3, session_id, "kudos"):
            return []
        self.thanked.add(session_id)
        giver, mentor = p["attended_ids"][0], p["host_ids"][0]
        kudos_id = demo_id("kudos", p["session_id"], giver)
        return [
            message(
                RECOGNITION_COMMANDS.name,
                mentor,
                "recognition.give_kudos",
                {
                    "kudos_id": kudos_id,
                    "from_id": giver,
                    "to_id": mentor,
                    "session_id": p["session_id"],
                    "message": "Thank you for making my first weeks easier!",
                },
                kudos_id,
                source="demo-web",
            )
        ]

    def _scheduling_office_hours_published(self, p: dict[str, Any]) -> list[Message]:
        office_hours_id, slot = p["office_hours_id"], p["slot_starts"][0]
        bookings = []
        for person_id in self.new_hires[:OFFICE_HOURS_VISITORS]:
            booking_id = demo_id("booking", office_hours_id, person_id)
            bookings.append(
                message(
                    SCHEDULING_COMMANDS.name,
                    office_hours_id,
                    "scheduling.book_office_hours",
                    {
                        "booking_id": booking_id,
                        "office_hours_id": office_hours_id,
                        "slot_start": slot,
                        "person_id": person_id,
                        "question": "How do you split a service in two?",
                    },
                    booking_id,
                    source="demo-web",
                )
            )
        return bookings

    def _scheduling_group_session_announced(self, p: dict[str, Any]) -> list[Message]:
        talk_id = p["group_session_id"]
        return [
            message(
                SCHEDULING_COMMANDS.name,
                talk_id,
                "scheduling.register_for_group_session",
                {"group_session_id": talk_id, "person_id": person_id},
                talk_id,
                person_id,
                source="demo-web",
            )
            for person_id in self.new_hires[-TALK_REGISTRATIONS:]
        ]

    def _scheduling_seat_reserved(self, p: dict[str, Any]) -> list[Message]:
        # When the talk fills up, its first registrant cannot make it after all: the seat
        # goes to the first person waiting.
        first = self.new_hires[-TALK_REGISTRATIONS]
        if p["seats_left"] != 0 or p["promoted_from_waitlist"] or p["person_id"] == first:
            return []
        talk_id = p["group_session_id"]
        return [
            message(
                SCHEDULING_COMMANDS.name,
                talk_id,
                "scheduling.cancel_group_registration",
                {"group_session_id": talk_id, "person_id": first},
                talk_id,
                first,
                "cancel",
                source="demo-web",
            )
        ]


def _answer(match_id: str, responder: str, decision: str, **extra: str) -> Message:
    return message(
        MATCHING_COMMANDS.name,
        match_id,
        "matching.respond_to_proposal",
        {"match_id": match_id, "responder_id": responder, "decision": decision, **extra},
        match_id,
        responder,
        decision,
        source="demo-web",
    )


def _outcome(session_id: str, person_id: str, rating: int | None, at: datetime) -> Message:
    payload: dict[str, object] = {"session_id": session_id, "recorded_by": person_id, "attended": True}
    if rating is not None:
        payload["rating"] = rating
    return replace(
        message(
            SCHEDULING_COMMANDS.name,
            session_id,
            "scheduling.record_session_outcome",
            payload,
            session_id,
            person_id,
            source="demo-web",
        ),
        not_before=at,
    )
