"""The report renderer's job: render a queued report (core/reports.py), committing its progress as it goes,
and store the PDF once — a render identical to one already stored points at it instead of keeping a copy."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer
from sqlmodel import Session

from core import i18n
from core.db import unit_of_work, utcnow
from core.errors import DomainError
from core.i18n import N_
from core.jobs import MAX_ATTEMPTS, outbox_actor, runtime
from core.reports import RENDER_ACTOR, RenderedReport, ReportFile, ReportStatus, render_report, reporting_progress

log = logging.getLogger(__name__)

GENERATED_BY_SCHEDULE = N_("CareLoop (scheduled)")
FAILED_MESSAGE = N_("The report could not be rendered. Please try again; if it fails again, tell your "
                    "administrator.")


@outbox_actor(RENDER_ACTOR)
def render_report_job(*, session: Session, report_id: int) -> None:
    """Render a queued report, committing progress as it goes, and store it once. A redelivered job finds the
    report done (or failed for good) and does nothing; a render that crashes is retried by the outbox.

    Progress is committed from other connections while the job's own session waits to store the result (with the
    job's completion, in one transaction). On SQLite a read snapshot older than those commits cannot write, so
    the job's session ends the one it took when loading the job, and the builder reads in a session of its own."""
    session.commit()
    engine = session.get_bind()
    with unit_of_work(engine) as claim:
        report = claim.get(ReportFile, report_id)
        if report is None or not report.pending:
            return
        report.status, report.progress, report.error = ReportStatus.rendering, 5, ""
        report.attempts += 1
        report.started_at = report.started_at or utcnow()
        request = (report.kind, report.clinic_id, dict(report.params), report.language, report.created_at,
                   report.created_by_name or i18n.gettext(report.language, GENERATED_BY_SCHEDULE), report.attempts)
    kind, clinic_id, params, language, requested_at, by, attempts = request

    def gathered(percent: int) -> None:  # the builder's 0–100 is the first 70 % of the bar
        _set_progress(engine, report_id, 5 + percent * 65 // 100)

    default_tz = runtime.settings.timezone if runtime.settings else "Asia/Shanghai"
    try:
        with Session(engine) as reading, reporting_progress(gathered):
            # Stamped with the time it was asked for, so a retried render gives the same bytes and hash.
            rendered = render_report(session=reading, kind=kind, clinic_id=clinic_id, params=params,
                                     language=language, generated_by=by, generated_at=requested_at,
                                     default_tz=default_tz)
    except DomainError as exc:  # bad params or data gone: trying again cannot help
        _give_up(engine, report_id, i18n.gettext(language, exc.message, **exc.params))
        return
    except Exception:
        log.exception("report %s failed to render (attempt %s)", report_id, attempts)
        if attempts >= MAX_ATTEMPTS:
            _give_up(engine, report_id, i18n.gettext(language, FAILED_MESSAGE))
            return
        with unit_of_work(engine) as retry:
            row = retry.get(ReportFile, report_id)
            if row is not None:
                row.status, row.progress = ReportStatus.queued, 0
        raise
    _set_progress(engine, report_id, 95)
    store_rendered(session=session, report_id=report_id, rendered=rendered)


def store_rendered(*, session: Session, report_id: int, rendered: RenderedReport) -> ReportFile:
    """Mark the report done with its PDF, or as a duplicate of an identical one already stored."""
    report = session.scalars(select(ReportFile).options(defer(ReportFile.content))
                             .where(ReportFile.id == report_id).execution_options(populate_existing=True)).one()
    twin = _twin(session, report, rendered)
    if twin is None:
        try:
            with session.begin_nested():
                _mark_done(report, rendered, content=rendered.pdf.content, duplicate_of=None)
                session.flush()
            return report
        except IntegrityError:  # an identical render was stored a moment ago: point at that one
            twin = _twin(session, report, rendered)
            if twin is None:
                raise
    _mark_done(report, rendered, content=None, duplicate_of=twin)
    session.flush()
    return report


def _mark_done(report: ReportFile, rendered: RenderedReport, *, content: bytes | None,
               duplicate_of: int | None) -> None:
    report.title, report.period, report.patient_id = rendered.title, rendered.period, rendered.patient_id
    report.filename, report.size, report.pages = rendered.filename, rendered.pdf.size, rendered.pdf.pages
    report.content_hash, report.content, report.duplicate_of = rendered.pdf.sha256, content, duplicate_of
    report.status, report.progress, report.finished_at, report.error = ReportStatus.done, 100, utcnow(), ""


def _twin(session: Session, report: ReportFile, rendered: RenderedReport) -> int | None:
    """The stored report this render is identical to: same clinic, kind, period, language and bytes."""
    return session.scalar(select(ReportFile.id).where(
        ReportFile.clinic_id == report.clinic_id, ReportFile.kind == report.kind,
        ReportFile.period == rendered.period, ReportFile.language == report.language,
        ReportFile.content_hash == rendered.pdf.sha256, ReportFile.duplicate_of.is_(None),
        ReportFile.status == ReportStatus.done, ReportFile.id != report.id).order_by(ReportFile.id))


def _set_progress(engine: Any, report_id: int, percent: int) -> None:
    """Committed at once in its own transaction, so the status page sees it while the render goes on."""
    with unit_of_work(engine) as progress:
        progress.execute(update(ReportFile).where(
            ReportFile.id == report_id, ReportFile.status == ReportStatus.rendering, ReportFile.progress < percent,
        ).values(progress=percent))


def _give_up(engine: Any, report_id: int, message: str) -> None:
    with unit_of_work(engine) as failed:
        row = failed.get(ReportFile, report_id)
        if row is not None:
            row.status, row.error, row.finished_at = ReportStatus.failed, message[:2000], utcnow()
