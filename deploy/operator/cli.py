"""``mentorship``: the operator's command line.

Connection settings come from the same environment the services read (``MENTORSHIP_KAFKA__…``,
or ``OPERATOR_…`` to point only this tool elsewhere); ``--bootstrap-servers`` and
``--topic-prefix`` override them for one call.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from contracts.envelope import Envelope
from deploy.operator import messages, render
from deploy.operator.dead_letters import DeadLetter, dead_letter_topics
from deploy.operator.kafka import connected, producing
from deploy.operator.replays import NotReplayable, choose, read_markers, replay, replayed_at
from deploy.operator.settings import OperatorSettings
from deploy.operator.status import Status, gather_status
from deploy.services import SERVICES
from services.runtime.errors import field_errors

app = typer.Typer(
    help="Operate the mentorship platform.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
dlq = typer.Typer(help="Dead letters: list them, replay them.", no_args_is_help=True)
app.add_typer(dlq, name="dlq")

JsonOption = Annotated[bool, typer.Option("--json", help="A JSON document instead of tables.")]


@app.callback()
def connection(
    ctx: typer.Context,
    bootstrap_servers: Annotated[str | None, typer.Option(help="Kafka bootstrap servers.")] = None,
    topic_prefix: Annotated[str | None, typer.Option(help="The deployment's topic and group prefix.")] = None,
) -> None:
    settings = OperatorSettings()
    overrides: dict[str, Any] = {}
    if bootstrap_servers is not None:
        overrides["bootstrap_servers"] = bootstrap_servers
    if topic_prefix is not None:
        overrides["topic_prefix"] = topic_prefix
    ctx.obj = settings.model_copy(update={"kafka": settings.kafka.model_copy(update=overrides)})


def _console() -> Console:
    return Console()


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


@app.command()
def status(
    ctx: typer.Context,
    service: Annotated[
        list[str] | None, typer.Option("--service", "-s", help="Only these services (repeatable).")
    ] = None,
    service_url: Annotated[
        list[str] | None, typer.Option(help="NAME=URL: where a service answers (repeatable).")
    ] = None,
    partitions: Annotated[bool, typer.Option(help="Lag per partition, not per topic.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Health of every service, lag of every consumer group, depth of every dead-letter topic.

    Exits 1 when a service is not ready."""
    settings: OperatorSettings = ctx.obj
    urls = dict(settings.service_urls)
    for item in service_url or ():
        name, sep, url = item.partition("=")
        if not sep or name not in SERVICES:
            raise typer.BadParameter(f"{item!r}: expected NAME=URL with NAME one of {', '.join(SERVICES)}")
        urls[name] = url.rstrip("/")
    chosen = service or list(SERVICES)
    unknown = [name for name in chosen if name not in SERVICES]
    if unknown:
        raise typer.BadParameter(f"unknown service {', '.join(unknown)}; known: {', '.join(SERVICES)}")
    settings = settings.model_copy(update={"service_urls": urls})

    async def run() -> Status:
        async with connected(settings) as kafka:
            services = {name: settings.service_url(name) for name in chosen}
            return await gather_status(kafka, services, settings.http_timeout_seconds)

    result = asyncio.run(run())
    if as_json:
        typer.echo(render.as_json(render.status_document(result)))
    else:
        render.show(_console(), *render.status_tables(result, partitions=partitions))
    if not result.ready:
        raise typer.Exit(1)


def _topics_or_fail(topic: str | None) -> list[str]:
    try:
        return dead_letter_topics(topic)
    except LookupError as error:
        raise typer.BadParameter(str(error), param_hint="--topic") from None


@dlq.command("list")
def list_(
    ctx: typer.Context,
    topic: Annotated[str | None, typer.Option(help="A registry topic (with or without .dlq).")] = None,
    service: Annotated[str | None, typer.Option(help="Only dead letters this service wrote.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, oldest first.")] = 50,
    waiting: Annotated[bool, typer.Option(help="Only those not replayed yet.")] = False,
    show_body: Annotated[
        bool, typer.Option(help="Also print the message bodies (they hold personal data).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Dead letters with where they came from, why, and which service gave up on them."""
    settings: OperatorSettings = ctx.obj
    logical_topics = _topics_or_fail(topic)

    async def run() -> list[dict[str, Any]]:
        async with connected(settings) as kafka:
            letters = [DeadLetter(r) for r in await kafka.read(settings.topic(t) for t in logical_topics)]
            markers = await read_markers(kafka)
        rows = []
        for letter in letters:
            when = replayed_at(markers, letter)
            if (service is None or letter.service == service) and not (waiting and when):
                logical = settings.logical(letter.record.topic)
                rows.append(letter.summary(logical=logical, replayed_at=when, show_body=show_body))
        return rows

    rows = asyncio.run(run())
    shown = rows[:limit]
    if as_json:
        typer.echo(render.as_json(shown))
        return
    console = _console()
    render.show(console, render.dead_letter_table(shown, show_body=show_body))
    if len(rows) > limit:
        console.print(f"{len(rows) - limit} more not shown (--limit)")


@dlq.command("replay")
def replay_(
    ctx: typer.Context,
    topic: Annotated[str, typer.Option(help="A registry topic (with or without .dlq).")],
    partition: Annotated[int | None, typer.Option(help="The dead letter's partition.")] = None,
    offset: Annotated[int | None, typer.Option(help="The dead letter's offset.")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every dead letter of the topic not replayed yet.")
    ] = False,
    service: Annotated[str | None, typer.Option(help="With --all: only those this service wrote.")] = None,
    force: Annotated[bool, typer.Option(help="Replay one dead letter again though it was replayed.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Only list what would be replayed.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Send dead letters back to the topic they came from (value, key and headers as they were,
    plus replay.of), each once. Every service consuming that topic sees them again; handlers
    ignore what they already handled."""
    settings: OperatorSettings = ctx.obj
    if all_ == (partition is not None or offset is not None):
        raise typer.BadParameter("give either --partition and --offset, or --all")
    if not all_ and (partition is None or offset is None):
        raise typer.BadParameter("one dead letter needs both --partition and --offset")
    if service is not None and not all_:
        raise typer.BadParameter("--service selects among --all")
    (logical_topic,) = _topics_or_fail(topic)
    at = None if partition is None or offset is None else (partition, offset)

    async def run() -> list[dict[str, Any]]:
        async with connected(settings) as kafka:
            letters = [DeadLetter(r) for r in await kafka.read([settings.topic(logical_topic)])]
            markers = await read_markers(kafka)
            try:
                chosen = choose(letters, markers, at=at, service=service, force=force)
            except NotReplayable as error:
                raise _fail(f"{logical_topic}: {error}") from None
            if dry_run:
                return [render.replay_row(x, settings.logical(x.original_topic)) for x in chosen]
            async with producing(settings) as producer:
                done = await replay(kafka, producer, chosen)
        return [render.replay_row(r.letter, settings.logical(r.destination)) for r in done]

    rows = asyncio.run(run())
    if as_json:
        typer.echo(render.as_json(rows))
    else:
        render.show(_console(), render.replay_table(rows, dry_run))


@app.command("round")
def round_(
    ctx: typer.Context,
    programme: Annotated[str, typer.Option(help="The programme id whose waiting mentees are matched.")],
    fairness: Annotated[
        float, typer.Option(min=0, max=1, help="Spread mentees over mentors (0 to 1; 0 maximises the score).")
    ] = 0.0,
    candidates_per_mentee: Annotated[int, typer.Option(min=1, max=100)] = 10,
    round_id: Annotated[str | None, typer.Option(help="Reuse to resend a round; it runs once.")] = None,
    requested_by: Annotated[str, typer.Option(help="Who asked for the round.")] = messages.SOURCE,
) -> None:
    """Trigger a cohort matching round for a programme."""
    settings: OperatorSettings = ctx.obj
    try:
        command = messages.cohort_round(
            programme,
            fairness=fairness,
            candidates_per_mentee=candidates_per_mentee,
            requested_by=requested_by,
            round_id=round_id,
        )
    except ValidationError as error:
        raise _fail("; ".join(field_errors(error)), 2) from None
    topic = asyncio.run(_send(settings, command))
    typer.echo(f"round {command.payload.round_id} sent to {settings.logical(topic)}")


@app.command("emit-onboarding")
def emit_onboarding(
    ctx: typer.Context,
    employee_id: Annotated[str | None, typer.Option(help="Default: a new random id.")] = None,
    name: Annotated[str, typer.Option(help="Full name.")] = "Test Person",
    email: Annotated[str | None, typer.Option(help="Default: <employee id>@example.com.")] = None,
    start_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD; default two weeks from today.")] = None,
    title: Annotated[str | None, typer.Option()] = None,
    level: Annotated[str | None, typer.Option(help="junior, mid, senior, …")] = None,
    team: Annotated[str | None, typer.Option()] = None,
    manager_id: Annotated[str | None, typer.Option()] = None,
    time_zone: Annotated[str | None, typer.Option(help="IANA name, e.g. Europe/Berlin.")] = None,
    skill: Annotated[list[str] | None, typer.Option(help="NAME or NAME:LEVEL (repeatable).")] = None,
    programme: Annotated[list[str] | None, typer.Option(help="Programme id (repeatable).")] = None,
    event_id: Annotated[str | None, typer.Option(help="Reuse to resend the same event.")] = None,
) -> None:
    """Publish one valid onboarding event to the inbound HR topic, as an HR system would."""
    settings: OperatorSettings = ctx.obj
    try:
        event = messages.onboarding(
            employee_id=employee_id,
            name=name,
            email=email,
            start_date=date.fromisoformat(start_date) if start_date else date.today() + timedelta(days=14),
            skills=skill,
            programmes=programme,
            event_id=event_id,
            title=title,
            level=level,
            team=team,
            manager_id=manager_id,
            time_zone=time_zone,
        )
    except ValidationError as error:
        raise _fail("; ".join(field_errors(error)), 2) from None
    except ValueError as error:  # a malformed --start-date
        raise _fail(str(error), 2) from None
    topic = asyncio.run(_send(settings, event))
    person = event.payload.employee_id
    typer.echo(f"employee {person}: event {event.event_id} sent to {settings.logical(topic)}")


async def _send(settings: OperatorSettings, message: Envelope) -> str:
    async with producing(settings) as producer:
        return await messages.send(producer, settings, message)


def main() -> None:
    app()
