"""Tables for people (rich) and documents for machines (``--json``)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from contracts.topics import DLQ_SUFFIX
from deploy.operator.dead_letters import DeadLetter
from deploy.operator.lag import by_topic, count
from deploy.operator.status import Status

OK, BAD = "[green]yes[/green]", "[red]no[/red]"


def status_document(status: Status) -> dict[str, Any]:
    return {
        "ready": status.ready,
        "services": [asdict(h) for h in status.health],
        "lag": [{**asdict(row), "lag": row.lag} for row in status.lag],
        "dead_letters": [{**asdict(d), "waiting": d.waiting} for d in status.dead_letters],
    }


def status_tables(status: Status, *, partitions: bool) -> list[Table]:
    services = Table("service", "url", "live", "ready", "checks", title="Services")
    for h in status.health:
        checks = ", ".join(f"{name} {'ok' if ok else 'FAILED'}" for name, ok in h.checks.items())
        live, ready = OK if h.live else BAD, OK if h.ready else BAD
        services.add_row(h.service, h.url, live, ready, checks or h.error or "")
    if partitions:
        lag = Table("group", "topic", "partition", "committed", "end", "lag", title="Consumer lag")
        for row in status.lag:
            lag.add_row(
                row.group, row.topic, str(row.partition), count(row.committed), count(row.end), _lag(row.lag)
            )
    else:
        lag = Table("group", "topic", "lag", "partitions behind", "never committed", title="Consumer lag")
        for total in by_topic(status.lag):
            lag.add_row(
                total.group,
                total.topic,
                _lag(total.lag),
                f"{total.partitions_behind}/{total.partitions}",
                str(total.never_committed) if total.never_committed else "",
            )
    depths = Table("dead-letter topic", "records", "replayed", "waiting", title="Dead letters")
    for depth in status.dead_letters:
        waiting = f"[red]{count(depth.waiting)}[/red]" if depth.waiting else "0"
        depths.add_row(depth.topic, count(depth.records), count(depth.replayed), waiting)
    return [services, lag, depths]


def _lag(value: int) -> str:
    return f"[yellow]{count(value)}[/yellow]" if value else "0"


def dead_letter_table(rows: list[dict[str, Any]], *, show_body: bool) -> Table:
    """One row per dead letter, two lines each to leave the reason room; ``partition:offset``
    is what ``dlq replay`` takes."""
    table = Table(title="Dead letters", show_lines=True)
    table.add_column("topic\npartition:offset", no_wrap=True)
    table.add_column("event type\nevent id", overflow="fold")
    table.add_column("service\nattempts", no_wrap=True)
    table.add_column("failed at\nreplayed at", no_wrap=True)
    table.add_column("reason", min_width=16)
    for row in rows:
        reason = row["reason"] or ""
        if show_body:
            reason += f"\n\nbody: {row['body']}"
        table.add_row(
            f"{row['topic'].removesuffix(DLQ_SUFFIX)}\n{row['partition']}:{row['offset']}",
            f"{row['event_type'] or '?'}\n{row['event_id'] or '?'}",
            f"{row['service'] or '?'}\n{count(row['attempts'])}",
            f"{_minute(row['failed_at'])}\n{_minute(row['replayed_at']) or 'not replayed'}",
            reason,
        )
    return table


def _minute(iso: str | None) -> str:
    """An ISO timestamp to the minute, for a narrow column (``--json`` has it in full)."""
    return iso[:16].replace("T", " ") if iso else ""


def replay_row(letter: DeadLetter, to: str) -> dict[str, Any]:
    """One line of a replay report: the dead letter and where it went (or would go)."""
    return {
        "replay_of": letter.coordinates,
        "event_type": letter.event_type,
        "event_id": letter.event_id,
        "to": to,
    }


def replay_table(rows: list[dict[str, Any]], dry_run: bool) -> Table:
    title = "Would replay (dry run)" if dry_run else "Replayed"
    table = Table("dead letter", "event type", "event id", "to", title=title)
    for row in rows:
        table.add_row(row["replay_of"], row["event_type"] or "?", row["event_id"] or "?", row["to"])
    return table


def show(console: Console, *tables: Table) -> None:
    for table in tables:
        console.print(table)


def as_json(document: object) -> str:
    return json.dumps(document, indent=2, default=str)
