"""PDF reports: the shared frame (A4, page numbers, CJK fonts, tables across pages), the registry of report kinds,
the job renderer with its progress, the archive that stores a PDF once, and its audited download."""

from __future__ import annotations

import http.server
import subprocess
import threading
from datetime import UTC, datetime

import click
import pytest
from sqlalchemy import select

from core.cli import write_report
from core.errors import ValidationFailed
from core.models import AuditAction, AuditEntry, OutboxJob
from core.pdf import ReportFrame, content_hash, css_string, page_counter_css, pdf_environment, render_pdf
from core.reports import (
    RENDER_ACTOR,
    ReportFile,
    ReportStatus,
    latest_report,
    list_reports,
    register_report,
    report_content,
    report_progress,
    request_report,
)
from core.security import STAFF_ROLES, Role
from tests.factories import login_staff, make_clinic, make_staff, pdf_info, pdf_text, post_form

SAMPLE = """{% extends "pdf/base.pdf.html" %}{% block body %}
<h2>{{ _("Readings") }} 读数</h2>
<p>{{ note }}</p>
<table class="data"><thead><tr><th>Row heading</th><th>数值 heading</th></tr></thead><tbody>
{% for i in range(rows) %}<tr><td>row {{ i }}</td><td>血压 {{ 120 + i % 40 }}/80</td></tr>{% endfor %}
</tbody></table>{% endblock %}"""
FRAME = ReportFrame(title="Sample report 样例", clinic_name="松园社区卫生服务中心", period="October 2026",
                    generated_at=datetime(2026, 11, 2, 1, 30, tzinfo=UTC), generated_by="Dr Zhou 周医生")
PROGRESS_SEEN: list[int] = []


def _render(rows: int = 3, note: str = "", language: str = "en", frame: ReportFrame = FRAME):
    template = pdf_environment().from_string(SAMPLE)
    return render_pdf(template, {"rows": rows, "note": note}, frame=frame, language=language, tz="Asia/Shanghai")


def _sample_builder(session, clinic_id, params, language):
    if params.get("period") == "bad":
        raise ValidationFailed("Please correct the highlighted fields.")
    report_progress(50)
    if params.get("watch"):  # what the status page would read while the builder is still at work
        from sqlmodel import Session

        with Session(session.get_bind()) as other:
            PROGRESS_SEEN.append(other.scalars(select(ReportFile.progress).where(
                ReportFile.status == ReportStatus.rendering)).one())
    return pdf_environment().from_string(SAMPLE), {
        "clinic_name": f"Clinic {clinic_id}", "tz": "Asia/Shanghai", "period_label": str(params.get("period")),
        "rows": int(params.get("rows", 3)), "note": "", "filename": "样例 report.pdf"}, "Sample report"


register_report("tests_sample", _sample_builder, label="Sample report", roles=STAFF_ROLES)
register_report("tests_admin_only", _sample_builder, label="Admin report", roles=frozenset({Role.admin}))


# --- rendering ------------------------------------------------------------------------------------------


def test_a_report_is_an_a4_pdf_with_the_clinic_title_period_author_and_page_numbers():
    pdf = _render()
    text = pdf_text(pdf.content)
    for expected in ("松园社区卫生服务中心", "Sample report 样例", "Period: October 2026", "Page 1 of 1",
                     "Generated 02/11/2026, 09:30 by Dr Zhou 周医生"):
        assert expected in " ".join(text.split()), expected
    info = pdf_info(pdf.content, "pdfinfo")
    assert "(A4)" in info and pdf.pages == 1


def test_chinese_text_renders_with_an_embedded_cjk_font_and_page_numbers_in_chinese():
    pdf = _render(language="zh-CN", note="张秀英的血压")
    assert "张秀英的血压" in pdf_text(pdf.content)
    embedded = [line for line in pdf_info(pdf.content).splitlines() if "Noto-Sans-CJK-SC" in line]
    assert embedded and all(" yes " in line for line in embedded)  # emb = yes: no boxes on any machine
    assert "第 1 页，共 1 页" in pdf_text(pdf.content)
    assert page_counter_css("zh-CN") == '"第 " counter(page) " 页，共 " counter(pages) " 页"'


def test_a_long_table_spans_pages_repeating_its_header_and_never_splitting_a_row():
    pdf = _render(rows=150)
    assert pdf.pages >= 3
    rows_seen = set()
    for page in range(1, pdf.pages + 1):
        text = pdf_text(pdf.content, page=page)
        assert "Row heading" in text and "数值 heading" in text, f"no header on page {page}"
        rows_seen |= {line.split()[1] for line in text.splitlines() if line.strip().startswith("row ")}
    assert rows_seen == {str(i) for i in range(150)}  # every row whole, on exactly one page


def test_the_first_page_converts_to_a_png(tmp_path):
    source = tmp_path / "report.pdf"
    source.write_bytes(_render(language="zh-CN").content)
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(source), str(tmp_path / "page")],
                   check=True)
    png = next(tmp_path.glob("page*.png")).read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5_000


def test_markup_in_a_value_is_printed_as_text():
    pdf = _render(note="<script>alert(1)</script><b>bold</b>")
    assert "<script>alert(1)</script><b>bold</b>" in pdf_text(pdf.content)


def test_the_same_content_gives_the_same_bytes_and_hash_and_other_content_another():
    first, again, other = _render(), _render(), _render(note="changed")
    assert first.content == again.content and first.sha256 == content_hash(first.content) == again.sha256
    assert other.sha256 != first.sha256


def test_a_template_cannot_make_the_renderer_fetch_a_url():
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        template = pdf_environment().from_string(
            '{% extends "pdf/base.pdf.html" %}{% block body %}<img src="' + f"http://127.0.0.1:{server.server_port}"
            '/logo.png"><p>ok</p>{% endblock %}')
        pdf = render_pdf(template, {}, frame=FRAME, language="en", tz="UTC")
    finally:
        server.shutdown()
    assert "ok" in pdf_text(pdf.content) and requests == []


def test_css_strings_are_escaped():
    assert css_string('a "b" \\ <c') == '"a \\"b\\" \\\\ \\3c c"'


# --- the archive and the job ----------------------------------------------------------------------------


def _clinic_and_doctor(session, role="committee"):
    clinic = make_clinic(session)
    staff = make_staff(session, clinic, role=role)
    session.commit()
    return clinic, staff


def _request(session, clinic, *, period="2026-10", **params):
    report = request_report(session=session, kind="tests_sample", clinic_id=clinic.id,
                            params={"period": period, **params}, language="en", requested_by_name="Dr Zhou")
    session.commit()
    return report


def _reload(session, report_id):
    session.expire_all()
    return session.get(ReportFile, report_id)


def test_a_requested_report_is_rendered_by_a_job_and_stored_with_its_hash(session, run_jobs):
    clinic, _ = _clinic_and_doctor(session)
    report = _request(session, clinic)
    assert report.status == ReportStatus.queued and report.progress == 0
    run_jobs()
    done = _reload(session, report.id)
    assert done.status == ReportStatus.done and done.progress == 100
    assert done.content.startswith(b"%PDF") and done.content_hash == content_hash(done.content)
    assert done.size == len(done.content) and done.pages == 1 and done.filename == "样例 report.pdf"


def test_a_redelivered_render_job_stores_nothing_twice(session, run_jobs, broker):
    clinic, _ = _clinic_and_doctor(session)
    report = _request(session, clinic)
    run_jobs()
    first = _reload(session, report.id)
    broker.actors[RENDER_ACTOR].send(session.scalars(select(OutboxJob.id)).one())  # delivered twice
    run_jobs()
    assert session.scalars(select(ReportFile.id)).all() == [report.id]
    assert _reload(session, report.id).finished_at == first.finished_at


def test_an_identical_report_is_stored_once_and_downloads_the_first_copy(session, run_jobs):
    clinic, _ = _clinic_and_doctor(session)
    first = _request(session, clinic)
    run_jobs()
    second = _request(session, clinic)
    second = _reload(session, second.id)
    second.created_at = _reload(session, first.id).created_at  # same stamp, same data: the same PDF
    session.commit()
    run_jobs()
    second = _reload(session, second.id)
    assert second.status == ReportStatus.done and second.duplicate_of == first.id and second.content is None
    listed, total = list_reports(session=session, clinic_id=clinic.id, role=Role.committee)
    assert [r.id for r in listed] == [first.id] and total == 1
    assert latest_report(session=session, clinic_id=clinic.id, kind="tests_sample", period="2026-10").id == second.id
    assert report_content(session=session, report=second) == _reload(session, first.id).content


def test_asking_again_while_a_report_is_queued_returns_the_same_report(session):
    clinic, _ = _clinic_and_doctor(session)
    assert _request(session, clinic).id == _request(session, clinic).id
    assert _request(session, clinic, period="2026-09").id != _request(session, clinic).id


def test_the_builders_progress_is_committed_while_the_report_renders(session, run_jobs):
    PROGRESS_SEEN.clear()
    clinic, _ = _clinic_and_doctor(session)
    _request(session, clinic, watch="1")
    run_jobs()
    assert PROGRESS_SEEN == [5 + 50 * 65 // 100]


def test_a_report_with_bad_params_fails_with_a_message_and_is_not_retried(session, run_jobs):
    clinic, _ = _clinic_and_doctor(session)
    report = _request(session, clinic, period="bad")
    run_jobs()
    failed = _reload(session, report.id)
    assert failed.status == ReportStatus.failed and failed.error == "Please correct the highlighted fields."
    assert failed.attempts == 1


# --- pages ----------------------------------------------------------------------------------------------


def test_the_download_is_the_pdf_and_is_written_to_the_audit_log_as_an_export(client, session, run_jobs):
    clinic, staff = _clinic_and_doctor(session)
    report = _request(session, clinic)
    run_jobs()
    login_staff(client, staff.username)
    response = client.get(f"/reports/{report.id}.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.content == _reload(session, report.id).content
    assert "filename*=UTF-8''%E6%A0%B7%E4%BE%8B%20report.pdf" in response.headers["content-disposition"]
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.export)).one()
    assert (audit.object_type, audit.object_id, audit.actor_id) == ("report", str(report.id), staff.id)


def test_another_clinics_report_is_not_found(client, session, run_jobs):
    clinic, _ = _clinic_and_doctor(session)
    _, outsider = _clinic_and_doctor(session)
    report = _request(session, clinic)
    run_jobs()
    login_staff(client, outsider.username)
    for path in (f"/reports/{report.id}", f"/reports/{report.id}.pdf", f"/reports/{report.id}/status"):
        assert client.get(path).status_code == 404, path
    assert f'href="/reports/{report.id}"' not in client.get("/reports").text


def test_a_kind_the_role_may_not_see_is_not_found(client, session):
    clinic, doctor = _clinic_and_doctor(session, role="doctor")
    report = request_report(session=session, kind="tests_admin_only", clinic_id=clinic.id,
                            params={"period": "2026-10"}, language="en")
    session.commit()
    login_staff(client, doctor.username)
    assert client.get(f"/reports/{report.id}").status_code == 404


def test_asking_for_a_report_shows_its_progress_until_it_can_be_downloaded(client, session, run_jobs):
    clinic, staff = _clinic_and_doctor(session)
    login_staff(client, staff.username)
    response = post_form(client, "/reports", {"kind": "tests_sample", "period": "2026-10", "lang": "en"},
                         follow_redirects=False)
    assert response.status_code == 303
    status_page = client.get(response.headers["location"])
    assert 'http-equiv="refresh"' in status_page.text and "<progress" in status_page.text
    run_jobs()
    ready = client.get(response.headers["location"])
    assert 'http-equiv="refresh"' not in ready.text and ".pdf" in ready.text
    archive = client.get("/reports")
    assert archive.status_code == 200 and "Sample report" in archive.text and "2026-10" in archive.text


def test_a_failed_report_can_be_tried_again(client, session, run_jobs):
    clinic, staff = _clinic_and_doctor(session)
    failed = _request(session, clinic, period="bad")
    run_jobs()
    login_staff(client, staff.username)
    page = client.get(f"/reports/{failed.id}")
    assert "Please correct the highlighted fields." in page.text and "/retry" in page.text
    retried = post_form(client, f"/reports/{failed.id}/retry", {}, follow_redirects=False)
    assert retried.status_code == 303 and retried.headers["location"] != f"/reports/{failed.id}"


def test_the_archive_says_what_to_do_when_empty(client, session):
    _, staff = _clinic_and_doctor(session)
    login_staff(client, staff.username)
    assert "No reports yet" in client.get("/reports").text


def test_a_kind_nobody_registered_is_refused_on_the_command_line(tmp_path):
    with pytest.raises(click.ClickException, match="no report builder is registered for 'tests_nobody'"):
        write_report("tests_nobody", {}, output=tmp_path / "x.pdf")
