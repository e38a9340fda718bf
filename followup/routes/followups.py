"""Pages about the follow-up programme as a whole: the Simple-style overdue list (with its CSV export) and the
indicators table the quality committee reads."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get
from litestar.response import Template
from sqlmodel import Session

from clinic.enums import Programme
from clinic.models import Clinic
from clinic.service import list_staff
from core.audit import record_audit
from core.db import utcnow
from core.i18n import N_, format_date, gettext
from core.models import AuditAction
from core.security import CLINICAL_ROLES, Role, mask_phone
from core.web import Page, client_address, page_number, principal_of, render, requires
from followup.dates import FOLLOW_UP_INTERVAL_DAYS, Granularity
from followup.metrics import indicator_table
from followup.overdue import OverdueRow, list_overdue

PER_PAGE = 25
INDICATOR_ROLES = (Role.admin, Role.doctor, Role.committee)
PERIOD_COUNTS = {Granularity.month: 12, Granularity.week: 13}
CSV_COLUMNS = (
    N_("Patient ID"), N_("Name"), N_("Programmes"), N_("Family doctor"), N_("Last follow-up"),
    N_("Days since last follow-up"), N_("Days overdue"), N_("Last reading"), N_("Phone"), N_("SMS"),
)


def _clinic(db: Session, clinic_id: int) -> Clinic:
    clinic = db.get(Clinic, clinic_id)
    assert clinic is not None
    return clinic


def _filters(programme: str, doctor: str, older: bool) -> tuple[Programme | None, int | None, str]:
    chosen = Programme(programme) if programme in Programme.__members__ else None
    doctor_id = int(doctor) if doctor.isdigit() else None
    query = f"programme={chosen or ''}&doctor={doctor_id or ''}" + ("&all=true" if older else "")
    return chosen, doctor_id, query


class FollowUpPagesController(Controller):
    path = "/followups"
    include_in_schema = False

    @get("/overdue", name="followup:overdue", guards=[requires(*CLINICAL_ROLES)], sync_to_thread=True)
    def overdue(self, request: Request[Any, Any, Any], db: Session, programme: str = "", doctor: str = "",
                all: bool = False, page: str | None = None) -> Template:  # noqa: A002 - query name
        principal = principal_of(request)
        clinic = _clinic(db, principal.clinic_id)
        chosen, doctor_id, query = _filters(programme, doctor, all)
        number = page_number(page)
        rows, total = list_overdue(session=db, clinic=clinic, now=utcnow(), programme=chosen, doctor_id=doctor_id,
                                   include_older=all, page=number, per_page=PER_PAGE)
        record_audit(session=db, action=AuditAction.view, object_type="overdue_list", principal=principal,
                     client_address=client_address(request), detail=f"page={number} count={len(rows)} {query}")
        return render("followup/overdue.html", context={
            "rows": rows, "page": Page(number, PER_PAGE, total), "query": query, "programme": chosen or "",
            "doctor": doctor_id, "include_older": all, "programmes": list(Programme),
            "doctors": list_staff(session=db, clinic_id=clinic.id, roles={Role.doctor, Role.nurse}),
            "interval": FOLLOW_UP_INTERVAL_DAYS, "tz": clinic.timezone,
        })

    @get("/overdue.csv", name="followup:overdue-csv", guards=[requires(*CLINICAL_ROLES)], sync_to_thread=True)
    def overdue_csv(self, request: Request[Any, Any, Any], db: Session, programme: str = "", doctor: str = "",
                    all: bool = False) -> Response[bytes]:  # noqa: A002 - query name
        principal = principal_of(request)
        clinic = _clinic(db, principal.clinic_id)
        chosen, doctor_id, query = _filters(programme, doctor, all)
        now = utcnow()
        rows, _ = list_overdue(session=db, clinic=clinic, now=now, programme=chosen, doctor_id=doctor_id,
                               include_older=all, per_page=None)
        record_audit(session=db, action=AuditAction.export, object_type="overdue_list", principal=principal,
                     client_address=client_address(request), detail=f"csv rows={len(rows)} {query}")
        body = overdue_csv_text(rows, language=request.state.language, tz=ZoneInfo(clinic.timezone))
        filename = f"overdue-{now.astimezone(ZoneInfo(clinic.timezone)).date().isoformat()}.csv"
        return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @get("/indicators", name="followup:indicators", guards=[requires(*INDICATOR_ROLES)], sync_to_thread=True)
    def indicators(self, request: Request[Any, Any, Any], db: Session, granularity: str = "month",
                   doctor: str = "") -> Template:
        principal = principal_of(request)
        clinic = _clinic(db, principal.clinic_id)
        chosen = Granularity(granularity) if granularity in Granularity.__members__ else Granularity.month
        doctors = list_staff(session=db, clinic_id=clinic.id, roles={Role.doctor, Role.nurse})
        doctor_id = int(doctor) if doctor.isdigit() and any(d.id == int(doctor) for d in doctors) else None
        rows = indicator_table(session=db, clinic=clinic, granularity=chosen, count=PERIOD_COUNTS[chosen],
                               doctor_id=doctor_id, now=utcnow())
        language = request.state.language
        return render("followup/indicators.html", context={
            "rows": rows, "granularity": chosen.value,
            "labels": {r.period.start: period_label(r.period.start, chosen, language) for r in rows},
            "doctor": doctor_id, "doctors": doctors, "tz": clinic.timezone,
        })


def overdue_csv_text(rows: list[OverdueRow], *, language: str, tz: ZoneInfo) -> str:
    """The overdue list as CSV for a spreadsheet: a BOM so Excel reads the Chinese names, phones masked, and
    cells that a spreadsheet would run as a formula neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([gettext(language, c) for c in CSV_COLUMNS])

    def day(value: Any) -> str:
        return format_date(value, language, tz, fmt="yyyy-MM-dd") if value else ""

    for row in rows:
        patient = row.patient
        programmes = ", ".join(gettext(language, p.value.capitalize()) for p in patient.programmes)
        sms = gettext(language, "Opted out") if patient.sms_opted_out else (
            gettext(language, "Yes") if patient.may_receive_sms else gettext(language, "No"))
        writer.writerow([_cell(v) for v in (
            patient.id, patient.name, programmes, row.doctor_name,
            day(row.status.last_follow_up) or gettext(language, "Never"), row.status.days_since,
            row.status.days_overdue, day(row.last_reading_at), mask_phone(patient.phone), sms,
        )])
    return "\ufeff" + buffer.getvalue()


def _cell(value: object) -> object:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def period_label(start: date, granularity: str, language: str) -> str:
    if granularity == Granularity.month:
        return format_date(start, language, fmt="yyyy-MM")
    return gettext(language, "Week of %(day)s", day=start.isoformat())


HANDLERS: list[object] = [FollowUpPagesController]
