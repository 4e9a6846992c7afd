"""The forms of mentorship a request can ask for, and who may be the mentor in each.

- one to one: any active mentor with capacity;
- external: only mentors registered as external; asking for one is the mentee's opt-in;
- reverse: a more junior person who volunteered for reverse mentoring and whose skills
  cover at least one of the senior's learning goals; one reverse mentee at a time unless
  they also offered regular mentoring capacity;
- peer circles and advisory boards have their own modules (``circles``, ``boards``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from contracts.common import MentorshipKind
from contracts.profile import MatchingPreferences
from contracts.programmes import Programme
from services.matching.candidates import Candidate

# Forms that pair one mentee with one mentor through a proposal both sides answer.
PAIRED_FORMS = frozenset({MentorshipKind.ONE_TO_ONE, MentorshipKind.EXTERNAL, MentorshipKind.REVERSE})


class UnknownProgramme(LookupError):
    pass


def programme_for(kind: MentorshipKind, programme_id: str, programmes: Mapping[str, Programme]) -> Programme:
    """The programme a request belongs to: the one named when it runs this form; for circles,
    boards and reverse mentoring asked for under another programme, the first programme that
    runs that form. External mentors are a one-to-one form within any programme."""
    named = programmes.get(programme_id)
    wanted = MentorshipKind.ONE_TO_ONE if kind is MentorshipKind.EXTERNAL else kind
    if named is not None and named.kind is wanted:
        return named
    if wanted is not MentorshipKind.ONE_TO_ONE:
        for programme in programmes.values():
            if programme.kind is wanted:
                return programme
        raise UnknownProgramme(f"no programme runs {kind.value} mentorship")
    if named is None:
        raise UnknownProgramme(f"there is no programme {programme_id!r}")
    raise UnknownProgramme(f"programme {programme_id!r} runs {named.kind.value}, not one-to-one mentorship")


def request_key(mentee_id: str, programme_id: str, kind: MentorshipKind) -> str:
    """One live request per person, programme and form; the one-to-one key is the one
    automatic enrolment uses, so asking again joins the request already open."""
    if kind is MentorshipKind.ONE_TO_ONE:
        return f"{mentee_id}:{programme_id}"
    return f"{mentee_id}:{programme_id}:{kind.value}"


def as_mentee(kind: MentorshipKind, mentee: Candidate) -> Candidate:
    """The mentee as ranking should see them: asking for an external mentor is opting in."""
    if kind is MentorshipKind.EXTERNAL and not mentee.preferences.external_mentor:
        preferences = MatchingPreferences.model_validate(
            {**mentee.preferences.model_dump(), "external_mentor": True}
        )
        return replace(mentee, preferences=preferences)
    return mentee


def mentors_for(kind: MentorshipKind, mentee: Candidate, people: Iterable[Candidate]) -> list[Candidate]:
    """Who may mentor ``mentee`` in this form (hard constraints still apply on top)."""
    if kind is MentorshipKind.EXTERNAL:
        return [person for person in people if person.mentor and person.external]
    if kind is MentorshipKind.REVERSE:
        return [
            replace(person, mentor_capacity=max(person.mentor_capacity, 1))
            for person in people
            if _can_reverse_mentor(person, mentee)
        ]
    return [person for person in people if person.mentor]


def _can_reverse_mentor(person: Candidate, senior: Candidate) -> bool:
    return (
        person.active
        and not person.external
        and person.preferences.reverse_mentorship
        and person.level_rank is not None
        and senior.level_rank is not None
        and person.level_rank < senior.level_rank
        and bool(senior.goals & person.skills.keys())
    )
