"""Every message a consumer can receive goes through FastStream's Kafka parser, the contract
decoder and the dead-letter middleware: valid messages, however hostile their text, reach the
handler unchanged; broken ones are dead-lettered at once with a reason that names the problem
but not the input. Nothing in between raises."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from faststream._internal.context.repository import ContextRepo
from faststream.kafka.message import KafkaMessage
from faststream.kafka.parser import AioKafkaParser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.envelope import Envelope
from contracts.examples import example
from contracts.topics import TopicSpec
from services.runtime.dead_letter import DeadLetterMiddleware
from services.runtime.decoding import contract_decoder, readable_headers
from services.runtime.settings import RetrySettings
from tests.fuzzing.strategies import (
    INJECTIONS,
    Fuzzed,
    bad_message,
    consumed_topics,
    free_text_paths,
    inbound_topics,
    valid_message,
)

TOPICS = consumed_topics()
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class DeadLetters:
    """Stands in for the broker the middleware publishes dead letters to."""

    published: list[dict[str, Any]] = field(default_factory=list)

    async def publish(self, value: bytes, *, topic: str, key: bytes | None, headers: dict[str, str]) -> None:
        self.published.append({"value": value, "topic": topic, "key": key, "headers": headers})


@dataclass
class Outcome:
    handled: list[Envelope]
    dead_letters: list[dict[str, Any]]


async def consume(spec: TopicSpec, fuzzed: Fuzzed) -> Outcome:
    """One record through the parser, decoder and dead-letter middleware a service uses."""
    record = ConsumerRecord(
        topic=spec.name,
        partition=0,
        offset=41,
        timestamp=0,
        timestamp_type=0,
        key=fuzzed.key,
        value=fuzzed.value,
        checksum=None,
        serialized_key_size=len(fuzzed.key or b""),
        serialized_value_size=len(fuzzed.value or b""),
        headers=list(fuzzed.headers),
    )
    message = await readable_headers(record, AioKafkaParser(KafkaMessage, None).parse_message)
    message.set_decoder(contract_decoder(spec))
    broker = DeadLetters()
    retry = RetrySettings(max_attempts=2, backoff_initial_seconds=0, backoff_max_seconds=0)
    middleware = DeadLetterMiddleware.with_policy(retry, "fuzz")(
        None, context=ContextRepo({"broker": broker})
    )
    handled: list[Envelope] = []

    async def handler(msg: Any) -> None:
        handled.append(await msg.decode())

    await middleware.consume_scope(handler, message)
    return Outcome(handled, broker.published)


def _at(document: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


@pytest.mark.parametrize("spec", TOPICS, ids=lambda s: s.name)
@FUZZ
@given(data=st.data())
async def test_a_broken_message_is_dead_lettered_at_once_with_a_reason_and_never_reaches_the_handler(
    spec: TopicSpec, data: st.DataObject
) -> None:
    fuzzed = data.draw(bad_message(spec))

    outcome = await consume(spec, fuzzed)

    assert outcome.handled == [], f"accepted a message with {fuzzed.flaw}"
    [dead] = outcome.dead_letters
    headers = dead["headers"]
    assert dead["topic"] == f"{spec.name}.dlq"
    assert dead["value"] == (fuzzed.value or b""), "the dead letter keeps the bytes as sent"
    assert dead["key"] == fuzzed.key
    assert headers["dlq.permanent"] == "true", headers["dlq.reason"]
    assert headers["dlq.attempts"] == "1"
    assert headers["dlq.reason"].startswith("invalid message"), headers["dlq.reason"]
    assert not any(text in headers["dlq.reason"] for text in INJECTIONS if len(text) > 3)


@pytest.mark.parametrize("spec", TOPICS, ids=lambda s: s.name)
@FUZZ
@given(data=st.data())
async def test_a_valid_message_with_hostile_text_reaches_the_handler_with_its_text_unchanged(
    spec: TopicSpec, data: st.DataObject
) -> None:
    fuzzed = data.draw(valid_message(spec))

    outcome = await consume(spec, fuzzed)

    assert outcome.dead_letters == [], outcome.dead_letters[0]["headers"]["dlq.reason"]
    [message] = outcome.handled
    as_json = message.model_dump(mode="json")
    for path, text in fuzzed.hostile.items():
        # Tags are kept in lower case; everything else exactly as sent.
        assert _at(as_json, path) in (text, text.lower())


def test_the_fuzzer_covers_every_topic_a_service_subscribes_to_and_finds_free_text_in_each() -> None:
    subscribed = {spec.name for specs in inbound_topics().values() for spec in specs}
    assert {spec.name for spec in TOPICS} == subscribed
    with_text = {spec.name for spec in TOPICS if any(free_text_paths(m) for m in spec.messages)}
    assert with_text == subscribed


async def test_a_valid_message_with_headers_that_are_not_utf8_is_handled_not_lost() -> None:
    spec = TOPICS[0]
    body = json.dumps(example(spec.messages[0])).encode()
    stray = (("x-fuzz", b"\xff\xfe"), ("event_id", b"\xed\xa0\x80"))

    outcome = await consume(spec, Fuzzed(spec.name, body, key=b"E1042", headers=stray))

    assert outcome.dead_letters == []
    assert [m.type for m in outcome.handled] == [spec.messages[0].message_type()]
