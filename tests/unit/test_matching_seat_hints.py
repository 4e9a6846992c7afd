"""The seat counts a matching instance keeps between messages: read from the store again only
when a seat was given back somewhere, and kept current with the instance's own claims."""

from __future__ import annotations

from collections import Counter

from services.matching.capacity import CapacityEpoch, SeatHints


class Signals:
    """The store's counters, moved by hand."""

    def __init__(self) -> None:
        self.epoch = CapacityEpoch()

    async def read(self) -> CapacityEpoch:
        return self.epoch

    def release_elsewhere(self) -> int:
        self.epoch = CapacityEpoch(released=self.epoch.released + 1, offered=self.epoch.offered)
        return self.epoch.released


class Seats:
    """Seats in the store, with their reads counted."""

    def __init__(self, held: dict[str, int]) -> None:
        self.held = Counter(held)
        self.reads = 0

    async def count(self) -> Counter[str]:
        self.reads += 1
        return Counter(self.held)


def hints_over(seats: Seats, signals: Signals) -> SeatHints:
    return SeatHints(seats.count, signals)  # type: ignore[arg-type]


async def test_seats_are_counted_once_while_nobody_gives_one_back() -> None:
    seats, signals = Seats({"M1": 1}), Signals()
    hints = hints_over(seats, signals)

    for _ in range(20):
        held, _ = await hints.held()

    assert held == {"M1": 1}
    assert seats.reads == 1


async def test_a_seat_given_back_on_another_replica_makes_the_next_read_count_again() -> None:
    seats, signals = Seats({"M1": 2}), Signals()
    hints = hints_over(seats, signals)
    await hints.held()

    seats.held["M1"] -= 1
    signals.release_elsewhere()
    held, epoch = await hints.held()

    assert held == {"M1": 1}
    assert epoch.released == 1
    assert seats.reads == 2


async def test_a_seat_given_back_here_is_counted_without_reading_the_seats_again() -> None:
    seats, signals = Seats({"M1": 2}), Signals()
    hints = hints_over(seats, signals)
    await hints.held()

    hints.gave_back("M1", signals.release_elsewhere(), released=True)
    held, _ = await hints.held()

    assert held == {"M1": 1}
    assert seats.reads == 1


async def test_a_release_elsewhere_between_two_here_is_not_mistaken_for_one_of_ours() -> None:
    seats, signals = Seats({"M1": 2, "M2": 1}), Signals()
    hints = hints_over(seats, signals)
    await hints.held()

    seats.held["M2"] -= 1
    signals.release_elsewhere()  # another replica's
    seats.held["M1"] -= 1
    hints.gave_back("M1", signals.release_elsewhere(), released=True)
    held, _ = await hints.held()

    assert held == {"M1": 1, "M2": 0}
    assert seats.reads == 2


async def test_claims_here_and_a_mentor_found_full_move_the_counts_without_reads() -> None:
    seats, signals = Seats({}), Signals()
    hints = hints_over(seats, signals)
    await hints.held()

    hints.took("M1")
    hints.full("M2", 3)  # taken through another replica meanwhile
    held, _ = await hints.held()

    assert held == {"M1": 1, "M2": 3}
    assert seats.reads == 1


async def test_the_counts_handed_out_are_a_copy_the_caller_may_change() -> None:
    hints = hints_over(Seats({"M1": 1}), Signals())
    held, _ = await hints.held()
    held["M1"] = 9

    again, _ = await hints.held()

    assert again == {"M1": 1}
