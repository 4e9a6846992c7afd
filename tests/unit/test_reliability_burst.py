"""The reliability suite's burst: what it sends must be safe to send twice, and what it expects
people to be told on must not depend on the order events arrive in."""

from __future__ import annotations

from contracts.catalogue import decode_object
from tests.reliability.burst import Population


def _population() -> Population:
    population = Population("ns", "http://127.0.0.1:1")
    population.setup_mentors(4)
    return population


def test_a_burst_built_again_has_the_same_ids_so_a_resend_is_a_redelivery() -> None:
    first, second = _population(), _population()
    ids = [m.body["event_id"] for m in first.burst(0, 30)]
    assert ids == [m.body["event_id"] for m in second.burst(0, 30)]
    assert len(set(ids)) == len(ids), "no two messages of a burst share an id"


def test_every_message_of_setup_and_burst_is_valid_on_its_topic() -> None:
    population = _population()
    onboarding, volunteering = population.setup_mentors(3)
    messages = [*onboarding, *volunteering, *population.burst(1, 20)]
    for message in messages:
        assert decode_object(message.topic, message.body).subject == message.key


def test_staff_who_volunteer_mid_burst_are_told_by_email_only_and_first_mentors_also_on_chat() -> None:
    population = _population()
    burst = population.burst(0, 20)
    late = sorted(population.late_mentors)
    assert late, "a burst brings mentors too"
    assert all(population.channels[p] == ("email",) for p in late)
    assert all(population.late_volunteering(p) is not None for p in late)
    assert population.late_volunteering("H000000") is None, "new hires do not volunteer"
    assert all(len(population.channels[f"M{i:04d}"]) == 2 for i in range(4))
    thanked = set(population.kudos.values())
    assert thanked, "new hires thank mentors"
    assert thanked.isdisjoint(late), "thanks go to mentors whose channels are known from the start"
    assert sum(m.type == "recognition.give_kudos" for m in burst) == len(population.kudos)
