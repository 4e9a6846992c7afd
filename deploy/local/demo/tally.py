"""What the platform published, counted once per message id (a replayed event counts once)."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Which service publishes each event type, by its prefix.
SERVICE_OF_PREFIX = {
    "profile": "profile",
    "matching": "matching",
    "scheduling": "scheduling",
    "notification": "notification",
    "recognition": "recognition",
}


@dataclass
class Tally:
    """Distinct event ids per type, notifications per channel and outcome, dead letters per topic."""

    by_type: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    notifications: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    dead_letters: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    causes: set[str] = field(default_factory=set)
    # Some events are re-issued with a newer revision (a session's outcome): their subjects.
    subjects: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    board_seats: int = 0
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=12))

    def add(self, event: dict[str, Any]) -> bool:
        """Count an event; False when it was counted before."""
        kind, event_id = str(event.get("type", "?")), str(event.get("event_id", ""))
        if event_id in self.by_type[kind]:
            return False
        self.by_type[kind].add(event_id)
        self.subjects[kind].add(str(event.get("subject")))
        if event.get("causation_id"):
            self.causes.add(str(event["causation_id"]))
        payload = event.get("payload") or {}
        if kind == "matching.advisory_board_formed":
            self.board_seats += len(payload.get("seats", ()))
        if kind in ("notification.delivered", "notification.failed"):
            outcome = kind.rsplit(".", 1)[1]
            self.notifications[(str(payload.get("channel")), outcome)].add(
                str(payload.get("notification_id"))
            )
        self.recent.append(f"{datetime.now(UTC):%H:%M:%S}  {kind:<42} {describe(kind, payload)}")
        return True

    def add_dead_letter(self, topic: str, position: str, reason: str) -> None:
        if position not in self.dead_letters[topic]:
            self.dead_letters[topic].add(position)
            self.recent.append(f"{datetime.now(UTC):%H:%M:%S}  dead letter on {topic}: {reason[:80]}")

    def count(self, kind: str) -> int:
        return len(self.by_type.get(kind, ()))

    def per_service(self) -> dict[str, dict[str, int]]:
        services: dict[str, dict[str, int]] = {name: {} for name in SERVICE_OF_PREFIX.values()}
        for kind, ids in sorted(self.by_type.items()):
            service = SERVICE_OF_PREFIX.get(kind.split(".", 1)[0])
            if service:
                services[service][kind.split(".", 1)[1]] = len(ids)
        return services

    def delivered_by_channel(self) -> dict[str, int]:
        return {
            c: len(ids) for (c, outcome), ids in sorted(self.notifications.items()) if outcome == "delivered"
        }

    @property
    def dead_letter_total(self) -> int:
        return sum(len(v) for v in self.dead_letters.values())

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.by_type.values())


def describe(kind: str, payload: dict[str, Any]) -> str:
    """A short line about an event with ids only: names and addresses stay out of the terminal log."""
    fields = {
        "matching.match_proposed": ("mentor_id", "mentee_id", "kind"),
        "matching.match_confirmed": ("mentor_id", "mentee_id"),
        "matching.request_waitlisted": ("person_id", "programme_id"),
        "scheduling.session_scheduled": ("kind", "starts_at"),
        "notification.delivered": ("recipient_id", "channel", "template"),
        "notification.failed": ("recipient_id", "channel", "template"),
        "recognition.badge_awarded": ("person_id", "badge"),
        "recognition.points_awarded": ("person_id", "points", "reason"),
    }.get(kind, ("person_id",))
    return " ".join(f"{name}={payload[name]}" for name in fields if name in payload)
