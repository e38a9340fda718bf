"""Staff pages: clinic scoping, who may act, escaping of patients' text, sorting, export, settings."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clinic.models import StaffUser
from core.models import AuditAction, AuditEntry
from feedback.enums import Action, Category
from feedback.models import FeedbackItem, FeedbackPolicy
from feedback.workflow import transition
from tests.factories import login_staff, make_clinic, make_patient, make_staff, make_token, post_form
from tests.feedback.feedback_builders import login_patient, make_item, principal

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_another_clinics_item_is_not_found_on_pages_and_api(client, session):
    clinic, other = make_clinic(session), make_clinic(session)
    lead = make_staff(session, clinic, role="committee", username="qc")
    stranger = make_item(session, other, description="外院的投诉")
    token = make_token(session, lead)
    session.commit()
    login_staff(client, "qc")
    assert client.get(f"/feedback/{stranger.id}").status_code == 404
    assert client.get(f"/feedback/{stranger.id}/act/acknowledge").status_code == 404
    assert post_form(client, f"/feedback/{stranger.id}/act/acknowledge", {}).status_code == 404
    assert "外院的投诉" not in client.get("/feedback?status=all").text
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/complaints/{stranger.id}", headers=headers).status_code == 404
    assert client.post(f"/api/v1/complaints/{stranger.id}/transitions", headers=headers,
                       json={"action": "acknowledge"}).status_code == 404


def test_doctor_reads_items_about_themselves_but_cannot_change_them(client, session):
    clinic = make_clinic(session)
    doctor = make_staff(session, clinic, role="doctor", username="dr-li")
    about_me = make_item(session, clinic, subject_staff_id=doctor.id, description="李医生态度不好")
    not_mine = make_item(session, clinic, description="别的投诉")
    session.commit()
    login_staff(client, "dr-li")
    inbox = client.get("/feedback").text
    assert about_me.reference in inbox and not_mine.reference not in inbox
    page = client.get(f"/feedback/{about_me.id}")
    assert page.status_code == 200 and "/act/" not in page.text and 'action="/feedback/' not in page.text
    assert post_form(client, f"/feedback/{about_me.id}/act/acknowledge", {}).status_code == 403
    assert post_form(client, f"/feedback/{about_me.id}/note", {"note": "not me"}).status_code == 403
    assert client.get(f"/feedback/{not_mine.id}").status_code == 404


def test_item_routed_to_a_nurse_by_category_can_be_worked_by_her(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="admin", username="boss")
    nurse = make_staff(session, clinic, role="nurse", username="nurse-chen")
    session.commit()
    login_staff(client, "boss")
    assert post_form(client, "/feedback/settings/routes", {"route_environment": str(nurse.id)},
                     follow_redirects=False).status_code in (302, 303)
    item = make_item(session, clinic, category=Category.environment, description="厕所很脏")
    session.commit()
    assert item.owner_id == nurse.id
    client.cookies.clear()
    login_staff(client, "nurse-chen")
    response = post_form(client, f"/feedback/{item.id}/act/acknowledge", {}, follow_redirects=False)
    assert response.status_code in (302, 303)


def test_patient_text_is_escaped_on_every_page(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="committee", username="qc")
    patient = make_patient(session, clinic, phone="+8613712345602")
    item = make_item(session, clinic, patient=patient, description=SCRIPT, contact_name=SCRIPT,
                     submitted_by_kind="patient", submitted_by_id=patient.id, lead_department=SCRIPT)
    session.commit()
    login_staff(client, "qc")
    for path in ("/feedback", f"/feedback/{item.id}", f"/feedback/{item.id}/act/resolve", f"/feedback/{item.id}/edit"):
        text = client.get(path).text
        assert "<script>alert" not in text and "<img src=x" not in text, path
        assert "&lt;script&gt;" in text, path
    client.cookies.clear()
    login_patient(client, session, patient.phone)
    lead = session.scalars(select(StaffUser).where(StaffUser.clinic_id == clinic.id)).first()
    transition(session=session, item=item, clinic=clinic, action=Action.resolve, principal=principal(lead),
               resolution=SCRIPT, patient_response=SCRIPT[:120], notify_patient=False)
    session.commit()
    mine = client.get("/feedback/mine").text
    assert "<script>alert" not in mine and "&lt;script&gt;" in mine


def test_inbox_lists_the_soonest_deadline_first_and_marks_overdue(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="committee", username="qc")
    later = make_item(session, clinic, category=Category.billing)
    overdue = make_item(session, clinic, category=Category.attitude)
    overdue.ack_due_at = overdue.next_due_at = overdue.received_at - timedelta(hours=2)
    later.next_due_at = later.ack_due_at = later.received_at + timedelta(days=2)
    session.commit()
    login_staff(client, "qc")
    text = client.get("/feedback").text
    assert text.index(overdue.reference) < text.index(later.reference)
    assert 'class="overdue"' in text and "Overdue" in text


def test_inbox_paginates_and_keeps_the_filters(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="committee", username="qc")
    for n in range(27):
        make_item(session, clinic, category=Category.billing, description=f"bill {n}")
    session.commit()
    login_staff(client, "qc")
    first = client.get("/feedback?category=billing")
    assert "Page 1 of 2" in first.text and "category=billing&amp;page=2" in first.text
    second = client.get("/feedback?category=billing&page=2")
    assert second.text.count('<td data-label="Reference">') == 2


def test_viewing_an_item_and_exporting_are_audited_and_exports_cannot_run_formulas(client, session):
    clinic = make_clinic(session)
    lead = make_staff(session, clinic, role="committee", username="qc")
    patient = make_patient(session, clinic)
    item = make_item(session, clinic, patient=patient, description='=HYPERLINK("http://evil")')
    session.commit()
    login_staff(client, "qc")
    client.get(f"/feedback/{item.id}")
    response = client.get("/feedback/export.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Reference" and rows[1][0] == item.reference
    assert rows[1][rows[0].index("Description")] == "'=HYPERLINK(\"http://evil\")"
    audit = session.scalars(select(AuditEntry).where(AuditEntry.actor_id == lead.id)).all()
    assert any(a.action == AuditAction.view and a.object_type == "feedback_item" and a.patient_id == patient.id
               for a in audit)
    assert any(a.action == AuditAction.export for a in audit)


def test_export_and_settings_are_for_the_committee_and_admins(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="doctor", username="dr")
    session.commit()
    login_staff(client, "dr")
    assert client.get("/feedback/export.csv").status_code == 403
    assert client.get("/feedback/settings").status_code == 403
    assert client.get("/feedback/breaches").status_code == 403


def test_patients_cannot_open_the_inbox(client, session):
    clinic = make_clinic(session)
    make_patient(session, clinic, phone="+8613712345603")
    session.commit()
    login_patient(client, session, "+8613712345603")
    assert client.get("/feedback").status_code == 403


def test_settings_form_reports_bad_values_and_saves_good_ones(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="admin", username="boss")
    session.commit()
    login_staff(client, "boss")
    page = client.get("/feedback/settings")
    assert page.status_code == 200 and 'value="1"' in page.text  # the China default: acknowledge in 1 day
    good = {"acknowledge_days": "1", "resolve_days": "3", "resolve_complex_days": "5", "resolve_multi_days": "10",
            "due_soon_hours": "4", "rca_threshold": "3", "rca_window_days": "30", "day_ends_at": "17:30"}
    bad = post_form(client, "/feedback/settings", {**good, "resolve_days": "x", "day_ends_at": "25:00"})
    assert bad.status_code == 422
    assert 'id="resolve_days-error"' in bad.text and 'id="day_ends_at-error"' in bad.text
    saved = post_form(client, "/feedback/settings", {**good, "acknowledge_days": "2", "day_ends_at": "18:00"},
                      follow_redirects=True)
    assert "Deadlines saved" in saved.text
    policy = session.scalars(select(FeedbackPolicy)).one()
    session.refresh(policy)
    assert (policy.acknowledge_days, policy.day_ends_minute) == (2, 18 * 60)


def test_a_holiday_in_the_calendar_moves_new_deadlines(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="admin", username="boss")
    session.commit()
    login_staff(client, "boss")
    baseline = make_item(session, clinic)
    session.commit()
    due_day = baseline.ack_due_at.astimezone(ZoneInfo(clinic.timezone)).date()
    post_form(client, "/feedback/settings/calendar", {"day": due_day.isoformat(), "name": "节日"})
    after = make_item(session, clinic, description="another")
    assert after.ack_due_at > baseline.ack_due_at
    duplicate = post_form(client, "/feedback/settings/calendar", {"day": due_day.isoformat()})
    assert duplicate.status_code == 422 and 'id="day-error"' in duplicate.text


def test_measures_page_shows_the_month(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="committee", username="qc")
    make_patient(session, clinic)
    make_item(session, clinic)
    session.commit()
    login_staff(client, "qc")
    page = client.get("/feedback/measures")
    assert page.status_code == 200 and "Complaints per 1,000 patients" in page.text
    assert "1,000" in page.text and session.scalars(select(FeedbackItem)).one()
