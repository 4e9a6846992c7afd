"""Slot finding for a batch of new matches: pure CPU, no servers.

    python -m tests.benchmarks.scheduling_slots [--pairs N] [--mentors M] [--horizon-days D]

Mentees and mentors get random weekday availability in a mix of time zones; each mentee is paired
with a mentor (mentors have several mentees, as in real cohorts). Reported per pair, once with
cold caches and once warm, plus a six-person circle.
"""

from __future__ import annotations

import argparse
import time as clock
from datetime import UTC, datetime, time
from random import Random

from contracts.common import AvailabilityWindow
from services.scheduling.slots import WEEKDAYS, Attendee, best_group_slot, earliest_common_slot

ZONES = (
    "America/Los_Angeles",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
)


def _person(rng: Random, person_id: str) -> Attendee:
    days = rng.sample(WEEKDAYS[:5], 3)
    windows = tuple(
        AvailabilityWindow(weekday=day, start=time(rng.randint(7, 12)), end=time(rng.randint(13, 20)))
        for day in days
    )
    return Attendee(person_id=person_id, time_zone=rng.choice(ZONES), availability=windows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--mentors", type=int, default=2_500)
    parser.add_argument("--horizon-days", type=int, default=14)
    args = parser.parse_args()
    rng = Random(7)
    mentors = [_person(rng, f"mentor-{i}") for i in range(args.mentors)]
    pairs = [(_person(rng, f"mentee-{i}"), mentors[i % args.mentors]) for i in range(args.pairs)]
    after = datetime(2026, 10, 20, 13, 7, tzinfo=UTC)
    for label in ("cold caches", "warm caches"):
        began = clock.perf_counter()
        found = sum(
            earliest_common_slot(list(pair), after=after, horizon_days=args.horizon_days, duration_minutes=45)
            is not None
            for pair in pairs
        )
        spent = clock.perf_counter() - began
        per_pair = spent / len(pairs) * 1e6
        print(f"{label}: {len(pairs)} pairs in {spent:.2f} s, {per_pair:.0f} µs per pair, {found} found")
    circles = [[pair[0] for pair in pairs[k : k + 6]] for k in range(0, min(len(pairs), 6_000), 6)]
    began = clock.perf_counter()
    for circle in circles:
        best_group_slot(circle, after=after, horizon_days=args.horizon_days, duration_minutes=60)
    spent = clock.perf_counter() - began
    print(f"circles of six: {spent / len(circles) * 1e6:.0f} µs each")


if __name__ == "__main__":
    main()
