"""Staff pages: clinic scoping, auditing of views, the registration form, language switching."""

from __future__ import annotations

from sqlalchemy import select

from core.models import AuditAction, AuditEntry
from tests.factories import login_staff, make_clinic, make_patient, make_staff, post_form


def _signed_in_doctor(client, session, clinic=None):
    clinic = clinic or make_clinic(session)
    doctor = make_staff(session, clinic, role="doctor", username="dr-wang")
    session.commit()
    login_staff(client, "dr-wang")
    return clinic, doctor


def test_viewing_a_patient_page_writes_one_audit_row(client, session):
    clinic, doctor = _signed_in_doctor(client, session)
    patient = make_patient(session, clinic, name="王秀英")
    session.commit()
    response = client.get(f"/patients/{patient.id}")
    assert response.status_code == 200 and "王秀英" in response.text
    rows = session.scalars(select(AuditEntry).where(AuditEntry.patient_id == patient.id)).all()
    assert len(rows) == 1
    assert (rows[0].action, rows[0].actor_id, rows[0].object_type) == (AuditAction.view, doctor.id, "patient")


def test_doctor_gets_404_for_a_patient_of_another_clinic(client, session):
    other = make_clinic(session)
    stranger = make_patient(session, other, name="外院患者")
    _signed_in_doctor(client, session)
    response = client.get(f"/patients/{stranger.id}")
    assert response.status_code == 404
    assert "外院患者" not in response.text


def test_patient_list_shows_only_own_clinic_with_masked_phones(client, session):
    clinic, _ = _signed_in_doctor(client, session)
    make_patient(session, clinic, name="本院患者", phone="+8613711112222")
    make_patient(session, make_clinic(session), name="外院患者")
    session.commit()
    text = client.get("/patients").text
    assert "本院患者" in text and "外院患者" not in text
    assert "+86137****2222" in text and "+8613711112222" not in text


def test_patient_list_paginates(client, session):
    clinic, _ = _signed_in_doctor(client, session)
    for i in range(30):
        make_patient(session, clinic, name=f"Patient {i:02d}")
    session.commit()
    first = client.get("/patients").text
    second = client.get("/patients?page=2").text
    assert "Patient 00" in first and "Patient 29" not in first
    assert "Patient 29" in second and "Page 2 of 2" in second


def test_registration_form_reports_errors_next_to_fields(client, session):
    _signed_in_doctor(client, session)
    response = post_form(client, "/patients/new", {"name": "", "phone": "123", "language": "zh-CN"})
    assert response.status_code == 422
    assert 'id="name-error"' in response.text and 'id="phone-error"' in response.text


def test_registration_form_creates_the_patient_and_opens_their_page(client, session):
    _signed_in_doctor(client, session)
    response = post_form(client, "/patients/new", {
        "name": "李桂兰", "phone": "13712340000", "language": "zh-CN", "programmes": ["hypertension", "diabetes"],
        "glucose_unit": "mmol/L", "sms_consent": "on"}, follow_redirects=True)
    assert response.status_code == 200
    assert "李桂兰" in response.text and "+8613712340000" in response.text


def test_language_switch_translates_the_page(client, session):
    _signed_in_doctor(client, session)
    assert "Patients" in client.get("/patients").text
    client.get("/lang/zh-CN?next=/patients")
    assert "患者" in client.get("/patients").text


def test_language_switch_refuses_to_redirect_off_site(client):
    response = client.get("/lang/en?next=//evil.example/x", follow_redirects=False)
    assert response.headers["location"] == "/"


def test_admin_reads_the_audit_log_but_a_doctor_cannot(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="admin", username="boss")
    make_staff(session, clinic, role="doctor", username="dr-li")
    session.commit()
    login_staff(client, "dr-li")
    assert client.get("/admin/audit").status_code == 403
    post_form(client, "/logout", {})
    login_staff(client, "boss")
    response = client.get("/admin/audit")
    assert response.status_code == 200 and "dr-li" not in response.text.split("<tbody>")[0]
    assert "login" in response.text


def test_the_audit_filter_with_an_empty_patient_box_lists_every_entry_in_words(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="admin", username="boss", language="en")
    session.commit()
    login_staff(client, "boss")
    response = client.get("/admin/audit?action=&patient_id=&page=1", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert "Signed in" in response.text.split("<tbody>")[1]  # the action in words, not the stored "login"


def test_admin_adds_a_doctor_who_can_then_sign_in(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="admin", username="boss")
    session.commit()
    login_staff(client, "boss")
    response = post_form(client, "/admin/staff", {"username": "newdoc", "password": "long enough pw",
                                                  "role": "doctor", "display_name": "Dr New"}, follow_redirects=True)
    assert "Dr New" in response.text
    post_form(client, "/logout", {})
    assert login_staff(client, "newdoc", "long enough pw").status_code in (302, 303)
