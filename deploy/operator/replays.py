"""Replaying dead letters to their original topic, each once.

The handlers are idempotent by event id, so a second replay would change nothing; still, an
operator who fixed a bug and replays a whole topic wants only what was not replayed yet, and
a record of what was. Every replay writes a marker to a compacted topic
(``operator.replays.v1``), keyed by the dead letter's coordinates. The marker is written after
the replayed record is acknowledged: a crash between the two leaves a record that a later
``--all`` sends again, which the handlers absorb; the other order could lose a replay.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from deploy.operator.dead_letters import DeadLetter, replay_headers
from deploy.operator.kafka import Kafka

MARKER_TOPIC = "operator.replays.v1"


@dataclass(frozen=True)
class Replayed:
    letter: DeadLetter
    destination: str  # topic:partition:offset of the record sent


class NotReplayable(Exception):
    """The dead letter asked for is not there, or was replayed already."""


def pending(
    letters: Iterable[DeadLetter], markers: Collection[str], *, service: str | None = None
) -> list[DeadLetter]:
    """The dead letters ``--all`` replays: not replayed yet and, with ``service``, written by it."""
    return [
        letter
        for letter in letters
        if letter.coordinates not in markers and (service is None or letter.service == service)
    ]


def choose(
    letters: Iterable[DeadLetter],
    markers: Mapping[str, Mapping[str, Any]],
    *,
    at: tuple[int, int] | None,
    service: str | None = None,
    force: bool = False,
) -> list[DeadLetter]:
    """What to replay: the one dead letter ``at`` a partition and offset (refused when it was
    replayed already, unless ``force``), or with ``at=None`` every pending one."""
    if at is None:
        return pending(letters, markers, service=service)
    partition, offset = at
    found = next((x for x in letters if (x.record.partition, x.record.offset) == at), None)
    if found is None:
        raise NotReplayable(f"no dead letter at partition {partition} offset {offset}")
    when = replayed_at(markers, found)
    if when and not force:
        raise NotReplayable(f"{found.coordinates} was replayed at {when}; --force replays it again")
    return [found]


def markers_from(records: Iterable[tuple[bytes | None, bytes | None]]) -> dict[str, dict[str, Any]]:
    """The latest marker per dead letter, from the marker topic's (key, value) pairs in order; an
    empty value (a tombstone an operator wrote) forgets the replay."""
    markers: dict[str, dict[str, Any]] = {}
    for key, value in records:
        if key is None:
            continue
        name = key.decode("utf-8", "replace")
        if value:
            markers[name] = json.loads(value)
        else:
            markers.pop(name, None)
    return markers


async def read_markers(kafka: Kafka) -> dict[str, dict[str, Any]]:
    records = await kafka.read([kafka.settings.topic(MARKER_TOPIC)])
    return markers_from((r.key, r.value) for r in records)


def replayed_at(markers: Mapping[str, Mapping[str, Any]], letter: DeadLetter) -> str | None:
    marker = markers.get(letter.coordinates)
    return str(marker["replayed_at"]) if marker else None


async def replay(kafka: Kafka, producer: AIOKafkaProducer, letters: Iterable[DeadLetter]) -> list[Replayed]:
    """Send each dead letter back to its original topic (value, key and headers as they are,
    plus ``replay.of``), then mark it replayed."""
    marker_topic = kafka.settings.topic(MARKER_TOPIC)
    await kafka.create_compacted(marker_topic)
    done: list[Replayed] = []
    for letter in letters:
        sent = await producer.send_and_wait(
            letter.original_topic, letter.record.value, key=letter.record.key, headers=replay_headers(letter)
        )
        replayed = Replayed(letter, f"{sent.topic}:{sent.partition}:{sent.offset}")
        marker = {
            "replayed_at": datetime.now(UTC).isoformat(),
            "to": replayed.destination,
            "event_id": letter.event_id,
        }
        key = letter.coordinates.encode()
        await producer.send_and_wait(marker_topic, json.dumps(marker).encode(), key=key)
        done.append(replayed)
    return done
