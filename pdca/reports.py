"""The quality committee's PDF reports, registered as report kinds (core/reports.py):

- the monthly quality review of a clinic (`monthly_review`): a one-page summary, then the follow-up
  indicators with their charts and signal states, satisfaction, complaints, root cause analyses and the PDCA
  work — rendered in a job (it reads a year of data) and produced for every clinic on the 1st (pdca/tasks.py);
- the PDCA cycle report (`cycle_report`): the project's aim and measures, the cycle's plan, prediction, what
  was done, the measure's chart with the change as a new phase, the decision and the linked RCA actions —
  small enough to render in the request from the cycle page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlmodel import Session

from clinic.models import Clinic, StaffUser
from core import i18n
from core.db import utcnow
from core.errors import FieldErrors, NotFound
from core.i18n import N_
from core.reports import CYCLE_REPORT, MONTHLY_REVIEW, register_report, report_progress
from core.security import Role
from feedback.enums import LABELS as FEEDBACK_LABELS
from pdca import service
from pdca.charts import RULE_NAMES, chart_texts, read_check, render_chart
from pdca.enums import LABELS, PROGRESS_SCORES, progress_label
from pdca.flows import cycle_view, local_today
from pdca.models import Cycle
from pdca.review_data import Indicator, MonthlyReview, gather_review
from pdca.service.parse import plain_number
from rca.enums import ACTION_STATUS_LABELS
from rca.enums import LABELS as RCA_LABELS
from rca.models import RcaAction, RootCauseAnalysis

MONTHLY_TITLE = N_("Monthly quality review")
CYCLE_TITLE = N_("PDCA cycle report")
REVIEW_ROLES = frozenset({Role.committee, Role.admin, Role.doctor})
CYCLE_ROLES = frozenset({Role.committee, Role.admin, Role.doctor})
MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
EARLIEST_YEAR = 2000

Translate = Callable[..., str]


def parse_month(params: Mapping[str, Any], *, today: date) -> date:
    """The first day of the month named by params["month"] ("2026-10"); a malformed or future month is refused
    with a message on the `month` field (the current month may be reviewed so far)."""
    errors = FieldErrors()
    found = MONTH.match(str(params.get("month") or "").strip())
    month = None
    if found and 1 <= int(found.group(2)) <= 12 and int(found.group(1)) >= EARLIEST_YEAR:
        month = date(int(found.group(1)), int(found.group(2)), 1)
    if month is None:
        errors.add("month", "Enter the month as YYYY-MM, for example 2026-10.")
    elif month > today.replace(day=1):
        errors.add("month", "The month has not begun yet.")
    errors.raise_if_any()
    assert month is not None
    return month


def month_key(params: Mapping[str, Any]) -> str:
    """The archive's period ("2026-10"); checked before a job is queued, so a bad month is refused at once.
    The clinic's calendar is not known here: any time zone's today counts (UTC+14)."""
    return parse_month(params, today=(utcnow() + timedelta(hours=14)).date()).strftime("%Y-%m")


def month_label(month: date, language: str) -> str:
    return i18n.format_date(month, language, fmt="yyyy年M月" if language == "zh-CN" else "MMMM yyyy")


def _clinic(session: Session, clinic_id: int) -> Clinic:
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFound("Clinic not found.")
    return clinic


def _translator(language: str) -> Translate:
    return lambda message, **params: i18n.gettext(language, message, **params)


# --- the monthly quality review ------------------------------------------------------------------------------


def build_monthly_review(session: Session, clinic_id: int, params: Mapping[str, Any],
                         language: str) -> tuple[str, dict[str, Any], str]:
    clinic = _clinic(session, clinic_id)
    tz = ZoneInfo(clinic.timezone)
    now = utcnow()
    month = parse_month(params, today=local_today(tz))
    report_progress(5)
    review = gather_review(session=session, clinic=clinic, month=month, now=now)
    t = _translator(language)
    charts = {i.code: indicator_chart(t, i) for i in review.indicators} if review.has_data else {}
    report_progress(98)
    title = t(MONTHLY_TITLE)
    period = month_label(month, language)
    return "pdf/monthly_review.pdf.html", {
        "clinic_name": clinic.name, "tz": tz, "period_label": period, "period_key": month.strftime("%Y-%m"),
        "filename": f"{title} {clinic.name} {month.strftime('%Y-%m')}.pdf", "review": review, "charts": charts,
        "month_name": period, "month_in_progress": month == local_today(tz).replace(day=1),
        "labels": LABELS, "feedback_labels": FEEDBACK_LABELS, "rca_labels": RCA_LABELS,
        "action_labels": ACTION_STATUS_LABELS, "progress_label": progress_label, "signals": _signals(review),
    }, title


def indicator_chart(t: Translate, indicator: Indicator) -> str:
    """The indicator's run or control chart over the charted months (the public chart functions draw it)."""
    series = indicator.series
    if not series.points:
        return ""
    title, unit = t(indicator.title), t(indicator.unit)
    description = t(N_("%(measure)s per month, %(first)s to %(last)s: %(state)s."), measure=title,
                    first=series.labels[0], last=series.labels[-1], state=t(LABELS[indicator.state.value]))
    texts = chart_texts(t, title=title, unit=unit, description=description)
    return render_chart(read_check(series, None), series, texts, target=None, phase_labels=("", ""),
                        id_prefix=f"mr-{indicator.code}")


def _signals(review: MonthlyReview) -> list[Indicator]:
    """The indicators whose reviewed month shows a special cause: what the committee should discuss first."""
    return [i for i in review.indicators if i.state.value in ("improvement", "concern", "special_cause")]


# --- the PDCA cycle report ------------------------------------------------------------------------------------


def build_cycle_report(session: Session, clinic_id: int, params: Mapping[str, Any],
                       language: str) -> tuple[str, dict[str, Any], str]:
    raw = str(params.get("cycle_id") or "").strip()
    if not raw.isdigit():
        raise NotFound("Cycle not found.")
    cycle = service.get_cycle(session=session, clinic_id=clinic_id, cycle_id=int(raw))
    project = service.get_project(session=session, clinic_id=clinic_id, project_id=cycle.project_id)
    clinic = _clinic(session, clinic_id)
    tz = ZoneInfo(clinic.timezone)
    t = _translator(language)
    view = cycle_view(session=session, cycle=cycle, project=project, tz=tz, today=local_today(tz))
    measures = service.project_measures(session=session, project_id=project.id)  # type: ignore[arg-type]
    aim = next((m for m in measures if m.id == project.aim_measure_id), None)
    chart = ""
    if view is not None and view.series.points:
        target = project.target if view.measure.id == project.aim_measure_id else view.measure.target
        name = t(view.measure.name)
        description = t(N_("%(measure)s per period, %(first)s to %(last)s."), measure=name,
                        first=view.series.labels[0], last=view.series.labels[-1])
        texts = chart_texts(t, title=name, unit=t(view.measure.unit) if view.measure.unit else "",
                            description=description)
        chart = render_chart(view.reading, view.series, texts, target=target, id_prefix=f"cr{cycle.id}",
                             phase_labels=(t(N_("Before")), t(N_("Cycle %(n)s"), n=cycle.number)))
    people = [i for i in (cycle.owner_id, project.owner_id) if i]
    names = dict(session.execute(select(StaffUser.id, StaffUser.display_name)
                                 .where(StaffUser.id.in_(people), StaffUser.clinic_id == clinic_id)).all()) \
        if people else {}
    title = t(CYCLE_TITLE)
    return "pdf/cycle_report.pdf.html", {
        "clinic_name": clinic.name, "tz": tz, "period_key": f"C-{cycle.id}",
        "period_label": t(N_("Cycle %(n)s of “%(project)s”"), n=cycle.number, project=project.title),
        "filename": f"{title} C-{cycle.id}.pdf", "cycle": cycle, "project": project, "aim": aim,
        "measures": measures, "view": view, "chart": chart, "owner": names.get(cycle.owner_id or 0, ""),
        "project_owner": names.get(project.owner_id or 0, ""), "labels": LABELS, "rule_names": RULE_NAMES,
        "history": service.history(session=session, cycle_id=cycle.id),  # type: ignore[arg-type]
        "actions": linked_actions(session, cycle, project.rca_action_id), "action_labels": ACTION_STATUS_LABELS,
        "rca_labels": RCA_LABELS, "plain": plain_number, "progress_scores": PROGRESS_SCORES,
        "progress_label": progress_label,
    }, title


def linked_actions(session: Session, cycle: Cycle, rca_action_id: int | None) -> list[tuple[RcaAction, str]]:
    """The RCA actions the cycle's project tests (linked from either side), with their analysis' title."""
    linked = [RcaAction.pdca_project_id == cycle.project_id]
    if rca_action_id is not None:
        linked.append(RcaAction.id == rca_action_id)
    rows = session.execute(
        select(RcaAction, RootCauseAnalysis.title)
        .join(RootCauseAnalysis, RootCauseAnalysis.id == RcaAction.analysis_id)
        .where(RcaAction.clinic_id == cycle.clinic_id, or_(*linked)).order_by(RcaAction.due_date, RcaAction.id))
    return [(action, title) for action, title in rows]


def _cycle_clinic(session: Session, params: Mapping[str, Any]) -> int | None:
    raw = str(params.get("cycle_id") or "")
    cycle = session.get(Cycle, int(raw)) if raw.isdigit() else None
    return cycle.clinic_id if cycle is not None else None


register_report(MONTHLY_REVIEW, build_monthly_review, label=MONTHLY_TITLE, roles=REVIEW_ROLES, period=month_key,
                form="pdca/_monthly_review_form.html")
register_report(CYCLE_REPORT, build_cycle_report, label=CYCLE_TITLE, roles=CYCLE_ROLES,
                period=lambda params: f"C-{params.get('cycle_id', '')}", clinic_of=_cycle_clinic)
