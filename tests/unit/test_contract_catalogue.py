"""Every message has a topic, a key, a published schema and an example that decodes."""

from __future__ import annotations

import json
import re

import pytest

from contracts.catalogue import MESSAGE_TYPES, TOPICS, decode, topic_of
from contracts.envelope import Envelope
from contracts.examples import example
from contracts.export import ROOT, schema_name

TOPIC_NAME = re.compile(r"^(hr|profile|matching|scheduling|notification|recognition)\.[a-z]+\.v[0-9]+$")


@pytest.mark.parametrize("message_cls", MESSAGE_TYPES, ids=lambda m: m.message_type())
def test_each_message_has_a_topic_a_key_a_schema_and_an_example_that_decodes(
    message_cls: type[Envelope],
) -> None:
    spec = topic_of(message_cls)
    decoded = decode(spec.name, json.dumps(example(message_cls)))
    assert type(decoded) is message_cls
    assert decoded.subject == getattr(decoded.payload, message_cls.subject_field)
    assert (ROOT / "schemas" / f"{schema_name(message_cls)}.json").exists()
    assert (ROOT / "examples" / f"{schema_name(message_cls)}.json").exists()


@pytest.mark.parametrize("spec", TOPICS, ids=lambda t: t.name)
def test_topic_names_follow_the_versioned_scheme_and_have_a_dead_letter_topic(spec: object) -> None:
    from contracts.topics import TopicSpec

    assert isinstance(spec, TopicSpec)
    assert TOPIC_NAME.match(spec.name)
    assert spec.dead_letter == f"{spec.name}.dlq"
    assert spec.version == 1
    assert spec.key
    assert {m.schema_version() for m in spec.messages} == {1}


def test_commands_are_imperative_and_events_past_tense() -> None:
    for message_cls in MESSAGE_TYPES:
        if message_cls.kind == "command":
            assert ".commands." in topic_of(message_cls).name, message_cls.__name__
        else:
            assert ".commands." not in topic_of(message_cls).name, message_cls.__name__


def test_a_message_can_be_created_as_a_consequence_and_keeps_the_chain() -> None:
    from contracts.inbound import EmployeeOnboarded
    from contracts.profile import ProfileCreated, ProfileSnapshot

    cause = EmployeeOnboarded.model_validate(example(EmployeeOnboarded))
    snapshot = ProfileSnapshot.model_validate(example(ProfileCreated)["payload"])
    effect = ProfileCreated.create(snapshot, source="profile", caused_by=cause)
    assert effect.correlation_id == cause.correlation_id
    assert effect.causation_id == cause.event_id
    assert effect.subject == snapshot.person_id
    assert effect.occurred_at.utcoffset() is not None


def test_the_catalogue_names_exactly_the_services_that_consume_each_topic() -> None:
    # The operator CLI reads consumer lag from these names, so a subscription the catalogue
    # leaves out would be lag nobody sees.
    from services.matching.app import definition as matching
    from services.notification.app import definition as notification
    from services.profile.app import definition as profile
    from services.recognition.app import definition as recognition
    from services.scheduling.app import definition as scheduling

    subscribed = {
        (service.name, spec.name)
        for service in (profile, matching, scheduling, notification, recognition)
        for spec in service.consumes
    }
    catalogued = {(consumer, spec.name) for spec in TOPICS for consumer in spec.consumers}
    assert catalogued == subscribed
