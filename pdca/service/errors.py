"""Errors of the PDCA domain; messages are English msgids translated at the boundary."""

from __future__ import annotations

from core.errors import Conflict, DomainError, NotFound


class PdcaError(DomainError):
    """Base of every PDCA error."""


class ProjectNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("This improvement project does not exist or belongs to another clinic.")


class MeasureNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("This measure does not exist or belongs to another clinic.")


class CycleNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("This cycle does not exist or belongs to another clinic.")


class CycleMovedOn(Conflict):
    """Someone else moved the cycle first (two committee members at one board)."""

    def __init__(self) -> None:
        super().__init__("This cycle was moved by someone else in the meantime. Please look at it again.")
