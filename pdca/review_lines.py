"""The rows of the monthly quality review's tables (pdca/review_data.py gathers them, the PDF template shows them):
survey results, complaint categories and breaches, RCA actions by strength, analyses, projects and decisions.
Texts that need translating stay msgids or enum values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class SurveyLine:
    template: str  # msgid
    invitations: int
    answered: int
    responses: int
    rate: float | None  # 0–1
    top_box: float | None  # per cent
    nps: float | None
    nps_n: int


@dataclass(frozen=True)
class DoctorLine:
    name: str
    responses: int
    rate: float | None  # 0–1
    top_box: float | None  # per cent
    nps: float | None
    nps_n: int


@dataclass(frozen=True)
class ComplaintLine:
    category: str | None  # None: all categories
    items: int
    complaints: int
    ack_on_time: float | None
    ack_measured: int
    resolve_on_time: float | None
    resolve_measured: int


@dataclass(frozen=True)
class Breach:
    reference: str
    category: str
    status: str
    received_at: datetime
    due_at: datetime
    step: str  # "acknowledge" or "resolve"


@dataclass(frozen=True)
class StrengthLine:
    strength: str
    planned: int
    in_progress: int
    done: int
    cancelled: int
    overdue: int

    @property
    def total(self) -> int:
        return self.planned + self.in_progress + self.done + self.cancelled


@dataclass(frozen=True)
class AnalysisLine:
    reference: str
    title: str
    status: str
    triggered_at: datetime
    due_at: datetime
    open_actions: int


@dataclass(frozen=True)
class ProjectLine:
    title: str
    status: str
    progress: float
    deadline: date
    cycles: int
    open_cycles: int


@dataclass(frozen=True)
class DecisionLine:
    project: str
    number: int
    change_idea: str
    decision: str
    signal: str
