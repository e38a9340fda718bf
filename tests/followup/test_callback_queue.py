"""The callback queue family doctors work: what opens callbacks (through the real SMS webhook), the order,
the filters, the card (reason, readings, phone), the CSV export and clinic scoping."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from sqlalchemy import select

from core.db import utcnow
from core.models import AuditAction, AuditEntry
from followup.models import Callback, Reading
from tests.factories import login_staff, make_callback, make_clinic, make_patient, make_staff, send_sms


def _doctor(client, session, clinic=None, **overrides):
    clinic = clinic or make_clinic(session)
    doctor = make_staff(session, clinic, role="doctor", **overrides)
    session.commit()
    login_staff(client, doctor.username)
    return clinic, doctor


def _order(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'id="callback-(\d+)"', html)]


def _send_on_consecutive_days(client, session, settings, patient, body, days=3):
    """Send one SMS a day for `days` local days: each reading is moved back to its day after it is stored."""
    for days_ago in range(days - 1, -1, -1):
        assert send_sms(client, settings, from_=patient.phone, body=body).status_code == 200
        reading = session.scalars(select(Reading).where(Reading.patient_id == patient.id)
                                  .order_by(Reading.id.desc())).first()
        reading.taken_at = reading.taken_at - timedelta(days=days_ago)
        session.commit()


def test_three_high_fasting_days_by_sms_open_one_callback_due_within_a_day_at_the_top_of_the_queue(
        client, session, settings):
    clinic, doctor = _doctor(client, session)
    patient = make_patient(session, clinic, name="王秀英", family_doctor_id=doctor.id)
    session.commit()
    _send_on_consecutive_days(client, session, settings, patient, "空腹血糖11.0")
    session.expire_all()
    within_a_day = [c for c in session.scalars(select(Callback).where(Callback.patient_id == patient.id,
                                                                      Callback.status == "open"))
                    if c.due_at <= utcnow() + timedelta(hours=24)]
    assert len(within_a_day) == 1
    callback = within_a_day[0]
    assert callback.rule_code == "DES-GLU-3D" and len(callback.reading_ids) == 3
    for scope in ("all", "mine"):
        page = client.get(f"/callbacks?scope={scope}")
        assert page.status_code == 200
        assert _order(page.text)[0] == callback.id
        first_card = page.text.split(f'id="callback-{callback.id}"')[1].split("</article>")[0]
        assert "王秀英" in first_card and callback.reason_en in first_card and "11.0" in first_card


def test_low_glucose_by_sms_opens_an_urgent_callback_due_within_an_hour_above_the_same_day_one(
        client, session, settings):
    clinic, doctor = _doctor(client, session)
    high = make_patient(session, clinic, name="High Glucose")
    low = make_patient(session, clinic, name="Low Glucose")
    session.commit()
    _send_on_consecutive_days(client, session, settings, high, "空腹血糖11.0")
    assert send_sms(client, settings, from_=low.phone, body="血糖2.8").status_code == 200
    urgent = session.scalars(select(Callback).where(Callback.patient_id == low.id)).one()
    assert urgent.severity == "urgent"
    assert utcnow() < urgent.due_at <= utcnow() + timedelta(hours=1)
    same_day = session.scalars(select(Callback).where(Callback.patient_id == high.id,
                                                      Callback.rule_code == "DES-GLU-3D")).one()
    order = _order(client.get("/callbacks").text)
    assert order.index(urgent.id) < order.index(same_day.id)


def test_queue_pins_escalated_then_orders_by_severity_then_due_time(client, session):
    clinic, _ = _doctor(client, session)
    now = utcnow()
    routine = make_callback(session, make_patient(session, clinic), severity="routine", rule_code="R",
                            due_at=now + timedelta(days=1))
    urgent_later = make_callback(session, make_patient(session, clinic), severity="urgent", rule_code="U",
                                 due_at=now + timedelta(minutes=50))
    urgent_sooner = make_callback(session, make_patient(session, clinic), severity="urgent", rule_code="U",
                                  due_at=now + timedelta(minutes=20))
    emergency = make_callback(session, make_patient(session, clinic), severity="emergency", rule_code="E",
                              due_at=now + timedelta(minutes=10))
    escalated = make_callback(session, make_patient(session, clinic), severity="follow_up", rule_code="F",
                              due_at=now + timedelta(days=3))
    escalated.escalated_at = now
    session.commit()
    assert _order(client.get("/callbacks").text) == [escalated.id, emergency.id, urgent_sooner.id,
                                                     urgent_later.id, routine.id]


def test_overdue_callbacks_are_marked_and_counted(client, session):
    clinic, _ = _doctor(client, session)
    late = make_callback(session, make_patient(session, clinic), due_at=utcnow() - timedelta(minutes=5))
    make_callback(session, make_patient(session, clinic), rule_code="OTHER", due_at=utcnow() + timedelta(hours=2))
    session.commit()
    text = client.get("/callbacks").text
    late_card = text.split(f'id="callback-{late.id}"')[1].split("</article>")[0]
    assert "Overdue" in late_card
    cards = text.split('id="callback-')[1:]
    assert sum('class="tag danger">Overdue<' in card for card in cards) == 1
    assert "2 open · 1 overdue" in text


def test_filters_mine_unassigned_severity_programme_and_phone(client, session):
    clinic, doctor = _doctor(client, session)
    nurse = make_staff(session, clinic, role="nurse")
    my_patient = make_patient(session, clinic, name="My Patient", family_doctor_id=doctor.id)
    mine_unassigned = make_callback(session, my_patient, severity="same_day", rule_code="A")
    assigned_to_nurse = make_callback(session, make_patient(session, clinic, name="Nurse Patient",
                                                            programmes=["hypertension"]), rule_code="B")
    assigned_to_nurse.assigned_to = nurse.id
    no_phone = make_callback(session, make_patient(session, clinic, name="No Phone", phone=None, sms_consent=False,
                                                   programmes=["diabetes"]), rule_code="C")
    session.commit()
    assert _order(client.get("/callbacks?scope=mine").text) == [mine_unassigned.id]
    assert set(_order(client.get("/callbacks?scope=unassigned").text)) == {mine_unassigned.id, no_phone.id}
    assert _order(client.get("/callbacks?severity=same_day").text) == [mine_unassigned.id]
    assert assigned_to_nurse.id not in _order(client.get("/callbacks?programme=diabetes").text)
    assert no_phone.id not in _order(client.get("/callbacks?has_phone=1").text)


def test_queue_paginates(client, session):
    clinic, _ = _doctor(client, session)
    for i in range(25):
        make_callback(session, make_patient(session, clinic), due_at=utcnow() + timedelta(minutes=10 + i))
    session.commit()
    first, second = client.get("/callbacks").text, client.get("/callbacks?page=2").text
    assert len(_order(first)) == 20 and len(_order(second)) == 5
    assert "Page 2 of 2" in second and not set(_order(first)) & set(_order(second))


def test_phone_is_masked_until_the_doctor_claims_the_callback(client, session):
    clinic, _ = _doctor(client, session)
    patient = make_patient(session, clinic, phone="+8613711112222")
    callback = make_callback(session, patient)
    session.commit()
    before = client.get("/callbacks").text
    assert "+86137****2222" in before and "+8613711112222" not in before and "tel:" not in before
    client.post(f"/callbacks/{callback.id}/claim", data={"_csrf_token": client.cookies["careloop_csrf"]})
    after = client.get("/callbacks").text
    assert 'href="tel:+8613711112222"' in after


def test_card_shows_opt_out_badge_and_previous_calls(client, session):
    clinic, doctor = _doctor(client, session)
    patient = make_patient(session, clinic)
    patient.sms_opted_out = True
    callback = make_callback(session, patient)
    session.commit()
    token = client.cookies["careloop_csrf"]
    client.post(f"/callbacks/{callback.id}/attempts", data={"_csrf_token": token, "outcome": "busy"})
    card = client.get("/callbacks").text.split(f'id="callback-{callback.id}"')[1].split("</article>")[0]
    assert "Opted out of SMS" in card and "Busy" in card and doctor.display_name in card


def test_reason_is_shown_in_the_doctors_language(client, session):
    clinic, _ = _doctor(client, session, language="zh-CN")
    make_callback(session, make_patient(session, clinic), reason_zh="血糖过低（2.8 mmol/L）")
    session.commit()
    text = client.get("/callbacks").text
    assert "血糖过低（2.8 mmol/L）" in text and "Low glucose (2.8 mmol/L)" not in text


def test_empty_queue_says_what_happens_next(client, session):
    _doctor(client, session)
    assert "No open callbacks" in client.get("/callbacks").text


def test_another_clinics_callbacks_are_neither_listed_nor_exported(client, session):
    _doctor(client, session)
    other = make_callback(session, make_patient(session, make_clinic(session), name="外院患者"))
    session.commit()
    assert "外院患者" not in client.get("/callbacks?status=all").text
    assert "外院患者" not in client.get("/callbacks.csv?status=all").text
    assert client.get(f"/callbacks/{other.id}").status_code == 404


def test_csv_export_has_the_queue_columns_and_is_audited(client, session):
    clinic, doctor = _doctor(client, session)
    patient = make_patient(session, clinic, name="=Zhang")
    callback = make_callback(session, patient)
    callback.assigned_to = doctor.id
    session.commit()
    response = client.get("/callbacks.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["id", "patient", "severity", "status", "rule", "reason", "opened", "due", "attempts",
                       "assigned", "outcome"]
    assert rows[1][:6] == [str(callback.id), "'=Zhang", "urgent", "open", "CN-DM-01b", "Low glucose (2.8 mmol/L)"]
    assert rows[1][7].endswith("+08:00") and rows[1][8:] == ["0", doctor.display_name, ""]
    export = session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.export)).one()
    assert (export.actor_id, export.object_type) == (doctor.id, "callback_list")


def test_csv_export_includes_closed_callbacks_with_their_outcome(client, session):
    clinic, _ = _doctor(client, session)
    callback = make_callback(session, make_patient(session, clinic))
    session.commit()
    client.post(f"/callbacks/{callback.id}/close", data={"_csrf_token": client.cookies["careloop_csrf"],
                                                         "reason": "already_visited"})
    rows = list(csv.reader(io.StringIO(client.get("/callbacks.csv?status=all").content.decode("utf-8-sig"))))
    assert rows[1][3] == "closed" and rows[1][10] == "not_reached: already_visited"
    assert len(list(csv.reader(io.StringIO(client.get("/callbacks.csv").content.decode("utf-8-sig"))))) == 1


def test_viewing_the_queue_is_audited(client, session):
    clinic, doctor = _doctor(client, session)
    make_callback(session, make_patient(session, clinic))
    session.commit()
    client.get("/callbacks")
    row = session.scalars(select(AuditEntry).where(AuditEntry.object_type == "callback_list")).one()
    assert (row.action, row.actor_id) == (AuditAction.view, doctor.id)


def test_home_sends_clinical_staff_to_the_queue_and_the_committee_elsewhere(client, session):
    clinic, _ = _doctor(client, session)
    assert client.get("/", follow_redirects=False).headers["location"] == "/callbacks"
    make_staff(session, clinic, role="committee", username="qc1")
    session.commit()
    client.post("/logout", data={"_csrf_token": client.cookies["careloop_csrf"]})
    login_staff(client, "qc1")
    assert client.get("/", follow_redirects=False).headers["location"] == "/patients"
    assert client.get("/callbacks", follow_redirects=False).status_code == 403


def test_the_callback_history_tells_why_it_opened_in_the_readers_language(client, session, settings):
    clinic, doctor = _doctor(client, session, language="zh-CN")
    patient = make_patient(session, clinic, name="王秀英", family_doctor_id=doctor.id)
    session.commit()
    _send_on_consecutive_days(client, session, settings, patient, "空腹血糖11.0")
    session.expire_all()
    callback = session.scalars(select(Callback).where(Callback.patient_id == patient.id,
                                                      Callback.rule_code == "DES-GLU-3D")).one()
    history = client.get(f"/callbacks/{callback.id}").text.split("<tbody>")[-1]
    assert callback.reason_zh in history and callback.reason_en not in history


def test_queue_cards_load_their_chart_as_an_image_drawn_from_the_readings_the_card_lists(client, session, settings):
    clinic, doctor = _doctor(client, session)
    patient = make_patient(session, clinic, name="Chart Patient", family_doctor_id=doctor.id)
    session.commit()
    _send_on_consecutive_days(client, session, settings, patient, "空腹血糖11.0")
    callback = session.scalars(select(Callback).where(Callback.patient_id == patient.id,
                                                      Callback.rule_code == "DES-GLU-3D")).one()
    card = client.get("/callbacks").text.split(f'id="callback-{callback.id}"')[1].split("</article>")[0]
    image = re.search(r'<img src="/callbacks/(\d+)/chart\.svg" alt="([^"]+)"[^>]*loading="lazy"', card)
    assert image and int(image.group(1)) == callback.id and "<svg" not in card
    assert "3 readings" in image.group(2) and "11.0 mmol/L" in image.group(2)
    chart = client.get(f"/callbacks/{callback.id}/chart.svg")
    assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg+xml")
    assert chart.headers["cache-control"] == "no-store"
    # Drawn as the card's data: three fasting points, and no CSS a Content-Security-Policy could block.
    assert chart.text.count("<use ") == 3 and "<style" not in chart.text and " style=" not in chart.text
    assert 'xmlns="http://www.w3.org/2000/svg"' in chart.text
    views = session.scalars(select(AuditEntry).where(AuditEntry.object_type == "callback_chart")).all()
    assert [(v.object_id, v.patient_id, v.actor_id) for v in views] == [(str(callback.id), patient.id, doctor.id)]


def test_a_card_chart_shows_a_new_reading_at_once_despite_the_kept_drawings(client, session, settings):
    clinic, doctor = _doctor(client, session)
    patient = make_patient(session, clinic, family_doctor_id=doctor.id)
    session.commit()
    _send_on_consecutive_days(client, session, settings, patient, "空腹血糖11.0")
    callback = session.scalars(select(Callback).where(Callback.patient_id == patient.id,
                                                      Callback.rule_code == "DES-GLU-3D")).one()
    assert client.get(f"/callbacks/{callback.id}/chart.svg").text.count("<use ") == 3
    assert send_sms(client, settings, from_=patient.phone, body="空腹血糖9.0").status_code == 200
    assert client.get(f"/callbacks/{callback.id}/chart.svg").text.count("<use ") == 4


def test_a_card_chart_of_another_clinic_or_without_readings_is_not_found(client, session):
    clinic, _ = _doctor(client, session)
    other = make_clinic(session, code="other-chart")
    theirs = make_callback(session, make_patient(session, other))
    mine = make_callback(session, make_patient(session, clinic))  # no readings: the card draws no chart
    session.commit()
    assert client.get(f"/callbacks/{theirs.id}/chart.svg").status_code == 404
    assert client.get(f"/callbacks/{mine.id}/chart.svg").status_code == 404
    assert 'chart.svg' not in client.get("/callbacks").text
