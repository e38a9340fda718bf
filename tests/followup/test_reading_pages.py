"""Reading pages: patients, caregivers and staff enter readings on the web and see history as chart and table."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clinic.service import link_caregiver
from core import i18n
from core.models import AuditAction, AuditEntry, SmsMessage
from followup.enums import ReadingKind, ReadingSource
from followup.models import Callback, Reading
from followup.replies import ReplyKind, compose_reply
from followup.service import Entry, record_readings, resolve_submission
from tests.factories import login_staff, make_clinic, make_patient, make_staff, post_form, send_sms

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _sign_in_by_code(client, session, phone):
    post_form(client, "/login/code", {"phone": phone})
    message = session.scalars(select(SmsMessage).where(SmsMessage.purpose == "login_code", SmsMessage.phone == phone)
                              .order_by(SmsMessage.id.desc())).first()
    code = re.search(r"(?<!\d)\d{6}(?!\d)", message.body).group()
    assert post_form(client, "/login/verify", {"phone": phone, "code": code},
                     follow_redirects=False).status_code in (302, 303)


def _patient_signed_in(client, session, **overrides):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic, **{"language": "en", "phone": "+8613712345001", **overrides})
    session.commit()
    _sign_in_by_code(client, session, patient.phone)
    return clinic, patient


def _staff_signed_in(client, session, clinic, role="doctor"):
    staff = make_staff(session, clinic, role=role, username=f"{role}-li")
    session.commit()
    login_staff(client, staff.username)
    return staff


def _form(client, base, kind):
    """The form as the browser got it: its one-time token and its default day and time."""
    page = client.get(f"{base}/new?kind={kind}").text
    day = (re.search(r'name="date" value="([0-9-]+)" checked', page)
           or re.search(r'name="date" type="date" [^>]*value="([0-9-]+)"', page))
    return {"kind": kind, "token": re.search(r'name="token" value="([0-9a-f]{32})"', page)[1], "date": day[1],
            "time": re.search(r'name="time" type="time" value="([0-9:]+)"', page)[1]}


def _submit(client, base, kind, **fields):
    return post_form(client, base, {**_form(client, base, kind), **fields})


def _store(session, patient, *, when, source=ReadingSource.sms, **submission):
    readings = resolve_submission(**submission)
    stored = record_readings(session=session, patient=patient, readings=readings, taken_at=when,
                             entry=Entry(source=source, kind="patient", user_id=patient.id))
    session.commit()
    return stored


def test_patient_saves_blood_pressure_with_pulse_and_sees_the_sms_style_echo(client, session):
    _, patient = _patient_signed_in(client, session)
    base = f"/me/patients/{patient.id}/readings"
    response = _submit(client, base, "blood_pressure", systolic="142", diastolic="88", pulse="72")
    assert response.status_code == 200 and "/saved/" in str(response.url)
    assert "Got it: BP 142/88, pulse 72. Thank you." in response.text
    readings = session.scalars(select(Reading).where(Reading.patient_id == patient.id).order_by(Reading.id)).all()
    assert [(r.kind, r.systolic, r.diastolic, r.value_original) for r in readings] == [
        ("blood_pressure", 142, 88, None), ("heart_rate", None, None, Decimal("72"))]
    assert {(r.source, r.entered_by_kind, r.entered_by_id) for r in readings} == {("web", "patient", patient.id)}


def test_urgent_reading_shows_the_same_urgent_instruction_as_the_sms_reply(client, session):
    clinic, patient = _patient_signed_in(client, session)
    response = _submit(client, f"/me/patients/{patient.id}/readings", "blood_pressure", systolic="185",
                       diastolic="100")
    expected = compose_reply(kind=ReplyKind.urgent_bp, language="en", emergency_number=clinic.emergency_number,
                             readings=resolve_submission(kind=ReadingKind.blood_pressure, systolic=185, diastolic=100))
    assert expected in response.text and 'role="alert"' in response.text
    assert f'href="tel:{clinic.emergency_number}"' in response.text
    callback = session.scalars(select(Callback).where(Callback.patient_id == patient.id)).one()
    assert callback.severity == "urgent"


def test_chinese_patient_gets_the_chinese_sms_wording(client, session):
    _, patient = _patient_signed_in(client, session, language="zh-CN")
    response = _submit(client, f"/me/patients/{patient.id}/readings", "glucose", value="７.２", unit="mmol/L",
                       context="fasting")
    assert "已收到：血糖7.2(空腹)。谢谢！" in response.text
    assert session.scalars(select(Reading)).one().value_original == Decimal("7.2")


def test_form_errors_sit_next_to_their_fields_and_keep_what_was_typed(client, session):
    _, patient = _patient_signed_in(client, session)
    response = _submit(client, f"/me/patients/{patient.id}/readings", "blood_pressure", systolic="15O",
                       diastolic="", pulse="72")
    assert response.status_code == 422
    assert 'id="systolic-error"' in response.text and 'id="diastolic-error"' in response.text
    assert 'value="15O"' in response.text and 'value="72"' in response.text
    assert "Enter the lower (diastolic) number." in response.text
    assert session.scalars(select(Reading)).all() == []


def test_field_errors_are_in_the_patients_language(client, session):
    _, patient = _patient_signed_in(client, session, language="zh-CN")
    response = _submit(client, f"/me/patients/{patient.id}/readings", "blood_pressure", systolic="150",
                       diastolic="")
    message = i18n.gettext("zh-CN", "Enter the lower (diastolic) number.")
    assert message != "Enter the lower (diastolic) number."
    assert re.search(r'id="diastolic-error"[^>]*>' + re.escape(message), response.text)


def test_swapped_blood_pressure_is_refused_with_a_hint_on_the_lower_number(client, session):
    _, patient = _patient_signed_in(client, session)
    response = _submit(client, f"/me/patients/{patient.id}/readings", "blood_pressure", systolic="95",
                       diastolic="150")
    assert response.status_code == 422
    assert re.search(r'id="diastolic-error"[^>]*>The lower number must be smaller', response.text)


def test_glucose_needs_its_timing_and_the_form_defaults_to_the_patients_unit(client, session):
    _, patient = _patient_signed_in(client, session, glucose_unit="mg/dL")
    base = f"/me/patients/{patient.id}/readings"
    assert 'value="mg/dL" checked' in client.get(f"{base}/new?kind=glucose").text
    response = _submit(client, base, "glucose", value="130")
    assert response.status_code == 422 and 'id="context-error"' in response.text
    assert 'value="mg/dL" checked' in response.text  # the unit is still chosen after the error


def test_glucose_in_mg_dl_is_kept_as_sent_and_shown_with_the_canonical_value(client, session):
    _, patient = _patient_signed_in(client, session, glucose_unit="mg/dL")
    base = f"/me/patients/{patient.id}/readings"
    _submit(client, base, "glucose", value="130", unit="mg/dL", context="after_meal_2h")
    reading = session.scalars(select(Reading)).one()
    assert (reading.value_original, reading.unit_original, reading.value_canonical) == (
        Decimal("130"), "mg/dL", Decimal("7.2"))
    page = client.get(base).text
    assert "130 mg/dL" in page and "= 7.2 mmol/L" in page and "2 hours after a meal" in page


def test_meter_showing_hi_is_stored_as_a_flag_and_gets_the_urgent_reply(client, session):
    _, patient = _patient_signed_in(client, session)
    response = _submit(client, f"/me/patients/{patient.id}/readings", "glucose", value="", meter_flag="hi",
                       context="random")
    reading = session.scalars(select(Reading)).one()
    assert reading.meter_flag == "hi" and reading.value_original is None
    assert "glucose HI" in response.text and 'role="alert"' in response.text


def test_weight_in_jin_is_kept_in_jin_with_kilograms_beside_it(client, session):
    _, patient = _patient_signed_in(client, session)
    base = f"/me/patients/{patient.id}/readings"
    _submit(client, base, "weight", value="131", unit="jin")
    reading = session.scalars(select(Reading)).one()
    assert (reading.unit_original, reading.value_canonical) == ("jin", Decimal("65.5"))
    assert "131 jin" in client.get(base).text


def test_taken_at_defaults_to_today_in_the_patients_time_zone(client, session):
    clinic = make_clinic(session, timezone="America/Chicago", profile="us", language="en")
    patient = make_patient(session, clinic, language="en", phone="+8613712345002")
    session.commit()
    _sign_in_by_code(client, session, patient.phone)
    today = datetime.now(ZoneInfo("America/Chicago")).date()
    assert _form(client, f"/me/patients/{patient.id}/readings", "heart_rate")["date"] == today.isoformat()


def test_a_reading_from_yesterday_evening_is_stored_at_that_local_time(client, session):
    _, patient = _patient_signed_in(client, session)
    base = f"/me/patients/{patient.id}/readings"
    yesterday = datetime.now(SHANGHAI).date() - timedelta(days=1)
    _submit(client, base, "heart_rate", value="66", date=yesterday.isoformat(), time="21:30")
    taken = session.scalars(select(Reading)).one().taken_at
    assert taken == datetime(yesterday.year, yesterday.month, yesterday.day, 21, 30, tzinfo=SHANGHAI)


def test_a_time_still_to_come_or_a_day_older_than_the_day_before_yesterday_is_refused(client, session):
    _, patient = _patient_signed_in(client, session)
    base = f"/me/patients/{patient.id}/readings"
    later = (datetime.now(SHANGHAI) + timedelta(hours=2))
    if later.date() == datetime.now(SHANGHAI).date():  # near midnight there is no later time today to try
        response = _submit(client, base, "heart_rate", value="66", time=later.strftime("%H:%M"))
        assert response.status_code == 422 and 'id="time-error"' in response.text
    old = datetime.now(SHANGHAI).date() - timedelta(days=3)
    response = _submit(client, base, "heart_rate", value="66", date=old.isoformat())
    assert response.status_code == 422 and 'id="date-error"' in response.text
    assert session.scalars(select(Reading)).all() == []


def test_sending_the_same_form_twice_stores_it_once(client, session):
    _, patient = _patient_signed_in(client, session)
    base = f"/me/patients/{patient.id}/readings"
    form = {**_form(client, base, "blood_pressure"), "systolic": "185", "diastolic": "100"}
    first = post_form(client, base, form)
    again = post_form(client, base, form)
    assert first.url == again.url
    assert len(session.scalars(select(Reading)).all()) == 1
    assert "call 120" in again.text  # the second answer still carries the urgent instruction
    events = session.scalars(select(Callback)).one()
    assert events.reading_ids == [session.scalars(select(Reading.id)).one()]


def test_caregiver_enters_a_reading_for_the_linked_patient(client, session):
    clinic = make_clinic(session)
    mother = make_patient(session, clinic, name="王秀英", language="en")
    caregiver = link_caregiver(session=session, patient=mother, name="王小明", phone="+8613712349999",
                               language="en")
    session.commit()
    _sign_in_by_code(client, session, caregiver.phone)
    assert f"/me/patients/{mother.id}/readings/new" in client.get("/me").text
    base = f"/me/patients/{mother.id}/readings"
    assert "For 王秀英" in client.get(f"{base}/new?kind=heart_rate").text
    _submit(client, base, "heart_rate", value="80")
    reading = session.scalars(select(Reading)).one()
    assert (reading.patient_id, reading.entered_by_kind, reading.entered_by_id) == (mother.id, "caregiver",
                                                                                   caregiver.id)
    assert "family member" in client.get(base).text
    views = session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.view,
                                                     AuditEntry.patient_id == mother.id)).all()
    assert views and views[-1].actor_kind == "caregiver"


def test_caregiver_gets_404_for_a_patient_not_linked_to_them(client, session):
    clinic = make_clinic(session)
    mother = make_patient(session, clinic, language="en")
    stranger = make_patient(session, clinic, name="陌生人")
    caregiver = link_caregiver(session=session, patient=mother, name="王小明", phone="+8613712349998")
    session.commit()
    _sign_in_by_code(client, session, caregiver.phone)
    base = f"/me/patients/{stranger.id}/readings"
    assert client.get(base).status_code == 404
    assert client.get(f"{base}/new?kind=heart_rate").status_code == 404
    response = post_form(client, base, {"kind": "heart_rate", "value": "80", "date": "2026-01-01", "time": "08:00"})
    assert response.status_code == 404 and "陌生人" not in response.text
    assert session.scalars(select(Reading)).all() == []


def test_patient_gets_404_for_another_patients_readings(client, session):
    clinic, _ = _patient_signed_in(client, session)
    other = make_patient(session, clinic)
    session.commit()
    assert client.get(f"/me/patients/{other.id}/readings").status_code == 404


def test_staff_entry_is_stored_as_staff_and_audited(client, session):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic, language="zh-CN")
    doctor = _staff_signed_in(client, session, clinic)
    base = f"/patients/{patient.id}/readings"
    response = _submit(client, base, "blood_pressure", systolic="150", diastolic="95")
    assert response.status_code == 200 and "What an SMS reply would tell the patient" in response.text
    reading = session.scalars(select(Reading)).one()
    assert (reading.source, reading.entered_by_kind, reading.entered_by_id) == ("staff", "staff", doctor.id)
    created = session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.create)).all()
    assert [(a.object_type, a.object_id, a.patient_id, a.actor_id) for a in created] == [
        ("reading", str(reading.id), patient.id, doctor.id)]
    assert doctor.display_name in client.get(base).text  # who entered it shows in the table


def test_staff_may_enter_a_reading_from_last_week(client, session):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    _staff_signed_in(client, session, clinic)
    day = datetime.now(SHANGHAI).date() - timedelta(days=6)
    response = _submit(client, f"/patients/{patient.id}/readings", "weight", value="65", unit="kg",
                       date=day.isoformat(), time="08:00")
    assert response.status_code == 200
    assert session.scalars(select(Reading)).one().taken_at == datetime(day.year, day.month, day.day, 8,
                                                                       tzinfo=SHANGHAI)


def test_staff_urgent_entry_shows_the_callback_it_opened(client, session):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    _staff_signed_in(client, session, clinic)
    response = _submit(client, f"/patients/{patient.id}/readings", "glucose", value="2.8", unit="mmol/L",
                       context="fasting")
    assert "Callback for the care team" in response.text
    callback = session.scalars(select(Callback)).one()
    assert html.escape(callback.reason_en, quote=False) in response.text


def test_staff_view_of_readings_is_audited(client, session):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    doctor = _staff_signed_in(client, session, clinic)
    assert client.get(f"/patients/{patient.id}/readings").status_code == 200
    row = session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.view)).one()
    assert (row.object_type, row.patient_id, row.actor_id) == ("readings", patient.id, doctor.id)


def test_committee_member_may_view_readings_but_not_enter_them(client, session):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    _staff_signed_in(client, session, clinic, role="committee")
    page = client.get(f"/patients/{patient.id}/readings")
    assert page.status_code == 200 and f"/patients/{patient.id}/readings/new" not in page.text
    assert client.get(f"/patients/{patient.id}/readings/new?kind=weight").status_code == 403


def test_staff_get_404_for_a_patient_of_another_clinic(client, session):
    clinic = make_clinic(session)
    stranger = make_patient(session, make_clinic(session), name="外院患者")
    _staff_signed_in(client, session, clinic)
    response = client.get(f"/patients/{stranger.id}/readings")
    assert response.status_code == 404 and "外院患者" not in response.text


def test_sms_and_web_readings_land_in_the_same_table_and_chart(client, session, settings):
    _, patient = _patient_signed_in(client, session)
    assert send_sms(client, settings, from_=patient.phone, body="血压150/95").status_code == 200
    base = f"/me/patients/{patient.id}/readings"
    _submit(client, base, "blood_pressure", systolic="138", diastolic="86")
    page = client.get(base).text
    assert "150/95 mmHg" in page and "138/86 mmHg" in page
    assert ">SMS</span>" in page and ">Web</span>" in page
    chart = page[page.index('id="chart-blood_pressure"'):page.index("</svg>", page.index('id="chart-blood_pressure"'))]
    systolic = chart[chart.index('id="blood_pressure-series-1"'):chart.index('id="blood_pressure-series-2"')]
    assert len(re.findall(r"<g><title>[^<]*</title><use ", systolic)) == 2  # one systolic marker per reading
    assert "2 readings" in chart


def test_history_is_newest_first_paginated_and_in_the_patients_local_time(client, session):
    _, patient = _patient_signed_in(client, session)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for i in range(25):
        _store(session, patient, when=now - timedelta(hours=3 * i), kind=ReadingKind.heart_rate, value=60 + i)
    base = f"/me/patients/{patient.id}/readings"
    first, second = client.get(base).text, client.get(f"{base}?days=14&kind=&page=2").text
    values = [int(v) for v in re.findall(r"<strong>(\d+) beats/min</strong>", first)]
    assert values == list(range(60, 80))
    assert [int(v) for v in re.findall(r"<strong>(\d+) beats/min</strong>", second)] == list(range(80, 85))
    assert "Page 2 of 2" in second
    assert now.astimezone(SHANGHAI).strftime("%H:%M") in first and "Asia/Shanghai" in first


def test_period_and_kind_choose_what_the_history_shows(client, session):
    _, patient = _patient_signed_in(client, session)
    now = datetime.now(UTC)
    _store(session, patient, when=now - timedelta(days=20), kind=ReadingKind.weight, value="70", unit="kg")
    _store(session, patient, when=now - timedelta(days=1), kind=ReadingKind.heart_rate, value=77)
    base = f"/me/patients/{patient.id}/readings"
    recent = client.get(base).text
    assert "77 beats/min" in recent and "70 kg" not in recent and 'id="chart-weight"' not in recent
    month = client.get(f"{base}?days=30").text
    assert "70 kg" in month and 'id="chart-weight"' in month
    only_weight = client.get(f"{base}?days=30&kind=weight").text
    assert "70 kg" in only_weight and "77 beats/min" not in only_weight


def test_empty_history_tells_the_patient_how_to_send_a_reading(client, session):
    _, patient = _patient_signed_in(client, session)
    page = client.get(f"/me/patients/{patient.id}/readings").text
    assert "No readings yet." in page and "血压150/95" in page
    assert f"/me/patients/{patient.id}/readings/new?kind=" in page


def test_patient_home_and_patient_page_lead_to_the_readings(client, session):
    clinic, patient = _patient_signed_in(client, session)
    home = client.get("/me").text
    assert f'href="/me/patients/{patient.id}/readings"' in home
    assert f'href="/me/patients/{patient.id}/readings/new"' in home
    client.cookies.clear()
    _staff_signed_in(client, session, clinic, role="nurse")
    assert f'href="/patients/{patient.id}/readings"' in client.get(f"/patients/{patient.id}").text
