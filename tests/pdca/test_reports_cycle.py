"""The PDCA cycle report PDF: the project's aim and family of measures, the cycle's plan, prediction and what was
done, the measure's chart with the change as a new phase, the decision and the RCA actions the project tests —
downloaded from the cycle page (rendered in the request) or written by `careloop report cycle`."""

from __future__ import annotations

from datetime import date, timedelta

from click.testing import CliRunner
from sqlalchemy import select

from core.cli import main
from core.db import utcnow
from core.models import AuditAction, AuditEntry
from followup.dates import months_before
from pdca.models import ManualValue
from rca.enums import ActionStrength, RcaSource
from rca.models import RcaAction, RootCauseAnalysis
from tests.factories import (
    login_staff,
    make_clinic,
    make_pdca_cycle,
    make_pdca_project,
    make_staff,
    pdf_info,
    pdf_text,
)


def _words(text: str) -> str:
    return " ".join(text.split())


def _decided_cycle(session):
    """A cycle in Act whose change began three months ago, on a manual p chart with eight months of values that
    rise after the change, in a project testing an RCA action."""
    clinic = make_clinic(session, name="松园社区卫生服务中心")
    committee = make_staff(session, clinic, role="committee", display_name="质控王")
    project = make_pdca_project(session, clinic, committee)
    cycle = make_pdca_cycle(session, project, committee)
    this_month = utcnow().date().replace(day=1)
    for k, value in zip(range(8, 0, -1), (40, 42, 39, 41, 40, 55, 58, 60), strict=True):
        session.add(ManualValue(measure_id=project.aim_measure_id, period_start=months_before(this_month, k),
                                value=value, denominator=100))
    cycle.stage, cycle.do_notes = "act", "Moved the calls to 9 am for four weeks."
    cycle.change_started_on = months_before(this_month, 3)
    cycle.check_result, cycle.check_signal = "Answered calls rose above the old limits.", "improvement"
    cycle.act_decision, cycle.act_notes = "adopt", "Make morning calls the standard."
    analysis = RootCauseAnalysis(clinic_id=clinic.id, title="Missed callbacks", source=RcaSource.manual,
                                 triggered_at=utcnow(), start_due_at=utcnow(), due_at=utcnow() + timedelta(days=30))
    session.add(analysis)
    session.flush()
    session.add(RcaAction(analysis_id=analysis.id, clinic_id=clinic.id, description="Call every callback before noon",
                          strength=ActionStrength.intermediate, owner_id=committee.id,
                          due_date=date.today() + timedelta(days=30), due_at=utcnow() + timedelta(days=30),
                          measure="Calls answered", pdca_project_id=project.id))
    session.commit()
    return clinic, committee, project, cycle


def test_the_cycle_report_shows_aim_measures_plan_chart_decision_and_rca_actions(client, session):
    _, committee, project, cycle = _decided_cycle(session)
    login_staff(client, committee.username)
    response = client.get(f"/pdca/cycles/{cycle.id}/report.pdf?lang=en")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    text = _words(pdf_text(response.content))
    for expected in ("松园社区卫生服务中心", "PDCA cycle report", "Cycle 1 of “Faster callbacks”",
                     "Project: Faster callbacks",
                     "increase Calls answered for patients with hypertension from 40% to 60%",
                     "Family of measures", "Calls answered Aim", "Outcome",
                     "Cycle 1: Call back before noon", "Plan", "Nurse Li", "Call morning callbacks first",
                     "Prediction More patients answer", "What was done Moved the calls to 9 am for four weeks.",
                     "Check: the measure's chart", "After the change: Signal of improvement",
                     "What the team saw Answered calls rose above the old limits.", "Act: the decision", "Adopt",
                     "Make morning calls the standard.", "Linked RCA actions", "Call every callback before noon",
                     "Missed callbacks", "Intermediate", "Generated", "by 质控王"):
        assert expected in text, expected
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.export)).one()
    assert audit.object_type == "cycle_report" and audit.object_id == str(cycle.id) and audit.actor_id == committee.id


def test_the_cycle_report_in_chinese_embeds_a_cjk_font(client, session):
    _, committee, _, cycle = _decided_cycle(session)
    login_staff(client, committee.username)
    content = client.get(f"/pdca/cycles/{cycle.id}/report.pdf?lang=zh-CN").content
    text = _words(pdf_text(content))
    for expected in ("PDCA 循环报告", "测量指标组", "检查（Check）：测量指标图", "处理（Act）：决定",
                     "关联的根因分析措施", "第 1 页，共"):
        assert expected in text, expected
    fonts = [line for line in pdf_info(content).splitlines() if "Noto-Sans-CJK-SC" in line]
    assert fonts and all(" yes " in line for line in fonts)


def test_a_cycle_without_data_says_so_and_the_cycle_page_links_to_the_report(client, session):
    clinic = make_clinic(session)
    committee = make_staff(session, clinic, role="committee")
    cycle = make_pdca_cycle(session, make_pdca_project(session, clinic, committee), committee)
    session.commit()
    login_staff(client, committee.username)
    assert f'href="/pdca/cycles/{cycle.id}/report.pdf"' in client.get(f"/pdca/cycles/{cycle.id}").text
    text = _words(pdf_text(client.get(f"/pdca/cycles/{cycle.id}/report.pdf?lang=en").content))
    assert "The measure has no data to chart yet." in text and "Not decided yet." in text
    assert "This project does not test an RCA action." in text


def test_doctors_may_read_it_nurses_may_not_and_another_clinics_cycle_is_not_found(client, session):
    clinic, _, _, cycle = _decided_cycle(session)
    doctor = make_staff(session, clinic, role="doctor")
    nurse = make_staff(session, clinic, role="nurse")
    outsider = make_staff(session, make_clinic(session), role="committee")
    session.commit()
    login_staff(client, doctor.username)
    assert client.get(f"/pdca/cycles/{cycle.id}/report.pdf").status_code == 200
    for other in (nurse, outsider):
        client.cookies.clear()
        login_staff(client, other.username)
        expected = 403 if other is nurse else 404
        assert client.get(f"/pdca/cycles/{cycle.id}/report.pdf").status_code == expected
    exports = session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.export)).all()
    assert [e.actor_id for e in exports] == [doctor.id]


def test_the_command_line_writes_the_cycle_report(app, settings, session, monkeypatch, tmp_path):
    clinic, _, _, cycle = _decided_cycle(session)
    monkeypatch.setenv("CARELOOP_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(settings.data_dir))
    from core.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["report", "cycle", "--id", str(cycle.id), "--lang", "en",
                                           "-o", str(tmp_path / "cycle.pdf")], catch_exceptions=False)
        missing = CliRunner().invoke(main, ["report", "cycle", "--id", "999999", "-o", str(tmp_path / "x.pdf")])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "Call back before noon" in pdf_text((tmp_path / "cycle.pdf").read_bytes())
    assert missing.exit_code != 0 and not (tmp_path / "x.pdf").exists()
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.export)).one()
    assert audit.actor_kind == "cli" and audit.clinic_id == clinic.id and audit.object_id == str(cycle.id)
