"""What every PDCA page handler shares: roles, the clinic's calendar, translation and form errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.params import Body
from sqlmodel import Session

from clinic.models import Clinic
from core.errors import DomainError
from core.i18n import N_
from core.security import Principal, Role
from core.web import tr
from pdca.flows import local_today

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]

# The quality committee and administrators run improvement work; doctors read it.
WRITE_ROLES = (Role.admin, Role.committee)
READ_ROLES = (Role.admin, Role.committee, Role.doctor)


def may_edit(principal: Principal) -> bool:
    return principal.role in WRITE_ROLES


def clinic_calendar(db: Session, principal: Principal) -> tuple[Clinic, ZoneInfo, date]:
    clinic = db.get(Clinic, principal.clinic_id)
    assert clinic is not None
    tz = ZoneInfo(clinic.timezone)
    return clinic, tz, local_today(tz)


def translator(request: Request[Any, Any, Any]) -> Callable[..., str]:
    return lambda message, **params: tr(request, message, **params)


def field_messages(request: Request[Any, Any, Any], exc: DomainError) -> dict[str, str]:
    messages = {e.field: tr(request, e.message, **e.params) for e in exc.field_errors}
    if not messages:
        messages["_form"] = tr(request, exc.message, **exc.params)
    return messages


def safe_next(raw: Any, default: str) -> str:
    """Only our own board and pages are valid places to return to (no open redirects)."""
    value = str(raw or "")
    return value if value.startswith("/pdca") and "//" not in value and "\\" not in value else default


def as_dict(values: Any) -> dict[str, Any]:
    return {k: (v[-1] if isinstance(v, list) and v else v) for k, v in dict(values or {}).items()}


def measure_chart(t: Callable[..., str], view: Any, *, target: float | None, id_prefix: str,
                  change_label: str = "", changes: list[tuple[Any, str]] | None = None) -> str:
    """The SVG of a measure view (pdca.flows.MeasureView), its phases named before/after the change."""
    from pdca.charts import changes_chart, chart_texts, render_chart
    from pdca.enums import LABELS

    series = view.series
    if not series.points:
        return ""
    title = t(view.measure.name)
    unit = t(view.measure.unit) if view.measure.unit else ""
    description = t(N_("%(measure)s per period, %(first)s to %(last)s."), measure=title, first=series.labels[0],
                    last=series.labels[-1])
    if view.reading.phase_start is not None:
        description += " " + t(N_("After the change: %(state)s."), state=t(LABELS[view.reading.state.value]))
    texts = chart_texts(t, title=title, unit=unit, description=description)
    if changes is not None:
        # The project's view: every change tested so far marks a phase.
        return changes_chart(series, changes, texts, target=target, before_label=t(N_("Before")), id_prefix=id_prefix)
    return render_chart(view.reading, series, texts, target=target, id_prefix=id_prefix,
                        phase_labels=(t(N_("Before")), change_label or t(N_("After the change"))))
