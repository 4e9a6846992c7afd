"""The operator CLI's own logic, without servers: lag arithmetic, what a replay picks and
sends, what a dead-letter listing shows, and the messages an operator can send."""

from __future__ import annotations

import json
from datetime import date

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from deploy.operator.cli import app
from deploy.operator.dead_letters import DeadLetter, dead_letter_topics, replay_headers
from deploy.operator.kafka import Record
from deploy.operator.lag import DeadLetterDepth, PartitionLag, by_topic, count
from deploy.operator.messages import cohort_round, onboarding
from deploy.operator.replays import NotReplayable, choose, markers_from, pending
from deploy.operator.settings import OperatorSettings


def lag(partition: int, committed: int | None, start: int, end: int, topic: str = "t") -> PartitionLag:
    return PartitionLag("g", topic, partition, committed, start, end)


def letter(
    offset: int, service: str | None = "matching", headers: dict[str, str] | None = None
) -> DeadLetter:
    names = {"dlq.service": service, "dlq.original_topic": "ns.matching.commands.v1", **(headers or {})}
    return DeadLetter(
        Record(
            topic="ns.matching.commands.v1.dlq",
            partition=0,
            offset=offset,
            key=b"pilot",
            value=b'{"event_id": "e-body", "type": "matching.run_cohort_round", "payload": {"x": "secret"}}',
            headers=tuple((k, v.encode()) for k, v in names.items() if v is not None),
        )
    )


def test_a_group_that_never_committed_has_everything_kept_still_ahead_of_it() -> None:
    assert lag(0, None, 0, 40).lag == 40
    assert lag(0, None, 25, 40).lag == 15  # retention already removed the first 25


def test_a_group_behind_what_retention_kept_restarts_from_the_earliest_record() -> None:
    assert lag(0, 10, 25, 40).lag == 15


def test_a_group_at_the_end_has_no_lag() -> None:
    assert lag(0, 40, 0, 40).lag == 0


@given(
    start=st.integers(0, 10_000),
    length=st.integers(0, 10_000),
    committed=st.none() | st.integers(0, 30_000),
)
def test_lag_is_never_negative_nor_more_than_what_the_partition_keeps(
    start: int, length: int, committed: int | None
) -> None:
    value = lag(0, committed, start, start + length).lag
    assert 0 <= value <= length


def test_lag_adds_up_per_group_and_topic_naming_partitions_behind_and_never_committed() -> None:
    rows = [lag(0, 5, 0, 5, "a"), lag(1, 3, 0, 7, "a"), lag(2, None, 0, 2, "a"), lag(0, 9, 0, 9, "b")]
    a, b = by_topic(rows)
    assert (a.topic, a.lag, a.partitions, a.partitions_behind, a.never_committed) == ("a", 6, 3, 2, 1)
    assert (b.topic, b.lag, b.partitions_behind) == ("b", 0, 0)


def test_counts_are_shown_with_thousands_separated_and_a_dash_for_no_offset() -> None:
    assert count(1234567) == "1,234,567"
    assert count(0) == "0"
    assert count(None) == "—"


def test_dead_letters_waiting_are_those_not_replayed() -> None:
    assert DeadLetterDepth("x.dlq", records=5, replayed=2).waiting == 3
    # Markers outlive records that retention removed; nothing is ever "minus one" waiting.
    assert DeadLetterDepth("x.dlq", records=1, replayed=3).waiting == 0


def test_replay_all_picks_what_was_not_replayed_and_only_the_services_dead_letters_when_asked() -> None:
    letters = [letter(0), letter(1, service="notification"), letter(2), letter(3, service=None)]
    replayed = {letters[0].coordinates: {"replayed_at": "2026-12-01T10:00:00+00:00"}}

    assert [x.record.offset for x in pending(letters, replayed)] == [1, 2, 3]
    assert [x.record.offset for x in pending(letters, replayed, service="matching")] == [2]
    assert [x.record.offset for x in choose(letters, replayed, at=None, service="notification")] == [1]


def test_replaying_one_dead_letter_twice_is_refused_unless_forced() -> None:
    letters = [letter(0), letter(1)]
    replayed = {letters[1].coordinates: {"replayed_at": "2026-12-01T10:00:00+00:00"}}

    assert choose(letters, replayed, at=(0, 0)) == [letters[0]]
    with pytest.raises(NotReplayable, match="replayed at 2026-12-01T10:00:00"):
        choose(letters, replayed, at=(0, 1))
    assert choose(letters, replayed, at=(0, 1), force=True) == [letters[1]]
    with pytest.raises(NotReplayable, match="no dead letter at partition 0 offset 7"):
        choose(letters, replayed, at=(0, 7))


def test_the_latest_marker_counts_and_an_empty_one_forgets_the_replay() -> None:
    markers = markers_from(
        [
            (b"t.dlq:0:1", json.dumps({"replayed_at": "first"}).encode()),
            (b"t.dlq:0:2", json.dumps({"replayed_at": "once"}).encode()),
            (b"t.dlq:0:1", json.dumps({"replayed_at": "again"}).encode()),
            (b"t.dlq:0:2", None),
        ]
    )
    assert markers == {"t.dlq:0:1": {"replayed_at": "again"}}


def test_a_replay_keeps_every_header_and_points_back_at_the_dead_letter() -> None:
    before = {"dlq.notification_id": "n-1", "replay.of": "ns.matching.commands.v1.dlq:0:1"}
    earlier = letter(4, headers=before)
    headers = replay_headers(earlier)

    assert ("dlq.service", b"matching") in headers
    assert ("dlq.notification_id", b"n-1") in headers
    assert [v for k, v in headers if k == "replay.of"] == [b"ns.matching.commands.v1.dlq:0:4"]


def test_a_dead_letter_summary_names_the_event_and_the_failure_but_not_the_body() -> None:
    dead = letter(3, headers={"dlq.reason": "UnprocessableMessage: no programme", "dlq.attempts": "1"})
    shown = dead.summary(logical="matching.commands.v1.dlq", replayed_at=None, show_body=False)

    assert shown["event_id"] == "e-body"  # from the body when no header names it
    assert shown["event_type"] == "matching.run_cohort_round"
    assert shown["service"] == "matching"
    assert shown["attempts"] == 1
    assert shown["original_topic"] == "ns.matching.commands.v1"
    assert "secret" not in json.dumps(shown)
    assert "secret" in dead.summary(logical="x", replayed_at=None, show_body=True)["body"]


def test_an_undecodable_dead_letter_is_still_listed_without_an_event_id() -> None:
    broken = DeadLetter(Record("t.dlq", 0, 0, None, b'{"event_id": "bro', ()))
    assert broken.event_id is None
    assert broken.original_topic == "t"


def test_dead_letter_topics_are_named_with_or_without_the_suffix_and_typos_are_refused() -> None:
    assert dead_letter_topics("matching.commands.v1") == ["matching.commands.v1.dlq"]
    assert dead_letter_topics("matching.commands.v1.dlq") == ["matching.commands.v1.dlq"]
    assert len(dead_letter_topics()) == 10
    with pytest.raises(LookupError):
        dead_letter_topics("matching.comands.v1")


def test_a_cohort_round_carries_the_fairness_and_is_keyed_by_programme() -> None:
    command = cohort_round("onboarding", fairness=0.2, round_id="r-1")
    assert command.subject == "onboarding"
    assert command.payload.fairness == 0.2
    with pytest.raises(pydantic.ValidationError):
        cohort_round("onboarding", fairness=2.0)


def test_a_test_onboarding_event_is_valid_with_defaults_and_parses_skill_levels() -> None:
    skills = ["python:expert", "go"]
    event = onboarding(employee_id="E77", start_date=date(2027, 1, 4), skills=skills, team=None)
    assert event.subject == "E77"
    assert event.payload.work_email == "e77@example.com"
    levels = [(s.name, s.level.value) for s in event.payload.skills]
    assert levels == [("python", "expert"), ("go", "working")]
    assert event.payload.team is None
    with pytest.raises(pydantic.ValidationError, match="time_zone"):
        onboarding(employee_id="E78", start_date=date(2027, 1, 4), time_zone="Atlantis/Capital")


def test_groups_and_topics_carry_the_deployments_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENTORSHIP_KAFKA__TOPIC_PREFIX", "staging.")
    monkeypatch.setenv("OPERATOR_SERVICE_URLS__MATCHING", "http://matching.internal:80")
    settings = OperatorSettings()
    assert settings.group_of("recognition") == "staging.recognition"
    assert settings.logical("staging.hr.employees.v1.dlq") == "hr.employees.v1.dlq"
    assert settings.service_url("matching") == "http://matching.internal:80"
    assert settings.service_url("profile") == "http://127.0.0.1:8101"


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["dlq", "replay", "--topic", "matching.commands.v1"], "either --partition and --offset, or --all"),
        (["dlq", "replay", "--topic", "matching.commands.v1", "--all", "--offset", "3"], "either"),
        (["dlq", "replay", "--topic", "matching.commands.v1", "--partition", "0"], "both --partition"),
        (["dlq", "replay", "--topic", "nope.v1", "--all"], "no topic named"),
        (["dlq", "list", "--topic", "nope.v1"], "no topic named"),
        (["status", "--service", "billing"], "unknown service billing"),
    ],
)
def test_the_cli_refuses_a_replay_or_a_listing_it_cannot_do_before_touching_kafka(
    args: list[str], complaint: str
) -> None:
    result = CliRunner().invoke(app, ["--bootstrap-servers", "127.0.0.1:1", *args])
    assert result.exit_code == 2
    assert complaint in " ".join(result.output.split())
