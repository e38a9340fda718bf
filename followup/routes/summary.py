"""The patient follow-up summary as a PDF, rendered in the request: small enough (one patient, one period)
not to need a job, and printed by a doctor at a visit or attached to a referral letter."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from sqlmodel import Session

from core import i18n
from core.audit import record_audit
from core.models import AuditAction
from core.pdf import MEDIA_TYPE, download_headers
from core.reports import PATIENT_SUMMARY, render_report
from core.security import STAFF_ROLES
from core.web import client_address, principal_of, requires


@get("/patients/{patient_id:int}/summary.pdf", name="followup:patient-summary-pdf",
     guards=[requires(*STAFF_ROLES)], sync_to_thread=True)
def patient_summary_pdf(request: Request[Any, Any, Any], db: Session, patient_id: int,
                        days: str | None = None, lang: str | None = None) -> Response[bytes]:
    """`?days=90` (7–730, default 90), `?lang=zh-CN|en` (default: the reader's); another clinic's patient: 404."""
    principal = principal_of(request)
    language = i18n.normalise_language(lang or request.state.get("language"))
    rendered = render_report(
        session=db, kind=PATIENT_SUMMARY, clinic_id=principal.clinic_id,
        params={"patient_id": patient_id, "days": days or ""}, language=language,
        generated_by=principal.name, default_tz=request.app.state.settings.timezone)
    record_audit(session=db, action=AuditAction.export, object_type="patient_summary", object_id=patient_id,
                 principal=principal, patient_id=patient_id, client_address=client_address(request),
                 detail=f"pdf {rendered.period} {language} sha256={rendered.pdf.sha256}")
    fallback = f"followup-summary-{patient_id}-{rendered.period.replace('/', '_')}.pdf"
    return Response(rendered.pdf.content, media_type=MEDIA_TYPE,
                    headers=download_headers(rendered.filename, fallback=fallback, inline=True))


HANDLERS = [patient_summary_pdf]
