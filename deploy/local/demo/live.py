"""The live terminal view: what each service published, what people got, where to look."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from deploy.local.demo.fleet import Fleet
from deploy.local.demo.stores import Line
from deploy.local.demo.tally import Tally


def view(tally: Tally, fleet: Fleet, stage: str, where: list[str]) -> Group:
    services = Table(title="Events published, per service", expand=True)
    services.add_column("service")
    services.add_column("instances")
    services.add_column("events")
    grouped = fleet.by_service()
    for service, counts in tally.per_service().items():
        instances = grouped.get(service, [])
        alive = sum(i.alive for i in instances)
        state = Text(f"{alive}/{len(instances)} up", style="green" if alive == len(instances) else "bold red")
        services.add_row(service, state, ", ".join(f"{k} {v}" for k, v in counts.items()) or "-")

    outcomes = Table.grid(padding=(0, 2))
    outcomes.add_row(
        f"profiled [bold]{tally.count('profile.created')}[/]",
        f"proposed [bold]{tally.count('matching.match_proposed')}[/]",
        f"matched [bold]{tally.count('matching.match_confirmed')}[/]",
        f"waitlisted [bold]{tally.count('matching.request_waitlisted')}[/]",
        f"circles [bold]{tally.count('matching.circle_formed')}[/]",
        f"boards [bold]{tally.count('matching.advisory_board_formed')}[/]",
    )
    delivered = ", ".join(f"{c} {n}" for c, n in tally.delivered_by_channel().items()) or "-"
    outcomes.add_row(
        f"sessions [bold]{tally.count('scheduling.session_scheduled')}[/]",
        f"completed [bold]{tally.count('scheduling.session_completed')}[/]",
        f"badges [bold]{tally.count('recognition.badge_awarded')}[/]",
        f"points entries [bold]{tally.count('recognition.points_awarded')}[/]",
        f"delivered [bold]{delivered}[/]",
        Text(f"dead letters {tally.dead_letter_total}", style="bold red" if tally.dead_letter_total else ""),
    )
    activity = Text("\n".join(tally.recent) or "waiting for the first event...", style="dim")
    return Group(
        Panel(outcomes, title=f"Mentorship platform demo: {stage}"),
        services,
        Panel(activity, title="Latest events"),
        Panel("\n".join(where), title="Where to look"),
    )


def summary_table(lines: list[Line], tally: Tally) -> Table:
    table = Table(title="Demo summary: what the events say beside what the stores hold")
    table.add_column("")
    table.add_column("events", justify="right")
    table.add_column("stored", justify="right")
    table.add_column("")
    for line in lines:
        table.add_row(
            line.what, str(line.events), str(line.stored), "ok" if line.agrees else "[bold red]differs[/]"
        )
    table.add_row(
        "dead letters",
        str(tally.dead_letter_total),
        "-",
        "ok" if not tally.dead_letter_total else "[bold red]see DLQ[/]",
    )
    return table
