"""Benchmark 6: PDF render time of the monthly quality review (and the patient summary) through
core.reports.render_report, against the fixed cost of the PDF stack: the same frame (header, footer, fonts) around
a one-paragraph body, rendered by the same WeasyPrint in the same process."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlmodel import Session

from bench.common import Context, Result, median, timings_ms
from core.db import dispose_engines, make_engine
from core.pdf import ReportFrame, pdf_environment, render_pdf
from core.reports import MONTHLY_REVIEW, PATIENT_SUMMARY, report_kinds
from core.settings import Settings

REPEAT = 3
MINIMAL = pdf_environment().from_string(
    '{% extends "pdf/base.pdf.html" %}{% block body %}<p>{{ _("Patient") }}</p>{% endblock %}')


def bench_reports(ctx: Context) -> None:
    engine = make_engine(Settings(database_url=ctx.database_url, _env_file=None))  # type: ignore[call-arg]
    kinds = {k.kind for k in report_kinds()}
    try:
        with Session(engine) as session:
            from core.reports import render_report

            frame = ReportFrame(title="Bench", clinic_name="基准社区卫生服务中心1")
            minimal_ms = timings_ms(lambda: render_pdf(MINIMAL, {"clinic_name": "x"}, frame=frame, language="zh-CN",
                                                       tz="Asia/Shanghai"), repeat=REPEAT, warmup=1)
            baseline = f"{median(minimal_ms):.0f} ms (frame + one paragraph)"
            now = datetime.now(UTC)
            last_month = f"{now.year - (now.month == 1):04d}-{(now.month - 2) % 12 + 1:02d}"
            wanted = [(MONTHLY_REVIEW, {"month": last_month}, f"monthly review PDF ({last_month}, clinic 1)"),
                      (PATIENT_SUMMARY, {"patient_id": _busiest_patient(session), "days": 90},
                       "patient summary PDF (90 days, clinic 1's busiest sender)")]
            for kind, params, label in wanted:
                if kind not in kinds:
                    ctx.add(Result(f"reports: {label}", "not measured", baseline, None, "report", None,
                                   f"no builder registered for {kind!r} yet"))
                    continue
                pages: list[int] = []

                def render(kind: str = kind, params: dict = params, pages: list[int] = pages) -> None:  # type: ignore[type-arg]
                    pages.append(render_report(session=session, kind=kind, clinic_id=1, params=params,
                                               language="zh-CN").pdf.pages)
                    session.rollback()  # the builder only reads; nothing to keep

                found = timings_ms(render, repeat=REPEAT, warmup=1)
                ctx.add(Result(f"reports: {label}", f"{median(found):.0f} ms, {pages[-1]} page(s)", baseline,
                               median(found) / max(median(minimal_ms), 0.001), "report", None))
    finally:
        engine.dispose()
        dispose_engines()


def _busiest_patient(session: Session) -> int:
    """The generated patient with the most readings in 90 days (not the rule benchmark's six-hourly 10,000-reading
    patients, which a reused database holds from earlier runs)."""
    return int(session.execute(text(
        "SELECT r.patient_id FROM reading r JOIN patient p ON p.id = r.patient_id"
        " WHERE r.clinic_id = 1 AND r.taken_at > now() - interval '90 days' AND p.name NOT LIKE 'history %'"
        " GROUP BY r.patient_id ORDER BY count(*) DESC, r.patient_id LIMIT 1")).scalar_one())
