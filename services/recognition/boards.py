"""Leaderboards and digests, on a clock.

Leaderboards are read far more often than points change, and on a Mongo-wire server without
query push-down a filtered, sorted query over every person's totals costs a full scan. So the
fold marks the periods an entry touched as dirty, and a periodic task rebuilds just those
periods' boards (overall, per team, per programme) into one small document each; a
leaderboard read is then a single lookup by id, however long the ledger. Boards are at most
``leaderboard_refresh_seconds`` behind the ledger.

Digests: once a month has ended, one ``recognition.digest_ready`` per team (to its members'
managers) and per programme (to its configured owners), each under an id derived from its
scope and month. The digest document is inserted under that id with the event in its outbox,
so however many replicas run the task, each digest is emitted once.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from contracts.envelope import deterministic_id
from contracts.recognition import Badge, DigestLine, RecognitionDigestReady, RecognitionDigestReadyData
from services.recognition.settings import RecognitionSettings
from services.recognition.standings import (
    ALL_TIME,
    EVERY_PROGRAMME,
    Standing,
    boards,
    period_bounds,
    previous_month,
)
from services.recognition.store import RecognitionStore
from services.runtime import outbox
from services.runtime.logging import get_logger
from services.runtime.mongo import aware
from services.runtime.publishing import MessagePublisher

SERVICE = "recognition"
log = get_logger(__name__)


def board_id(period: str, scope: str) -> str:
    return f"{period}|{scope}"


async def refresh_leaderboards(store: RecognitionStore, settings: RecognitionSettings) -> int:
    """Rebuild the boards of every period touched since its last rebuild; how many were written."""
    marks = await store.dirty_periods()
    if not marks:
        return 0
    teams = await store.teams()
    now = datetime.now(UTC)
    written = 0
    for period, seen in marks.items():
        standings = await store.period_standings(period)
        for scope, lines in boards(standings, teams, settings.leaderboard_size).items():
            doc = {
                "period": period,
                "scope": scope,
                "lines": json.dumps([s.as_dict() for s in lines], separators=(",", ":")),
                "refreshed_at": now,
            }
            await store.leaderboards.replace_one({"_id": board_id(period, scope)}, doc, upsert=True)
            written += 1
        # Only the mark as read: one set again meanwhile stays for the next pass.
        await store.clean(period, seen)
    log.info("leaderboards refreshed", periods=len(marks), boards=written)
    return written


async def leaderboard(store: RecognitionStore, period: str, scope: str) -> list[dict[str, Any]]:
    """The lines of one board as last rebuilt; none when nobody earned anything in it."""
    doc = await store.leaderboards.find_one({"_id": board_id(period, scope)})
    if doc is None:
        return []
    lines: list[dict[str, Any]] = json.loads(doc["lines"])
    return lines


async def emit_digests(
    store: RecognitionStore, publisher: MessagePublisher, settings: RecognitionSettings, today: date
) -> int:
    """Digests of the month before ``today`` not yet emitted; how many were emitted now."""
    period = previous_month(today)
    done_id = f"done:{period}"
    if await store.digests.count_documents({"_id": done_id}, limit=1):
        return 0
    start, end = period_bounds(period)
    standings = await store.period_standings(period)
    teams = await store.teams()
    managers: dict[str, set[str]] = {}
    async for person in store.people.find({"team": {"$ne": None}}, {"team": 1, "manager_id": 1}):
        if person.get("manager_id"):
            managers.setdefault(person["team"], set()).add(person["manager_id"])
    emitted = 0
    digested = boards(standings, teams, settings.digest_lines)
    named = sorted({s.person_id for lines in digested.values() for s in lines})
    badges_of = {
        str(doc["_id"]): doc.get("badges") or {}
        async for doc in store.standings(ALL_TIME).find({"_id": {"$in": named}}, {"badges": 1})
    }
    for scope, lines in digested.items():
        if not lines or scope == EVERY_PROGRAMME:
            continue
        kind, _, scope_id = scope.partition(":")
        if kind == "team":
            recipients = sorted(managers.get(scope_id, set()))
        else:
            recipients = sorted(settings.programme_owners.get(scope_id, []))
        digest = _digest(kind, scope_id, period, start, end, lines, recipients, badges_of)
        doc = {"_id": digest.payload.digest_id, "scope": kind, "scope_id": scope_id, "period": period}
        entries = await store.insert_once(store.digests, doc, [digest])
        await outbox.deliver(store.digests, digest.payload.digest_id, publisher, entries or None)
        if entries:
            emitted += 1
    # Every digest of the month is out: later passes need not rebuild them to find that out.
    await store.insert_once(store.digests, {"_id": done_id, "period": period}, [])
    if emitted:
        log.info("digests emitted", period=period, count=emitted)
    return emitted


def _digest(
    kind: str,
    scope_id: str,
    period: str,
    start: date,
    end: date,
    lines: list[Standing],
    recipients: list[str],
    badges_of: dict[str, dict[str, datetime]],
) -> RecognitionDigestReady:
    digest_id = deterministic_id("digest", kind, scope_id, period)

    def badges_in_month(person_id: str) -> list[Badge]:
        held = badges_of.get(person_id, {})
        return sorted(Badge(b) for b, at in held.items() if start <= aware(at).date() <= end)

    points = sum(s.points for s in lines)
    return RecognitionDigestReady.create(
        RecognitionDigestReadyData(
            digest_id=digest_id,
            scope="team" if kind == "team" else "programme",
            scope_id=scope_id[:64],
            period_start=start,
            period_end=end,
            recipient_ids=recipients,
            lines=[
                DigestLine(
                    person_id=s.person_id,
                    points=s.points,
                    sessions=max(0, s.sessions),
                    badges=badges_in_month(s.person_id),
                    average_rating=s.average_rating,
                )
                for s in lines
            ],
            headline=f"{len(lines)} people recognised in {kind} {scope_id[:64]} for {period}, "
            f"{points} points in all",
        ),
        source=SERVICE,
        event_id=deterministic_id(digest_id, RecognitionDigestReady.message_type()),
        occurred_at=datetime.now(UTC),
    )
