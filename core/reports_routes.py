"""Report archive pages: the clinic's list, one report's status (refreshing itself while a job renders it), the
PDF download (written to the audit log as an export), asking for a report and trying a failed one again."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlmodel import Session

from core import i18n
from core.audit import record_audit
from core.db import utcnow
from core.errors import NotFound, PermissionDenied
from core.i18n import N_
from core.models import AuditAction
from core.pdf import MEDIA_TYPE, download_headers
from core.reports import (
    ReportFile,
    ReportStatus,
    ascii_filename,
    get_report,
    list_reports,
    report_content,
    report_kind,
    report_kinds,
    request_report,
)
from core.security import STAFF_ROLES, Principal
from core.web import Page, client_address, page_number, principal_of, render, requires

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
PER_PAGE = 25
REFRESH_SECONDS = 2
STATUS_LABELS = {
    ReportStatus.queued: N_("Waiting to start"), ReportStatus.rendering: N_("Being prepared"),
    ReportStatus.done: N_("Ready"), ReportStatus.failed: N_("Failed"),
}
_NOT_PARAMS = frozenset({"kind", "lang", "_csrf_token"})


def _report(db: Session, principal: Principal, ref: str) -> ReportFile:
    """`ref` is the id in the path; another clinic's report, or a kind the role may not see, is not found."""
    if not ref.isdigit():
        raise NotFound("Report not found.")
    return get_report(session=db, clinic_id=principal.clinic_id, report_id=int(ref), role=principal.role)


def _status_context(report: ReportFile) -> dict[str, Any]:
    return {"report": report, "status_labels": STATUS_LABELS, "refresh_seconds": REFRESH_SECONDS,
            "language_names": i18n.LANGUAGE_NAMES}


class ReportController(Controller):
    """One controller, so GET and POST /reports register together (Litestar wraps a handler registered twice)."""

    path = "/reports"
    guards = [requires(*STAFF_ROLES)]

    @get("/", name="core:reports", sync_to_thread=True)
    def report_archive(self, request: Request[Any, Any, Any], db: Session, page: str | None = None,
                       kind: str | None = None) -> Template:
        principal = principal_of(request)
        kinds = [k for k in report_kinds() if principal.role in k.roles]
        chosen = kind if kind in {k.kind for k in kinds} else None
        number = page_number(page)
        reports, total = list_reports(session=db, clinic_id=principal.clinic_id, role=principal.role, page=number,
                                      per_page=PER_PAGE, kind=chosen)
        return render("core/reports.html", context={
            "reports": reports, "page": Page(number, PER_PAGE, total), "kinds": kinds, "kind": chosen or "",
            "status_labels": STATUS_LABELS, "refresh": any(r.pending for r in reports),
            "refresh_seconds": REFRESH_SECONDS * 3, "now": utcnow(),  # forms default to the last month ended
        })

    @post("/", name="core:request-report", sync_to_thread=True)
    def ask_for_report(self, request: Request[Any, Any, Any], db: Session, data: Form) -> Redirect:
        """Queue a report for the job renderer and show its progress page (the same one if already on its way)."""
        principal = principal_of(request)
        spec = report_kind(_one(data.get("kind")))
        if principal.role not in spec.roles:
            raise PermissionDenied("You do not have access to this page.")
        params = {key: _one(value) for key, value in data.items() if key not in _NOT_PARAMS}
        owner = spec.clinic_of(db, params) if spec.clinic_of else None
        if owner is not None and owner != principal.clinic_id:  # e.g. another clinic's patient: as if none
            raise NotFound("Page not found.")
        language = i18n.normalise_language(_one(data.get("lang")) or request.state.get("language"))
        report = request_report(session=db, kind=spec.kind, clinic_id=principal.clinic_id, params=params,
                                language=language, requested_by=principal)
        record_audit(session=db, action=AuditAction.create, object_type="report", object_id=report.id,
                     principal=principal, client_address=client_address(request),
                     detail=f"requested {spec.kind} {report.period} {language}")
        return Redirect(f"/reports/{report.id}", status_code=303)

    @get("/{ref:str}", name="core:report", sync_to_thread=True)
    def report_page(self, request: Request[Any, Any, Any], db: Session, ref: str) -> Any:
        """`/reports/12` is the status page, `/reports/12.pdf` the PDF itself."""
        principal = principal_of(request)
        if ref.endswith(".pdf"):
            return _download(request, db, principal, _report(db, principal, ref.removesuffix(".pdf")))
        report = _report(db, principal, ref)
        return render("core/report.html", context=_status_context(report))

    @get("/{ref:str}/status", name="core:report-status", sync_to_thread=True)
    def report_status(self, request: Request[Any, Any, Any], db: Session, ref: str) -> Template:
        """Only the status block, for a page that shows a report's progress inside its own layout."""
        report = _report(db, principal_of(request), ref)
        return render("core/_report_status.html", context=_status_context(report))

    @post("/{ref:str}/retry", name="core:retry-report", sync_to_thread=True)
    def retry_report(self, request: Request[Any, Any, Any], db: Session, ref: str) -> Redirect:
        principal = principal_of(request)
        failed = _report(db, principal, ref)
        if failed.status != ReportStatus.failed:
            return Redirect(f"/reports/{failed.id}", status_code=303)
        report = request_report(session=db, kind=failed.kind, clinic_id=principal.clinic_id, params=failed.params,
                                language=failed.language, requested_by=principal)
        record_audit(session=db, action=AuditAction.create, object_type="report", object_id=report.id,
                     principal=principal, client_address=client_address(request),
                     detail=f"retried report {failed.id}")
        return Redirect(f"/reports/{report.id}", status_code=303)


def _download(request: Request[Any, Any, Any], db: Session, principal: Principal,
              report: ReportFile) -> Response[bytes] | Redirect:
    if report.status != ReportStatus.done:
        return Redirect(f"/reports/{report.id}", status_code=303)
    content = report_content(session=db, report=report)
    record_audit(session=db, action=AuditAction.export, object_type="report", object_id=report.id,
                 principal=principal, patient_id=report.patient_id, client_address=client_address(request),
                 detail=f"{report.kind} {report.period} {report.language} sha256={report.content_hash}")
    headers = download_headers(report.filename or f"{report.title}.pdf", fallback=ascii_filename(report))
    return Response(content, media_type=MEDIA_TYPE, headers={**headers, "ETag": f'"{report.content_hash}"'})


def _one(value: Any) -> str:
    if isinstance(value, list):
        value = value[-1] if value else ""
    return "" if value is None else str(value).strip()[:200]


HANDLERS = [ReportController]
