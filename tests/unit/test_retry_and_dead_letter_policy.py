"""How failures are classified, delayed and described for the dead-letter topic."""

from __future__ import annotations

import json
import random

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.inbound import EmployeeOnboarded
from services.runtime.dead_letter import backoff_delay
from services.runtime.errors import UnprocessableMessage, describe, is_permanent
from services.runtime.settings import RetrySettings
from tests.support.builders import onboarding_json


@given(
    attempt=st.integers(min_value=1, max_value=50),
    initial=st.floats(min_value=0, max_value=5),
    ceiling=st.floats(min_value=0, max_value=60),
    seed=st.integers(),
)
def test_backoff_never_waits_longer_than_the_configured_ceiling(
    attempt: int, initial: float, ceiling: float, seed: int
) -> None:
    policy = RetrySettings(backoff_initial_seconds=initial, backoff_max_seconds=ceiling)
    delay = backoff_delay(attempt, policy, random.Random(seed))
    assert 0 <= delay <= ceiling


def test_backoff_grows_with_each_attempt_until_the_ceiling() -> None:
    policy = RetrySettings(backoff_initial_seconds=0.1, backoff_max_seconds=100)
    rng = random.Random(1)
    worst = [max(backoff_delay(n, policy, rng) for _ in range(500)) for n in (1, 2, 3, 4)]
    assert worst == sorted(worst)
    assert worst[3] > 0.5


def test_schema_violations_and_broken_json_are_permanent_but_timeouts_are_not() -> None:
    with pytest.raises(pydantic.ValidationError) as invalid:
        EmployeeOnboarded.model_validate({"type": "employee.onboarded"})
    with pytest.raises(json.JSONDecodeError) as broken:
        json.loads("{")
    assert is_permanent(invalid.value)
    assert is_permanent(broken.value)
    assert is_permanent(UnprocessableMessage("refers to a deleted programme"))
    assert not is_permanent(TimeoutError())
    assert not is_permanent(ConnectionError())


def test_the_dead_letter_reason_names_each_field_but_not_the_values() -> None:
    message = onboarding_json(work_email="grace.hopper(at)navy", time_zone="Atlantis/Capital")
    with pytest.raises(pydantic.ValidationError) as invalid:
        EmployeeOnboarded.model_validate(message)
    reason = describe(invalid.value)
    assert "payload.work_email" in reason
    assert "payload.time_zone" in reason
    assert "grace.hopper" not in reason
