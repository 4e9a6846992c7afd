"""The messages an operator sends by hand, built and validated through the contracts."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from aiokafka import AIOKafkaProducer

from contracts.catalogue import topic_of
from contracts.envelope import Envelope
from contracts.inbound import EmployeeOnboarded, EmployeeOnboardedData
from contracts.matching import RunCohortRound, RunCohortRoundData
from deploy.operator.settings import OperatorSettings

SOURCE = "operator"


def cohort_round(
    programme_id: str,
    *,
    fairness: float = 0.0,
    candidates_per_mentee: int = 10,
    requested_by: str = SOURCE,
    round_id: str | None = None,
) -> RunCohortRound:
    """Matching's command to match every waiting mentee of a programme at once. The round id
    makes it idempotent: sending the same round twice runs it once."""
    data = RunCohortRoundData(
        round_id=round_id or f"round-{uuid.uuid4().hex[:12]}",
        programme_id=programme_id,
        requested_by=requested_by,
        candidates_per_mentee=candidates_per_mentee,
        fairness=fairness,
    )
    return RunCohortRound.create(data, source=SOURCE)


def skill(text: str) -> dict[str, str]:
    """``python`` or ``python:expert``."""
    name, _, level = text.partition(":")
    return {"name": name, "level": level} if level else {"name": name}


def onboarding(
    *,
    employee_id: str | None,
    start_date: date,
    name: str = "Test Person",
    email: str | None = None,
    skills: list[str] | None = None,
    programmes: list[str] | None = None,
    event_id: str | None = None,
    **optional: Any,
) -> EmployeeOnboarded:
    """One valid onboarding event, as an HR system would send it; optional payload fields
    (title, level, team, manager_id, time_zone, …) given as keywords, ``None`` left out."""
    person = employee_id or f"T{uuid.uuid4().hex[:10]}"
    data = EmployeeOnboardedData.model_validate(
        {
            "employee_id": person,
            "full_name": name,
            "work_email": email or f"{person.lower()}@example.com",
            "start_date": start_date,
            "skills": [skill(s) for s in skills or ()],
            "programmes": programmes or [],
            **{k: v for k, v in optional.items() if v is not None},
        }
    )
    return EmployeeOnboarded.create(data, source=SOURCE, event_id=event_id)


async def send(producer: AIOKafkaProducer, settings: OperatorSettings, message: Envelope) -> str:
    """Publish a contract message as the services do (its registry topic, the subject as key,
    tracing headers); returns ``topic:partition:offset``."""
    sent = await producer.send_and_wait(
        settings.topic(topic_of(type(message)).name),
        message.to_json_bytes(),
        key=message.subject.encode(),
        headers=[(name, value.encode()) for name, value in message.headers().items()],
    )
    return f"{sent.topic}:{sent.partition}:{sent.offset}"
