"""The shapes every metric shares: a period's cell, a metric's declaration, and the call signature."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlmodel import Session

from followup.dates import Period
from pdca.enums import Direction, Frequency


@dataclass(frozen=True)
class Cell:
    """One period of a measure: a count over a denominator (p, u), a count (c), a measurement (i, run), or
    a subgroup mean with its size and standard deviation (xbar).  None is a period without data."""

    value: float | None
    denominator: float | None = None
    sd: float | None = None


class Compute(Protocol):
    def __call__(
        self, *, session: Session, clinic_id: int, tz: ZoneInfo, periods: Sequence[Period], options: dict[str, Any]
    ) -> list[Cell]: ...


@dataclass(frozen=True)
class Option:
    """A choice that narrows a metric (e.g. the complaint category); values are (value, label msgid)."""

    name: str
    label: str
    choices: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class MetricDef:
    """A catalogue entry: what the committee sees (title, definition, unit, better direction) and the SQL
    that computes it.  `compute` is None while the upstream module that owns the indicator is missing."""

    code: str
    title: str
    chart: str
    unit: str
    direction: Direction
    numerator: str
    denominator: str
    compute: Compute | None
    multiply: float = 1.0
    frequency: Frequency = Frequency.month  # the default for a new measure
    frequencies: tuple[Frequency, ...] = (Frequency.month, Frequency.week)
    source: str = ""  # the module that owns the SQL, shown to administrators
    options: tuple[Option, ...] = field(default_factory=tuple)

    @property
    def available(self) -> bool:
        return self.compute is not None


Resolver = Callable[[], Compute | None]
