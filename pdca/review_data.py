"""The monthly quality review's figures for one clinic and month, gathered in SQL: the follow-up indicators over
the twelve months ending with the reviewed one (each with its chart's signal state), survey results, complaints,
root cause analyses with their actions, and the PDCA projects and cycles.

Every figure is an aggregate the database computes (grouped counts per period, category, doctor or strength);
no patient row is loaded into Python, so a clinic of thousands of patients and a year of data gathers in a
few queries. Texts stay msgids here; pdca.reports translates them when it builds the PDF.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select, text
from sqlmodel import Session

from clinic.models import Clinic
from core.i18n import N_
from core.reports import report_progress
from feedback.enums import FeedbackStatus
from feedback.metrics import monthly_measures
from feedback.models import FeedbackItem
from followup.dates import Granularity, Period, local_midnight, months_before, periods_between
from followup.models import Callback
from pdca.charts import read_check
from pdca.enums import CycleStage, Direction, ProjectStatus, SignalState
from pdca.metrics import Cell, Series, get_metric, label
from pdca.metrics.periods import periods_table
from pdca.models import Cycle, ImprovementProject
from pdca.review_lines import (
    AnalysisLine,
    Breach,
    ComplaintLine,
    DecisionLine,
    DoctorLine,
    ProjectLine,
    StrengthLine,
    SurveyLine,
)
from pdca.spc import PointClass, point_classes
from pdca.spc.signals import PHASE_RULES
from rca.enums import OPEN_ACTION_STATUSES, ActionStrength, RcaStatus
from rca.models import RcaAction, RootCauseAnalysis
from surveys.results import ResultsQuery, compute_results

MONTHS_CHARTED = 12  # the reviewed month and the eleven before it: enough points for the run-chart rules
FOLLOWUP_CODES = ("callbacks_closed_on_time", "time_to_first_attempt", "callbacks_reached", "escalations",
                  "bp_controlled", "glucose_controlled", "reading_adherence")
SURVEY_TEMPLATES = (("service", N_("Service survey (monthly sample)")),
                    ("post_callback", N_("After-callback survey")))
LIST_LIMIT = 15  # rows of a named list (breaches, analyses, projects) shown; the rest are counted


@dataclass(frozen=True)
class Indicator:
    """One follow-up indicator: its series over the charted months and what the reviewed month shows."""

    code: str
    title: str  # msgid
    unit: str  # msgid
    definition: str  # msgid (the numerator's definition)
    series: Series
    state: SignalState

    @property
    def value(self) -> float | None:
        return self.series.shown(len(self.series) - 1) if len(self.series) else None

    @property
    def cell(self) -> Cell:
        return self.series.cells[-1]

    @property
    def previous(self) -> float | None:
        return self.series.shown(len(self.series) - 2) if len(self.series) > 1 else None


@dataclass
class MonthlyReview:
    clinic: Clinic
    tz: ZoneInfo
    month: date  # its first day
    until: date  # the first day of the next month
    indicators: list[Indicator] = field(default_factory=list)
    surveys: list[SurveyLine] = field(default_factory=list)
    doctors: list[DoctorLine] = field(default_factory=list)
    complaints: list[ComplaintLine] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)
    breach_count: int = 0
    rca_status: dict[str, int] = field(default_factory=dict)
    rca_opened: int = 0
    analyses: list[AnalysisLine] = field(default_factory=list)
    strengths: list[StrengthLine] = field(default_factory=list)
    stages: dict[str, int] = field(default_factory=dict)
    projects: list[ProjectLine] = field(default_factory=list)
    decisions: list[DecisionLine] = field(default_factory=list)

    @property
    def by_code(self) -> dict[str, Indicator]:
        return {i.code: i for i in self.indicators}

    @property
    def all_complaints(self) -> ComplaintLine | None:
        return next((c for c in self.complaints if c.category is None), None)

    @property
    def open_actions_overdue(self) -> int:
        return sum(s.overdue for s in self.strengths)

    @property
    def has_data(self) -> bool:
        """Anything at all happened or was measured in the month (a new clinic's first month has nothing)."""
        measured = any(i.cell.value is not None for i in self.indicators)
        complaints = self.all_complaints
        return bool(measured or any(s.invitations or s.responses for s in self.surveys)
                    or (complaints and complaints.items) or self.breach_count or self.rca_opened
                    or any(self.rca_status.values()) or self.decisions or self.projects)


def month_periods(month: date) -> list[Period]:
    return periods_between(months_before(month, MONTHS_CHARTED - 1), month, Granularity.month)


def gather_review(*, session: Session, clinic: Clinic, month: date, now: datetime) -> MonthlyReview:
    """Every figure of the review of `month` (its first day) for `clinic`, reporting progress as it goes."""
    tz = ZoneInfo(clinic.timezone)
    periods = month_periods(month)
    if session.get_bind().dialect.name == "postgresql":
        # A year of readings ranked per patient and month: JIT compiling costs seconds and buys nothing for these
        # one-off aggregates, and the window sorts spill to disk at the default work_mem. This transaction only.
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    review = MonthlyReview(clinic=clinic, tz=tz, month=month, until=periods[-1].end)
    steps: list[tuple[int, Callable[[], None]]] = [
        (45, lambda: review.indicators.extend(_indicators(session, clinic.id, tz, periods))),
        (60, lambda: _surveys(session, review)),
        (70, lambda: _complaints(session, review, now)),
        (85, lambda: _rcas(session, review)),
        (95, lambda: _pdca(session, review)),
    ]
    for percent, step in steps:
        step()
        report_progress(percent)
    return review


# --- follow-up indicators ------------------------------------------------------------------------------------


def _indicators(session: Session, clinic_id: int, tz: ZoneInfo, periods: list[Period]) -> list[Indicator]:
    found = []
    for code in FOLLOWUP_CODES:
        if code == "escalations":
            series = Series(periods=tuple(periods), labels=tuple(label(p, "month") for p in periods),
                            cells=tuple(escalation_cells(session, clinic_id, tz, periods)), chart="p",
                            multiply=100.0, direction=Direction.decrease)
            found.append(Indicator(code, N_("Callbacks escalated"), N_("%"),
                                   N_("Callbacks opened in the month that were escalated for being overdue"),
                                   series, signal_state(series)))
            continue
        metric = get_metric(code)
        if metric is None:  # pragma: no cover - the catalogue declares every code above
            continue
        available = metric.compute is not None
        cells = metric.compute(session=session, clinic_id=clinic_id, tz=tz, periods=periods, options={}) \
            if metric.compute is not None else [Cell(None)] * len(periods)
        series = Series(periods=tuple(periods), labels=tuple(label(p, "month") for p in periods),
                        cells=tuple(cells), chart=metric.chart, multiply=metric.multiply,
                        direction=metric.direction, available=available)
        found.append(Indicator(code, metric.title, metric.unit, metric.numerator, series, signal_state(series)))
    return found


def escalation_cells(session: Session, clinic_id: int, tz: ZoneInfo, periods: list[Period]) -> list[Cell]:
    """Per month: callbacks opened (denominator) and those of them escalated (numerator)."""
    p = periods_table(periods, tz, postgres=session.get_bind().dialect.name == "postgresql")
    opened = and_(Callback.clinic_id == clinic_id, Callback.opened_at >= p.c.start_at, Callback.opened_at < p.c.end_at)
    rows = session.execute(
        select(p.c.idx, func.count(Callback.id), func.sum(case((Callback.escalated_at.is_not(None), 1), else_=0)))
        .select_from(p).join(Callback, opened).group_by(p.c.idx)).all()
    by_index = {int(idx): (int(total), int(escalated or 0)) for idx, total, escalated in rows}
    cells = []
    for i in range(len(periods)):
        total, escalated = by_index.get(i, (0, 0))
        cells.append(Cell(float(escalated), float(total)) if total else Cell(None))
    return cells


def signal_state(series: Series) -> SignalState:
    """What the chart says about the reviewed (last) month: a special cause in the better or worse direction,
    a non-random pattern, or common-cause variation. Fewer than six points cannot say anything."""
    if series.points < 6 or series.shown(len(series) - 1) is None:
        return SignalState.not_enough_data
    chart = read_check(series, None).chart
    if chart is None:
        return SignalState.not_enough_data
    improvement = {Direction.increase: "increase", Direction.decrease: "decrease"}.get(series.direction, "neutral")
    last = point_classes(signals=chart.signals, n_points=len(chart.points), improvement=improvement)[-1]  # type: ignore[arg-type]
    if last == PointClass.improvement:
        return SignalState.improvement
    if last == PointClass.concern:
        return SignalState.concern
    if last == PointClass.neutral or any(s.rule in PHASE_RULES for s in chart.signals):
        return SignalState.special_cause
    return SignalState.no_signal


# --- satisfaction ----------------------------------------------------------------------------------------------


def _surveys(session: Session, review: MonthlyReview) -> None:
    last_day = date.fromordinal(review.until.toordinal() - 1)
    for code, name in SURVEY_TEMPLATES:
        results = compute_results(session=session, query=ResultsQuery(
            clinic_id=review.clinic.id, template_code=code, date_from=review.month, date_to=last_day))
        pooled = results.periods[0] if results.periods else None
        review.surveys.append(SurveyLine(
            template=name, invitations=results.invitations, answered=results.answered, responses=results.responses,
            rate=_fraction(results.rate), top_box=pooled.box.top_pct if pooled else None, nps=results.nps.score,
            nps_n=results.nps.n))
        if code == "service":
            review.doctors = [DoctorLine(name=d.label, responses=d.responses, rate=_fraction(d.rate),
                                         top_box=d.box.top_pct, nps=d.nps.score, nps_n=d.nps.n)
                              for d in results.doctors if d.responses or d.invitations]


def _fraction(percent: float | None) -> float | None:
    """The surveys domain reports response rates in per cent; the review's lines hold 0–1 like its other rates."""
    return None if percent is None else percent / 100


# --- complaints --------------------------------------------------------------------------------------------------


def _complaints(session: Session, review: MonthlyReview, now: datetime) -> None:
    today = now.astimezone(review.tz).date()
    months = max(1, (today.year - review.month.year) * 12 + today.month - review.month.month + 1)
    for row in monthly_measures(session=session, clinic=review.clinic, months=months, now=now):
        if row.month == review.month and (row.category is None or row.items):
            review.complaints.append(ComplaintLine(
                category=row.category.value if row.category else None, items=row.items, complaints=row.complaints,
                ack_on_time=row.ack_on_time_pct, ack_measured=row.ack_measured,
                resolve_on_time=row.resolve_on_time_pct, resolve_measured=row.resolve_measured))
    # Open breaches at the month's end: received by then, not yet acknowledged (or resolved) then, and past
    # that step's deadline.
    end = local_midnight(review.until, review.tz)
    ack_late = and_(or_(FeedbackItem.acknowledged_at.is_(None), FeedbackItem.acknowledged_at >= end),
                    FeedbackItem.ack_due_at < end)
    resolve_late = and_(or_(FeedbackItem.resolved_at.is_(None), FeedbackItem.resolved_at >= end),
                        FeedbackItem.resolve_due_at < end)
    where = [FeedbackItem.clinic_id == review.clinic.id, FeedbackItem.received_at < end, or_(ack_late, resolve_late),
             or_(FeedbackItem.closed_at.is_(None), FeedbackItem.closed_at >= end)]
    review.breach_count = session.scalar(select(func.count(FeedbackItem.id)).where(*where)) or 0
    rows = session.execute(
        select(FeedbackItem.reference, FeedbackItem.category, FeedbackItem.status, FeedbackItem.received_at,
               FeedbackItem.ack_due_at, FeedbackItem.resolve_due_at, case((ack_late, 1), else_=0))
        .where(*where).order_by(FeedbackItem.received_at, FeedbackItem.id).limit(LIST_LIMIT)).all()
    review.breaches = [
        Breach(reference=ref, category=str(category), status=str(FeedbackStatus(status)), received_at=received,
               due_at=ack_due if ack else resolve_due, step="acknowledge" if ack else "resolve")
        for ref, category, status, received, ack_due, resolve_due, ack in rows]


# --- root cause analyses -----------------------------------------------------------------------------------------


def _rcas(session: Session, review: MonthlyReview) -> None:
    start, end = local_midnight(review.month, review.tz), local_midnight(review.until, review.tz)
    clinic_id = review.clinic.id
    review.rca_opened = session.scalar(select(func.count(RootCauseAnalysis.id)).where(
        RootCauseAnalysis.clinic_id == clinic_id, RootCauseAnalysis.triggered_at >= start,
        RootCauseAnalysis.triggered_at < end)) or 0
    review.rca_status = {str(s): int(n) for s, n in session.execute(
        select(RootCauseAnalysis.status, func.count(RootCauseAnalysis.id))
        .where(RootCauseAnalysis.clinic_id == clinic_id, RootCauseAnalysis.triggered_at < end)
        .group_by(RootCauseAnalysis.status))}
    open_actions = (select(RcaAction.analysis_id, func.count(RcaAction.id).label("n"))
                    .where(RcaAction.clinic_id == clinic_id, RcaAction.status.in_(list(OPEN_ACTION_STATUSES)))
                    .group_by(RcaAction.analysis_id).subquery())
    active = or_(RootCauseAnalysis.status.in_([RcaStatus.open, RcaStatus.in_progress, RcaStatus.completed]),
                 RootCauseAnalysis.triggered_at >= start)
    review.analyses = [
        AnalysisLine(reference=f"RCA-{rid}", title=title, status=str(status), triggered_at=triggered, due_at=due,
                     open_actions=int(n or 0))
        for rid, title, status, triggered, due, n in session.execute(
            select(RootCauseAnalysis.id, RootCauseAnalysis.title, RootCauseAnalysis.status,
                   RootCauseAnalysis.triggered_at, RootCauseAnalysis.due_at, open_actions.c.n)
            .outerjoin(open_actions, open_actions.c.analysis_id == RootCauseAnalysis.id)
            .where(RootCauseAnalysis.clinic_id == clinic_id, RootCauseAnalysis.triggered_at < end, active)
            .order_by(RootCauseAnalysis.triggered_at.desc(), RootCauseAnalysis.id.desc()).limit(LIST_LIMIT))]
    overdue = and_(RcaAction.status.in_(list(OPEN_ACTION_STATUSES)), RcaAction.due_at < end)
    counts: dict[str, dict[str, int]] = {s.value: {} for s in ActionStrength}
    for strength, status, n, late in session.execute(
            select(RcaAction.strength, RcaAction.status, func.count(RcaAction.id),
                   func.sum(case((overdue, 1), else_=0)))
            .where(RcaAction.clinic_id == clinic_id, RcaAction.created_at < end)
            .group_by(RcaAction.strength, RcaAction.status)):
        bucket = counts[str(strength)]
        bucket[str(status)] = int(n)
        bucket["overdue"] = bucket.get("overdue", 0) + int(late or 0)
    review.strengths = [StrengthLine(strength=s, planned=c.get("planned", 0), in_progress=c.get("in_progress", 0),
                                     done=c.get("done", 0), cancelled=c.get("cancelled", 0),
                                     overdue=c.get("overdue", 0)) for s, c in counts.items()]


# --- PDCA ----------------------------------------------------------------------------------------------------------


def _pdca(session: Session, review: MonthlyReview) -> None:
    clinic_id = review.clinic.id
    start, end = local_midnight(review.month, review.tz), local_midnight(review.until, review.tz)
    review.stages = {s.value: 0 for s in CycleStage}
    review.stages.update({str(stage): int(n) for stage, n in session.execute(
        select(Cycle.stage, func.count(Cycle.id)).where(Cycle.clinic_id == clinic_id, Cycle.created_at < end)
        .group_by(Cycle.stage))})
    cycles = (select(Cycle.project_id, func.count(Cycle.id).label("n"),
                     func.sum(case((Cycle.stage != CycleStage.done, 1), else_=0)).label("open"))
              .where(Cycle.clinic_id == clinic_id).group_by(Cycle.project_id).subquery())
    review.projects = [
        ProjectLine(title=title, status=str(status), progress=float(progress), deadline=deadline, cycles=int(n or 0),
                    open_cycles=int(still_open or 0))
        for title, status, progress, deadline, n, still_open in session.execute(
            select(ImprovementProject.title, ImprovementProject.status, ImprovementProject.progress_score,
                   ImprovementProject.deadline, cycles.c.n, cycles.c.open)
            .outerjoin(cycles, cycles.c.project_id == ImprovementProject.id)
            .where(ImprovementProject.clinic_id == clinic_id, ImprovementProject.created_at < end,
                   or_(ImprovementProject.status == ProjectStatus.active, ImprovementProject.updated_at >= start))
            .order_by(ImprovementProject.deadline, ImprovementProject.id).limit(LIST_LIMIT))]
    review.decisions = [
        DecisionLine(project=title, number=number, change_idea=idea, decision=str(decision or ""), signal=signal)
        for title, number, idea, decision, signal in session.execute(
            select(ImprovementProject.title, Cycle.number, Cycle.change_idea, Cycle.act_decision, Cycle.check_signal)
            .join(ImprovementProject, ImprovementProject.id == Cycle.project_id)
            .where(Cycle.clinic_id == clinic_id, Cycle.act_decision.is_not(None), Cycle.stage_changed_at >= start,
                   Cycle.stage_changed_at < end)
            .order_by(Cycle.stage_changed_at, Cycle.id).limit(LIST_LIMIT))]
