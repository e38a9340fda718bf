"""Report kinds and the report archive: domains register a builder per kind; a report renders in the request,
on the command line, or in a job (core/report_jobs.py) that reports its progress and stores the PDF once, keyed
by its content hash.

A builder is `builder(session, clinic_id, params, language) -> (template, context, title)`. It reads only the
given clinic's data (anything else is its NotFound), raises DomainError for bad params, and puts in the context
what the shared frame needs:

- `clinic_name` (required) and `tz` (the clinic's time zone; dates in the PDF are shown in it);
- `period_label` (optional): the period as the reader reads it, shown under the title and on every page;
- `period_key` (optional): the period as the archive keys it ("2026-10"), when params alone do not say it;
- `patient_id` (optional): the patient the report is about, written to the audit log on every download;
- `confidential` (optional): the report identifies a patient, so every footer says so;
- `filename` (optional): the download's name, `title.pdf` otherwise; `logo` (optional): a data: URI.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, func, select, text
from sqlalchemy.orm import defer
from sqlmodel import Field, Session, SQLModel

from core import i18n
from core.db import BigIntPK, utcnow
from core.errors import NotFound
from core.jobs import enqueue
from core.models import utc_field
from core.security import STAFF_ROLES, Principal, Role

if TYPE_CHECKING:
    from jinja2 import Template

    from core.pdf import RenderedPdf


# The kinds the CLI and the pages know by name; the domain that owns each registers its builder.
PATIENT_SUMMARY = "patient_summary"  # followup/reports.py
MONTHLY_REVIEW = "monthly_review"  # the monthly quality review (pdca, which may read every domain)
CYCLE_REPORT = "cycle_report"  # one PDCA cycle
RENDER_ACTOR = "core.render_report"
DOMAINS = ("core", "clinic", "followup", "surveys", "feedback", "rca", "pdca")

# (template name like "followup/patient_summary.pdf.html", or a compiled template; context; title)
Builder = Callable[[Session, int, Mapping[str, Any], str], tuple["str | Template", dict[str, Any], str]]


class ReportStatus(StrEnum):
    queued = "queued"
    rendering = "rendering"
    done = "done"
    failed = "failed"


class ReportFile(SQLModel, table=True):
    """One requested report: its progress while a job renders it, then the PDF and its sha256.

    The same clinic, kind, period, language and content are stored once: a later identical render points at
    the first (`duplicate_of`) instead of keeping a second copy of the bytes."""

    __tablename__ = "report_file"
    __table_args__ = (
        Index("ix_report_file_clinic_created", "clinic_id", "created_at"),
        Index("uq_report_file_content", "clinic_id", "kind", "period", "language", "content_hash", unique=True,
              sqlite_where=text("duplicate_of IS NULL AND content_hash IS NOT NULL"),
              postgresql_where=text("duplicate_of IS NULL AND content_hash IS NOT NULL")),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    clinic_id: int = Field(index=True)
    kind: str = Field(max_length=40)
    title: str = Field(default="", max_length=200)
    period: str = Field(default="", max_length=40)
    language: str = Field(max_length=8)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    patient_id: int | None = Field(default=None, index=True)
    content_hash: str | None = Field(default=None, max_length=64)
    content: bytes | None = Field(default=None, sa_column=Column("content", LargeBinary, nullable=True))
    size: int = 0
    pages: int = 0
    filename: str = Field(default="", max_length=200)
    status: ReportStatus = Field(default=ReportStatus.queued, max_length=12)
    progress: int = 0  # 0–100
    error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    attempts: int = 0
    duplicate_of: int | None = Field(default=None)
    created_by: int | None = None  # a staff user id; None for the schedule
    created_by_name: str = Field(default="", max_length=120)
    created_at: datetime = utc_field(default_now=True)
    started_at: datetime | None = utc_field(nullable=True)
    finished_at: datetime | None = utc_field(nullable=True)

    @property
    def pending(self) -> bool:
        return self.status in (ReportStatus.queued, ReportStatus.rendering)


# --- the registry ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportKind:
    kind: str
    builder: Builder
    label: str  # msgid naming the kind in lists
    roles: frozenset[Role]
    period: Callable[[Mapping[str, Any]], str]  # archive key from the params ("2026-10")
    clinic_of: Callable[[Session, Mapping[str, Any]], int | None] | None  # for the CLI: whose data this is
    form: str | None  # a template fragment with a form posting to /reports, shown on the archive page


_kinds: dict[str, ReportKind] = {}


class UnknownReportKind(NotFound):
    def __init__(self, kind: str) -> None:
        super().__init__("There is no report called %(kind)s.", kind=kind)


def register_report(
    kind: str, builder: Builder, *, label: str | None = None, roles: frozenset[Role] = STAFF_ROLES,
    period: Callable[[Mapping[str, Any]], str] | None = None,
    clinic_of: Callable[[Session, Mapping[str, Any]], int | None] | None = None, form: str | None = None,
) -> ReportKind:
    """Make `kind` renderable by pages, jobs and `careloop report`. Call it at import of `<domain>/reports.py`.

    `roles` may request and download it; `period(params)` names the period in the archive (default: the
    "period" param); `clinic_of(session, params)` finds the clinic when the caller has none (the CLI); `form`
    names a fragment (e.g. "pdca/_monthly_review_form.html") whose form posts `kind`, `lang` and the params to
    POST /reports, shown on the archive page to the kind's roles."""
    spec = ReportKind(kind=kind, builder=builder, label=label or kind, roles=frozenset(roles),
                      period=period or (lambda params: str(params.get("period", ""))), clinic_of=clinic_of,
                      form=form)
    previous = _kinds.get(kind)
    if previous is not None and previous.builder is not builder:
        raise ValueError(f"report kind {kind!r} registered twice")
    _kinds[kind] = spec
    return spec


def load_report_kinds() -> None:
    """Import every domain's `reports` module, which registers its kinds (idempotent, cheap after the first)."""
    for domain in DOMAINS:
        try:
            importlib.import_module(f"{domain}.reports")
        except ModuleNotFoundError as exc:
            if exc.name != f"{domain}.reports":
                raise


def report_kind(kind: str) -> ReportKind:
    load_report_kinds()
    spec = _kinds.get(kind)
    if spec is None:
        raise UnknownReportKind(kind)
    return spec


def report_kinds() -> list[ReportKind]:
    load_report_kinds()
    return sorted(_kinds.values(), key=lambda k: k.kind)


# --- rendering ------------------------------------------------------------------------------------------

_progress: ContextVar[Callable[[int], None] | None] = ContextVar("report_progress", default=None)


def report_progress(percent: int) -> None:
    """Builders of long reports call this as they gather data (0–100); outside a job it does nothing."""
    callback = _progress.get()
    if callback is not None:
        callback(max(0, min(100, int(percent))))


@contextmanager
def reporting_progress(callback: Callable[[int], None]) -> Iterator[None]:
    token = _progress.set(callback)
    try:
        yield
    finally:
        _progress.reset(token)


@dataclass(frozen=True)
class RenderedReport:
    pdf: RenderedPdf
    kind: str
    title: str
    period: str  # archive key
    period_label: str
    language: str
    patient_id: int | None
    filename: str


def render_report(
    *, session: Session, kind: str, clinic_id: int, params: Mapping[str, Any], language: str,
    generated_by: str = "", generated_at: datetime | None = None, default_tz: str = "Asia/Shanghai",
) -> RenderedReport:
    """Build and render one report now (in a request, the CLI or a job)."""
    from core.pdf import ReportFrame, render_pdf

    spec = report_kind(kind)
    language = i18n.normalise_language(language)
    template, context, title = spec.builder(session, clinic_id, params, language)
    report_progress(100)
    frame = ReportFrame(
        title=title, clinic_name=str(context["clinic_name"]), period=str(context.get("period_label", "")),
        generated_at=generated_at or utcnow(), generated_by=generated_by, logo=context.get("logo"),
        confidential=bool(context.get("confidential")))
    pdf = render_pdf(template, context, frame=frame, language=language, tz=context.get("tz") or default_tz)
    return RenderedReport(
        pdf=pdf, kind=kind, title=title, period=str(context.get("period_key") or spec.period(params)),
        period_label=frame.period, language=language, patient_id=context.get("patient_id"),
        filename=_safe_filename(str(context.get("filename") or f"{title}.pdf")))


def _safe_filename(name: str) -> str:
    cleaned = "".join(ch for ch in name if ch.isprintable() and ch not in '/\\"<>:|?*').strip()
    return cleaned[:190] or "report.pdf"


def ascii_filename(report: ReportFile) -> str:
    """The download name for clients that cannot take a UTF-8 one."""
    return f"careloop-{report.kind}-{report.period or report.id}-{report.language}.pdf".replace("/", "_")


# --- the archive ----------------------------------------------------------------------------------------


def request_report(
    *, session: Session, kind: str, clinic_id: int, params: Mapping[str, Any], language: str,
    requested_by: Principal | None = None, requested_by_name: str = "",
) -> ReportFile:
    """Queue a report for the job renderer; the same report still queued or rendering is returned, not queued
    twice (a double click, a schedule firing twice)."""
    spec = report_kind(kind)
    language = i18n.normalise_language(language)
    wanted = dict(params)
    period = spec.period(wanted)
    for pending in session.scalars(select(ReportFile).options(defer(ReportFile.content)).where(
            ReportFile.clinic_id == clinic_id, ReportFile.kind == kind, ReportFile.period == period,
            ReportFile.language == language,
            ReportFile.status.in_([ReportStatus.queued, ReportStatus.rendering]))):
        if pending.params == wanted:
            return pending
    report = ReportFile(
        clinic_id=clinic_id, kind=kind, period=period, language=language, params=wanted,
        title=i18n.gettext(language, spec.label),
        created_by=requested_by.user_id if requested_by else None,
        created_by_name=requested_by.name if requested_by else requested_by_name)
    session.add(report)
    session.flush()
    import core.report_jobs  # noqa: F401 - declares the renderer's actor (a no-op once imported)

    enqueue(session=session, actor_name=RENDER_ACTOR, payload={"report_id": report.id},
            dedupe_key=f"report:{report.id}")
    return report


def get_report(*, session: Session, clinic_id: int, report_id: int, role: Role | None = None) -> ReportFile:
    """A report of this clinic that `role` may see (without its bytes); anything else is not found."""
    report = session.scalars(select(ReportFile).options(defer(ReportFile.content))
                             .where(ReportFile.id == report_id, ReportFile.clinic_id == clinic_id)).first()
    if report is None or (role is not None and not may_see(role, report.kind)):
        raise NotFound("Report not found.")
    return report


def may_see(role: Role, kind: str) -> bool:
    load_report_kinds()
    spec = _kinds.get(kind)
    return role in spec.roles if spec is not None else role == Role.admin


def report_content(*, session: Session, report: ReportFile) -> bytes:
    """The PDF of a done report (a duplicate's bytes live on the report it duplicates)."""
    source_id = report.duplicate_of or report.id
    content = session.scalar(select(ReportFile.content).where(ReportFile.id == source_id,
                                                              ReportFile.clinic_id == report.clinic_id))
    if report.status != ReportStatus.done or content is None:
        raise NotFound("Report not found.")
    return content


def latest_report(*, session: Session, clinic_id: int, kind: str, period: str,
                  language: str | None = None) -> ReportFile | None:
    """The newest report of this kind and period that is ready or on its way (not failed), for a page that offers
    "download the October review" or shows its progress instead of asking for it again."""
    query = select(ReportFile).options(defer(ReportFile.content)).where(
        ReportFile.clinic_id == clinic_id, ReportFile.kind == kind, ReportFile.period == period,
        ReportFile.status != ReportStatus.failed)
    if language:
        query = query.where(ReportFile.language == language)
    return session.scalars(query.order_by(ReportFile.created_at.desc(), ReportFile.id.desc())).first()


def list_reports(*, session: Session, clinic_id: int, role: Role, page: int = 1, per_page: int = 25,
                 kind: str | None = None) -> tuple[list[ReportFile], int]:
    """The clinic's archive, newest first, without duplicates and without kinds `role` may not see."""
    visible = [k.kind for k in report_kinds() if role in k.roles]
    query = select(ReportFile).where(ReportFile.clinic_id == clinic_id, ReportFile.duplicate_of.is_(None),
                                     ReportFile.kind.in_(visible))
    if kind:
        query = query.where(ReportFile.kind == kind)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.options(defer(ReportFile.content))
                           .order_by(ReportFile.created_at.desc(), ReportFile.id.desc())
                           .offset((page - 1) * per_page).limit(per_page))
    return list(rows), total
