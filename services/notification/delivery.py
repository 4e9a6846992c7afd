"""Delivering notices exactly once per person and channel, and what happens when sending fails.

The rule, per delivery (event, person, channel → one notification id):

1. The delivery is written to the log *before* anything is sent (a unique insert: a redelivered
   event finds it and sends nothing new). It is written as ``sending`` when it goes out at once,
   or ``due`` with a time when it waits (quiet hours, a rate-limit slot, a retry).
2. After each attempt its outcome is confirmed in the same document, together with the
   ``notification.delivered`` / ``notification.failed`` event in its outbox. A message the
   provider accepted is confirmed even through a short database outage (the write is retried
   for half the in-doubt time), or it would look cut off and be reported failed or resent.
3. A transient failure (timeout, 5xx, 429, SMTP 4xx) is retried later with exponential backoff
   and full jitter, durably through the schedule, so the consumer moves on to other people at
   once. A permanent one (a 4xx from a webhook, a refused address) is not retried. Either way,
   the final failure publishes ``notification.failed`` and dead-letters the cause event with
   the notification id, so an operator can replay it after a fix.
4. Recovery: an attempt that stays ``sending`` longer than ``in_doubt_after_seconds`` was cut
   off by a crash, nearly always before or during the send (the window between the provider's
   acceptance and the confirmation is one database write). By default (``resend``) it is sent
   again under the same Message-ID and Idempotency-Key, so a person is never left without a
   notice a crash interrupted, and the rare copy is recognisable to receivers that
   deduplicate. With ``hold`` it is *not* resent: it is marked ``in_doubt`` and reported as
   failed (not permanent), and an operator may replay it.

Attempts made by the sweeps are claimed first (``attempts`` collection), so with several
instances each attempt is made once. Every attempt is noted as under way (``in_flight``) before
its delivery is marked ``sending`` and un-noted after its outcome is recorded, so the sweep
finds cut-off attempts among those few entries rather than in the whole log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.envelope import Envelope, deterministic_id
from contracts.notification import (
    NotificationDelivered,
    NotificationFailed,
    NotificationFailedData,
    NotificationOutcomeData,
)
from contracts.profile import Channel
from contracts.topics import dead_letter_topic
from services.notification.channels.base import ChannelAdapter, DeliveryFailure
from services.notification.contacts import Contact, Contacts
from services.notification.notices import Notice, Priority, notice_from_doc, notice_to_doc, notices_for
from services.notification.rate_limit import TokenBucket
from services.notification.rendering import Renderer
from services.notification.routing import digest_time, goes_to_digest, route
from services.notification.settings import NotificationSettings
from services.notification.store import DeliveryLog, DeliveryState
from services.runtime import outbox
from services.runtime.dead_letter import DLQ_HEADER_PREFIX, backoff_delay
from services.runtime.logging import get_logger
from services.runtime.metrics import NO_METRICS, Metrics
from services.runtime.mongo import Document, aware
from services.runtime.publishing import MessagePublisher
from services.runtime.tracing import continuing, trace_headers

SERVICE = "notification"
DIGEST_TEMPLATE = "daily_digest"
# Deliveries the sweep sends side by side; enough to keep SMTP and HTTP busy, few enough that
# a backlog does not open hundreds of sockets at once.
SWEEP_CONCURRENCY = 32
SWEEP_BATCH = 500

log = get_logger(__name__)


def notification_id(cause_event_id: str, recipient_id: str, channel: str) -> str:
    """The delivery log key: one per event, person and channel."""
    return deterministic_id("notification", cause_event_id, recipient_id, channel)


@dataclass(frozen=True)
class Cause:
    """The event a notice came from, kept so a final failure can dead-letter it as it was."""

    event_id: str
    type: str
    correlation_id: str
    topic: str | None = None
    key: str | None = None
    value: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, event: Envelope, topic: str) -> Cause:
        return cls(
            event_id=event.event_id,
            type=event.type,
            correlation_id=event.correlation_id,
            topic=topic,
            key=event.subject,
            value=event.model_dump_json(),
            # With tracing on, the trace of the handler that received it: deliveries made
            # later by the sweep (quiet hours, retries) continue it.
            headers=event.headers() | trace_headers(),
        )

    def to_doc(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "correlation_id": self.correlation_id,
            "topic": self.topic,
            "key": self.key,
            "value": self.value,
            "headers": dict(self.headers),
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Cause:
        return cls(**doc)


class Dispatcher:
    def __init__(
        self,
        *,
        deliveries: DeliveryLog,
        contacts: Contacts,
        adapters: Mapping[Channel, ChannelAdapter],
        renderer: Renderer,
        publisher: MessagePublisher,
        settings: NotificationSettings,
        limits: Mapping[Channel, TokenBucket],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.log = deliveries
        self.contacts = contacts
        self.adapters = adapters
        self.renderer = renderer
        self.publisher = publisher
        self.settings = settings
        self.limits = limits
        self.clock = clock
        self.metrics = metrics
        self._last_in_doubt_check = datetime.min.replace(tzinfo=UTC)

    # ------------------------------------------------------------ events in

    async def on_event(self, event: Envelope, topic: str, replayed_ids: Iterable[str] = ()) -> None:
        """Notify everyone the event concerns, on each of their channels."""
        for replayed in replayed_ids:
            await self.retry_replayed(replayed)
        notices = notices_for(event)
        if notices:
            await self.deliver(notices, Cause.of(event, topic))

    async def on_contact_known(self, person_id: str) -> None:
        """A person's profile arrived: send what waited for it."""
        for parked in await self.log.parked_for(person_id):
            await self.deliver([notice_from_doc(parked["notice"])], Cause.from_doc(parked["cause"]))
            await self.log.unpark(parked)

    async def deliver(self, notices: list[Notice], cause: Cause) -> None:
        wanted = {n.recipient_id for n in notices} | {p for n in notices for p in n.mentions}
        people = await self.contacts.find(wanted)
        names = {person_id: contact.name for person_id, contact in people.items()}
        await asyncio.gather(*(self._notice(n, people.get(n.recipient_id), names, cause) for n in notices))

    async def _notice(
        self, notice: Notice, contact: Contact | None, names: Mapping[str, str], cause: Cause
    ) -> None:
        if contact is None:
            # The profile event has not arrived yet (topics are not ordered with each other).
            await self.log.park(
                {
                    "_id": f"{cause.event_id}:{notice.recipient_id}",
                    "recipient_id": notice.recipient_id,
                    "notice": notice_to_doc(notice),
                    "cause": cause.to_doc(),
                    "parked_at": self.clock(),
                }
            )
            log.info("notice parked until the person's profile arrives", template=notice.template)
            return
        if not contact.active:
            return  # people who left hear nothing more
        if goes_to_digest(notice, contact):
            await self._queue_for_digest(notice, contact, cause)
            return
        await asyncio.gather(*(self._on_channel(notice, contact, names, cause, c) for c in contact.channels))

    # ------------------------------------------------------------ one channel

    async def _on_channel(
        self, notice: Notice, contact: Contact, names: Mapping[str, str], cause: Cause, channel: Channel
    ) -> None:
        adapter = self.adapters[channel]
        now = self.clock()
        nid = notification_id(cause.event_id, notice.recipient_id, channel.value)
        record: Document = {
            "_id": nid,
            "recipient_id": notice.recipient_id,
            "channel": channel.value,
            "template": notice.template,
            "priority": notice.priority.value,
            "cause_event_id": cause.event_id,
            "cause_type": cause.type,
            "correlation_id": cause.correlation_id,
            "created_at": now,
            "attempts": 0,
            "max_attempts": self.settings.delivery_retry.max_attempts,
        }
        address = adapter.address_of(contact)
        if address is None:
            record |= {"state": DeliveryState.SKIPPED, "reason": f"no {channel.value} address in the profile"}
            await self.log.open(record)
            return
        record |= {"address": address, "payload": adapter.compose(self.renderer, notice, contact, names)}
        record["cause"] = cause.to_doc()
        wait_until = route(notice, contact, channel, now).at
        waiting_for = "quiet_hours"
        if wait_until is None and (rate_wait := self.limits[channel].wait_needed()) > 0:
            wait_until, waiting_for = now + timedelta(seconds=rate_wait), "rate_limit"
        if wait_until is None:
            record |= {"state": DeliveryState.SENDING, "attempts": 1, "attempt_started_at": now}
        else:
            record |= {"state": DeliveryState.DUE, "due_at": wait_until, "waiting_for": waiting_for}
        stamp = await self.log.start_first_attempt(nid, now) if wait_until is None else None
        existing = await self.log.open(record)
        if existing is not None:
            if stamp is not None:
                await self.log.drop_in_flight(nid, stamp)  # a redelivered event: nothing new goes out
            await self._finish_publishing(existing)
            return
        if wait_until is not None:
            await self.log.wait_until(nid, wait_until)
            return
        await self._attempt(record, 1)

    async def _finish_publishing(self, doc: Document) -> None:
        """A redelivered event met its delivery: only an unsent outbox is left to do."""
        if doc.get(outbox.OUTBOX_FIELD):
            await outbox.deliver(self.log.deliveries, doc["_id"], self.publisher)

    async def _attempt(self, doc: Document, attempt: int) -> None:
        channel = Channel(doc["channel"])
        try:
            provider_id = await self.adapters[channel].send(doc["_id"], doc["address"], doc["payload"])
        except DeliveryFailure as failure:
            await self._after_failure(doc, attempt, failure)
            await self.log.attempt_over(doc["_id"], attempt)
            return
        event = NotificationDelivered.create(
            self._outcome(doc, attempt), source=SERVICE, event_id=deterministic_id("delivered", doc["_id"]),
            correlation_id=doc["correlation_id"],
        ).model_copy(update={"causation_id": doc["cause_event_id"]})  # fmt: skip
        entries = outbox.outbox_entries([event])
        await self.log.confirm(
            doc["_id"],
            {
                "state": DeliveryState.SENT,
                "sent_at": self.clock(),
                "attempts": attempt,
                "provider_id": provider_id,
            },
            entries,
            # Well before the attempt would be taken for one cut off by a crash.
            patience=self.settings.in_doubt_after_seconds / 2,
        )
        await self.log.attempt_over(doc["_id"], attempt)
        self.metrics.notification(channel.value, "delivered")
        await outbox.deliver(self.log.deliveries, doc["_id"], self.publisher, entries)
        # Named, not left to the consumed message's context: retries, deferred sends and
        # notices that waited for a profile go out from the sweep or another event's handler.
        log.info(
            "notification delivered",
            notification_id=doc["_id"],
            channel=channel.value,
            attempts=attempt,
            correlation_id=doc["correlation_id"],
        )

    def _outcome(self, doc: Document, attempt: int) -> NotificationOutcomeData:
        return NotificationOutcomeData(
            notification_id=doc["_id"],
            recipient_id=doc["recipient_id"],
            channel=Channel(doc["channel"]),
            template=doc["template"],
            cause_event_id=doc["cause_event_id"],
            attempts=max(1, attempt),
        )

    async def _after_failure(self, doc: Document, attempt: int, failure: DeliveryFailure) -> None:
        now = self.clock()
        if failure.permanent or attempt >= doc["max_attempts"]:
            await self._fail(doc, attempt, failure.reason, failure.detail, permanent=failure.permanent)
            return
        delay = max(
            backoff_delay(attempt, self.settings.delivery_retry.as_policy()), failure.retry_after or 0.0
        )
        due = now + timedelta(seconds=delay)
        await self.log.update(
            doc["_id"],
            {
                "state": DeliveryState.DUE,
                "due_at": due,
                "waiting_for": "retry",
                "attempts": attempt,
                "reason": failure.reason,
                "detail": failure.detail,
                "last_failed_at": now,
            },
        )
        await self.log.wait_until(doc["_id"], due)
        self.metrics.notification(doc["channel"], "retrying")
        log.warning(
            "notification attempt failed, will retry",
            notification_id=doc["_id"],
            channel=doc["channel"],
            attempt=attempt,
            retry_in_seconds=round(delay, 2),
            reason=failure.reason,
            correlation_id=doc["correlation_id"],
        )

    async def _fail(
        self,
        doc: Document,
        attempt: int,
        reason: str,
        detail: str | None,
        *,
        permanent: bool,
        state: str = "",
    ) -> None:
        data = NotificationFailedData(
            **self._outcome(doc, attempt).model_dump(), error=reason[:200], permanent=permanent
        )
        event = NotificationFailed.create(
            data, source=SERVICE, event_id=deterministic_id("failed", doc["_id"], str(attempt)),
            correlation_id=doc["correlation_id"],
        ).model_copy(update={"causation_id": doc["cause_event_id"]})  # fmt: skip
        entries = outbox.outbox_entries([event])
        dead_letter = self._dead_letter_entry(doc, attempt, reason, permanent)
        if dead_letter is not None:
            entries.append(dead_letter)
        await self.log.update(
            doc["_id"],
            {
                "state": state or DeliveryState.FAILED,
                "failed_at": self.clock(),
                "attempts": attempt,
                "reason": reason,
                "detail": detail,
                "permanent": permanent,
            },
            entries,
        )
        self.metrics.notification(doc["channel"], "in_doubt" if state == DeliveryState.IN_DOUBT else "failed")
        await outbox.deliver(self.log.deliveries, doc["_id"], self.publisher, entries)
        log.error(
            "notification failed",
            notification_id=doc["_id"],
            channel=doc["channel"],
            attempts=attempt,
            permanent=permanent,
            reason=reason,
            correlation_id=doc["correlation_id"],
        )

    def _dead_letter_entry(
        self, doc: Document, attempt: int, reason: str, permanent: bool
    ) -> dict[str, Any] | None:
        """The cause event as it was, with the notification id, for the cause topic's DLQ."""
        cause = doc.get("cause") or {}
        if not cause.get("topic") or cause.get("value") is None:
            return None  # a digest has no cause event of its own to replay
        p = DLQ_HEADER_PREFIX
        headers = {
            **cause["headers"],
            f"{p}reason": reason,
            f"{p}error_type": "DeliveryFailure",
            f"{p}permanent": str(permanent).lower(),
            f"{p}attempts": str(attempt),
            f"{p}original_topic": self.settings.topic(cause["topic"]),
            f"{p}service": SERVICE,
            f"{p}notification_id": doc["_id"],
            f"{p}failed_at": self.clock().isoformat(),
        }
        return {
            "event_id": deterministic_id("dead-letter", doc["_id"], str(attempt)),
            "topic": dead_letter_topic(cause["topic"]),
            "key": cause["key"],
            "headers": [{"name": name, "value": value} for name, value in headers.items()],
            "value": cause["value"],
        }

    # ------------------------------------------------------------ digests

    async def _queue_for_digest(self, notice: Notice, contact: Contact, cause: Cause) -> None:
        now = self.clock()
        digest_at = digest_time(contact, now, self.settings.digest_at)
        record: Document = {
            "_id": notification_id(cause.event_id, notice.recipient_id, "digest"),
            "recipient_id": notice.recipient_id,
            "channel": None,
            "template": notice.template,
            "priority": notice.priority.value,
            "cause_event_id": cause.event_id,
            "cause_type": cause.type,
            "correlation_id": cause.correlation_id,
            "created_at": now,
            "attempts": 0,
            "state": DeliveryState.QUEUED_FOR_DIGEST,
            "digest_at": digest_at,
            "notice": notice_to_doc(notice),
        }
        if await self.log.open(record) is None:
            await self.log.wait_until(
                f"digest:{notice.recipient_id}:{digest_at.isoformat()}",
                digest_at,
                kind="digest",
                recipient_id=notice.recipient_id,
            )

    async def _send_digest(self, entry: Document) -> None:
        recipient_id, digest_at = entry["recipient_id"], aware(entry["due_at"])
        items = await self.log.queued_for_digest(recipient_id, digest_at)
        if items:
            notices = [notice_from_doc(item["notice"]) for item in items]
            people = await self.contacts.find({recipient_id, *(p for n in notices for p in n.mentions)})
            contact = people.get(recipient_id)
            if contact is not None:
                names = {pid: c.name for pid, c in people.items()}
                lines = []
                for notice in notices:
                    context = self.renderer.context(notice, contact, names)
                    lines.append({"subject": self.renderer.subject(notice, context), "link": context["link"]})
                digest_id = deterministic_id("digest", recipient_id, digest_at.isoformat())
                digest = Notice(
                    recipient_id=recipient_id, template=DIGEST_TEMPLATE, priority=Priority.NORMAL,
                    data={"items": lines, "count": len(lines)}, link="/",
                )  # fmt: skip
                cause = Cause(event_id=digest_id, type="notification.daily_digest", correlation_id=digest_id)
                await self._notice(digest, contact, names, cause)
                for item in items:
                    await self.log.update(
                        item["_id"], {"state": DeliveryState.DIGESTED, "digest_id": digest_id}
                    )
        await self.log.done_waiting(entry["_id"])

    # ------------------------------------------------------------ the sweep

    async def sweep(self) -> int:
        """Send what is due: retries, deferred messages, digests; resolve cut-off attempts.
        Returns how many scheduled entries it handled."""
        now = self.clock()
        handled = 0
        gate = asyncio.Semaphore(SWEEP_CONCURRENCY)

        async def one(entry: Document) -> bool:
            async with gate:
                if entry.get("kind") == "digest":
                    await self._send_digest(entry)
                    return True
                return await self._due_attempt(entry["_id"], now)

        for done in await asyncio.gather(*(one(e) for e in await self.log.due(now, SWEEP_BATCH))):
            handled += int(done)
        if now - self._last_in_doubt_check >= timedelta(seconds=self.settings.in_doubt_after_seconds / 4):
            self._last_in_doubt_check = now
            await self._resolve_cut_off(now)
        return handled

    async def _due_attempt(self, notification_id: str, now: datetime) -> bool:
        doc = await self.log.get(notification_id)
        if doc is None or doc["state"] != DeliveryState.DUE:
            await self.log.done_waiting(notification_id)
            return True
        if self.limits[Channel(doc["channel"])].wait_needed() > 0:
            return False  # over the channel's rate: stays due for a later pass
        attempt = doc["attempts"] + 1
        if not await self.log.claim_attempt(notification_id, attempt, now):
            started = await self.log.attempt_started_at(notification_id, attempt)
            if started is not None and aware(started) < now - self._in_doubt_after:
                await self._cut_off(doc, attempt)  # its claimer stopped before recording anything
            return False
        await self.log.start_attempt(notification_id, attempt, now)
        await self.log.update(
            notification_id, {"state": DeliveryState.SENDING, "attempts": attempt, "attempt_started_at": now}
        )
        await self.log.done_waiting(notification_id)
        with continuing((doc.get("cause") or {}).get("headers") or {}):
            await self._attempt(doc, attempt)
        return True

    @property
    def _in_doubt_after(self) -> timedelta:
        return timedelta(seconds=self.settings.in_doubt_after_seconds)

    async def _resolve_cut_off(self, now: datetime) -> None:
        cutoff = now - self._in_doubt_after
        for entry in await self.log.in_flight_since_before(cutoff):
            doc = await self.log.get(entry["_id"])
            if doc is None or doc["state"] != DeliveryState.SENDING:
                # Its outcome was recorded (or its delivery never written) by a process that
                # stopped before removing the entry.
                await self.log.drop_in_flight(entry["_id"], entry["stamp"])
            elif aware(doc["attempt_started_at"]) < cutoff:
                await self._cut_off(doc, doc["attempts"])

    async def _cut_off(self, doc: Document, attempt: int) -> None:
        await self._resolve_as_cut_off(doc, attempt)
        await self.log.attempt_over(doc["_id"], attempt)

    async def _resolve_as_cut_off(self, doc: Document, attempt: int) -> None:
        if self.settings.in_doubt_policy == "resend":
            await self.log.update(
                doc["_id"], {"state": DeliveryState.DUE, "attempts": attempt, "waiting_for": "resend"}
            )
            await self.log.wait_until(doc["_id"], self.clock())
            return
        await self._fail(
            doc,
            attempt,
            "the attempt was cut off mid-send (the process stopped); not resent, as the person may have it",
            None,
            permanent=False,
            state=DeliveryState.IN_DOUBT,
        )

    async def retry_replayed(self, notification_id: str) -> None:
        """An operator replayed a dead letter: try its failed delivery again, with a fresh budget."""
        doc = await self.log.get(notification_id)
        if doc is None or doc["state"] not in (DeliveryState.FAILED, DeliveryState.IN_DOUBT):
            return
        now = self.clock()
        await self.log.update(
            notification_id,
            {
                "state": DeliveryState.DUE,
                "due_at": now,
                "waiting_for": "replay",
                "max_attempts": doc["attempts"] + self.settings.delivery_retry.max_attempts,
            },
        )
        await self.log.wait_until(notification_id, now)
