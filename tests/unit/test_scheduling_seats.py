"""Office hours and group sessions: the slots a series publishes, who may book them and why not,
and seats with a waitlist that moves up when someone cancels."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.common import Weekday
from contracts.scheduling import PublishOfficeHoursData, RefusalReason
from services.scheduling.seats import (
    Booked,
    Booking,
    BookingCancelled,
    GroupRoster,
    OfficeHoursSeries,
    OnWaitlist,
    Refused,
    Seated,
    Withdrawn,
    cancel_registration,
    decide_booking,
    decide_cancellation,
    office_hour_slots,
    register,
    series_from,
)

BERLIN = ZoneInfo("Europe/Berlin")
PUBLISHED = datetime(2026, 10, 14, 12, 0, tzinfo=UTC)  # a Wednesday
NOW = PUBLISHED


def command(**changes: object) -> PublishOfficeHoursData:
    fields: dict[str, object] = {
        "office_hours_id": "oh-1",
        "host_id": "host",
        "title": "Ask me about Kafka",
        "weekday": Weekday.THURSDAY,
        "start": time(16, 0),
        "duration_minutes": 30,
        "time_zone": "Europe/Berlin",
        "seats": 2,
        "weeks": 4,
    }
    return PublishOfficeHoursData.model_validate(fields | changes)


SERIES = series_from(command(), published_at=PUBLISHED)
FIRST, SECOND = SERIES.slot_starts[0], SERIES.slot_starts[1]


def booking(booking_id: str, person_id: str, slot: datetime = FIRST) -> Booking:
    return Booking(booking_id=booking_id, person_id=person_id, slot_start=slot)


def refusal(outcome: object) -> RefusalReason | None:
    return outcome.reason if isinstance(outcome, Refused) else None


# ------------------------------------------------------------------ office hours


def test_office_hours_keep_the_hosts_local_time_across_the_october_clock_change() -> None:
    slots = office_hour_slots(command(), published_at=PUBLISHED)

    assert [s.astimezone(BERLIN).isoformat() for s in slots] == [
        "2026-10-15T16:00:00+02:00",
        "2026-10-22T16:00:00+02:00",
        "2026-10-29T16:00:00+01:00",
        "2026-11-05T16:00:00+01:00",
    ]
    assert all(s.tzinfo is UTC for s in slots)


def test_a_slot_later_on_the_day_of_publishing_is_the_first_one() -> None:
    wednesday_evening = command(weekday=Weekday.WEDNESDAY, start=time(17, 0), weeks=1)

    assert office_hour_slots(wednesday_evening, published_at=PUBLISHED) == (
        datetime(2026, 10, 14, 15, tzinfo=UTC),
    )


def test_a_slot_already_begun_on_the_day_of_publishing_waits_a_week() -> None:
    wednesday_morning = command(weekday=Weekday.WEDNESDAY, start=time(9, 0), weeks=1)

    assert office_hour_slots(wednesday_morning, published_at=PUBLISHED) == (
        datetime(2026, 10, 21, 7, tzinfo=UTC),
    )


def test_a_booking_in_a_free_slot_is_accepted_with_the_seats_left() -> None:
    outcome = decide_booking(SERIES, [], booking("b1", "mentee-1"), now=NOW)

    assert outcome == Booked(booking=booking("b1", "mentee-1"), seats_left=1)


def test_a_slot_that_is_not_part_of_the_series_is_refused() -> None:
    off_series = FIRST + timedelta(minutes=30)

    assert (
        refusal(decide_booking(SERIES, [], booking("b1", "m", off_series), now=NOW))
        is RefusalReason.NO_SUCH_SLOT
    )


def test_a_slot_in_the_past_is_refused() -> None:
    assert refusal(decide_booking(SERIES, [], booking("b1", "m"), now=FIRST)) is RefusalReason.IN_THE_PAST


def test_booking_the_same_slot_twice_is_refused_as_a_double_booking() -> None:
    outcome = decide_booking(SERIES, [booking("b1", "m")], booking("b2", "m"), now=NOW)

    assert refusal(outcome) is RefusalReason.ALREADY_BOOKED


def test_the_same_person_may_book_another_slot_of_the_series() -> None:
    outcome = decide_booking(SERIES, [booking("b1", "m")], booking("b2", "m", SECOND), now=NOW)

    assert isinstance(outcome, Booked)
    assert outcome.seats_left == 1


def test_a_full_slot_is_refused_rather_than_overbooked() -> None:
    taken = [booking("b1", "a"), booking("b2", "b")]

    outcome = decide_booking(SERIES, taken, booking("b3", "c"), now=NOW)

    assert refusal(outcome) is RefusalReason.FULL
    assert isinstance(outcome, Refused)
    assert "full" in outcome.message


def test_the_host_cannot_book_their_own_office_hours() -> None:
    outcome = decide_booking(SERIES, [], booking("b1", "host"), now=NOW)

    assert refusal(outcome) is RefusalReason.NOT_A_PARTICIPANT


def test_a_redelivered_booking_is_recognised_and_not_counted_twice() -> None:
    recorded = [booking("b1", "a")]

    outcome = decide_booking(SERIES, recorded, booking("b1", "a"), now=NOW)

    assert outcome == Booked(booking=booking("b1", "a"), seats_left=1, replayed=True)


def test_a_slot_given_in_another_offset_is_the_same_slot() -> None:
    in_berlin = FIRST.astimezone(BERLIN)

    outcome = decide_booking(SERIES, [booking("b1", "a")], booking("b2", "a", in_berlin), now=NOW)

    assert refusal(outcome) is RefusalReason.ALREADY_BOOKED


def test_a_person_cancels_their_own_booking_before_the_slot() -> None:
    mine = booking("b1", "a")

    assert decide_cancellation([mine], booking_id="b1", person_id="a", now=NOW) == BookingCancelled(mine)
    cancelled_by_other = decide_cancellation([mine], booking_id="b1", person_id="b", now=NOW)
    assert refusal(cancelled_by_other) is RefusalReason.NOT_A_PARTICIPANT
    assert (
        refusal(decide_cancellation([mine], booking_id="b1", person_id="a", now=FIRST))
        is RefusalReason.IN_THE_PAST
    )


def test_cancelling_a_booking_that_is_gone_changes_nothing() -> None:
    assert decide_cancellation([], booking_id="b1", person_id="a", now=NOW) is None


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 3)), max_size=40))
def test_no_slot_is_ever_overbooked_nor_anyone_booked_twice_in_a_slot(
    requests: list[tuple[str, int]],
) -> None:
    series = OfficeHoursSeries("oh", "host", SERIES.slot_starts, 30, seats=3)
    bookings: list[Booking] = []
    for n, (person, slot) in enumerate(requests):
        outcome = decide_booking(
            series, bookings, booking(f"b{n}", person, series.slot_starts[slot]), now=NOW
        )
        if isinstance(outcome, Booked) and not outcome.replayed:
            bookings.append(outcome.booking)

    for start in series.slot_starts:
        people = [b.person_id for b in bookings if b.slot_start == start]
        assert len(people) <= series.seats
        assert len(people) == len(set(people))


# ------------------------------------------------------------------ group sessions

TALK = GroupRoster("talk-1", "speaker", starts_at=datetime(2026, 11, 3, 12, tzinfo=UTC), capacity=2)


def test_registrations_take_seats_then_queue_on_the_waitlist() -> None:
    roster, outcomes = TALK, []
    for person in "abcd":
        outcome = register(roster, person, now=NOW)
        assert not isinstance(outcome, Refused)
        roster = outcome.roster
        outcomes.append(outcome)

    assert [type(o) for o in outcomes] == [Seated, Seated, OnWaitlist, OnWaitlist]
    assert [o.seats_left if isinstance(o, Seated) else o.position for o in outcomes] == [1, 0, 1, 2]
    assert roster.seated == ("a", "b")
    assert roster.waitlist == ("c", "d")


def test_registering_again_returns_the_same_seat_or_place() -> None:
    roster = replace(TALK, seated=("a", "b"), waitlist=("c",))

    assert register(roster, "a", now=NOW) == Seated(roster, "a", 0, replayed=True)
    assert register(roster, "c", now=NOW) == OnWaitlist(roster, "c", 1, replayed=True)


def test_a_cancelled_seat_goes_to_the_first_person_waiting() -> None:
    roster = replace(TALK, seated=("a", "b"), waitlist=("c", "d"))

    outcome = cancel_registration(roster, "a")

    assert isinstance(outcome, Withdrawn)
    assert outcome.roster.seated == ("b", "c")
    assert outcome.roster.waitlist == ("d",)
    assert outcome.promoted == Seated(outcome.roster, "c", 0, promoted_from_waitlist=True)


def test_leaving_the_waitlist_moves_the_people_behind_up() -> None:
    roster = replace(TALK, seated=("a", "b"), waitlist=("c", "d"))

    outcome = cancel_registration(roster, "c")

    assert outcome is not None
    assert outcome.promoted is None
    assert outcome.roster.waitlist == ("d",)
    assert register(outcome.roster, "d", now=NOW) == OnWaitlist(outcome.roster, "d", 1, replayed=True)


def test_cancelling_without_a_registration_changes_nothing() -> None:
    assert cancel_registration(TALK, "nobody") is None


def test_the_host_cannot_register_and_nobody_can_after_the_start() -> None:
    assert refusal(register(TALK, "speaker", now=NOW)) is RefusalReason.NOT_A_PARTICIPANT
    assert refusal(register(TALK, "a", now=TALK.starts_at)) is RefusalReason.IN_THE_PAST


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=1, max_value=4),
    st.lists(st.tuples(st.booleans(), st.sampled_from("abcdefg")), max_size=40),
)
def test_seats_never_exceed_capacity_and_nobody_waits_while_a_seat_is_free(
    capacity: int, actions: list[tuple[bool, str]]
) -> None:
    roster = GroupRoster("g", "host", TALK.starts_at, capacity)
    for joins, person in actions:
        if joins:
            outcome = register(roster, person, now=NOW)
            assert not isinstance(outcome, Refused)
            roster = outcome.roster
        else:
            left = cancel_registration(roster, person)
            roster = roster if left is None else left.roster
        assert len(roster.seated) <= capacity
        assert not (roster.waitlist and roster.seats_left)
        assert len(set(roster.seated + roster.waitlist)) == len(roster.seated) + len(roster.waitlist)
