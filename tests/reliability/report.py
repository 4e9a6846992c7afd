"""The suite's table: per fault, what was in flight, what was lost or doubled, how long the
platform took to catch up."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Row:
    fault: str
    in_flight: int
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    recovered_seconds: float | None = None  # None: did not catch up within the time allowed
    error: str | None = None

    @property
    def passed(self) -> bool:
        return not self.lost and not self.doubled and self.recovered_seconds is not None and not self.error

    def line(self) -> str:
        recovered = f"{self.recovered_seconds:.1f}" if self.recovered_seconds is not None else "never"
        return f"{self.fault:32} {self.in_flight:9} {len(self.lost):5} {len(self.doubled):7} {recovered:>11}"


HEADER = f"{'fault':32} {'in flight':>9} {'lost':>5} {'doubled':>7} {'recovered s':>11}"


def table(rows: list[Row]) -> str:
    lines = [HEADER]
    for row in rows:
        recovered = f"{row.recovered_seconds:.1f}" if row.recovered_seconds is not None else "never"
        lines.append(
            f"{row.fault:32} {row.in_flight:9} {len(row.lost):5} {len(row.doubled):7} {recovered:>11}"
        )
    for row in rows:
        for finding in [*(f"lost: {x}" for x in row.lost), *(f"doubled: {x}" for x in row.doubled)][:20]:
            lines.append(f"  {row.fault}: {finding}")
        if row.error:
            lines.append(f"  {row.fault}: error: {row.error}")
    return "\n".join(lines)
