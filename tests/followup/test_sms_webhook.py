"""The SMS front door, end to end: signed Twilio webhooks in, readings and callbacks stored, TwiML out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from core.models import AuditAction, AuditEntry, SmsMessage
from followup.models import Callback, PendingConfirmation, Reading
from tests.factories import make_clinic, make_patient, send_sms, twiml_text
from tests.followup.sms_cases import CASES

SEVERITY_WORDS = {"EMERGENCY": "emergency", "URGENT": "urgent", "SAME_DAY": "same_day"}


def _patient_for(session, case):
    cn = case.profile == "CN"
    clinic = make_clinic(session, profile="cn" if cn else "us", language="zh-CN" if cn else "en",
                         timezone="Asia/Shanghai" if cn else "America/Chicago")
    patient = make_patient(session, clinic, phone="+8613712340001" if cn else "+13125550101",
                           language=case.language, glucose_unit=case.glucose_unit)
    session.commit()
    return patient


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.n:02d}")
def test_worked_message_gets_the_expected_reply_and_callback(case, client, session, settings):
    patient = _patient_for(session, case)
    response = send_sms(client, settings, from_=patient.phone, body=case.message)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert twiml_text(response) == case.reply
    callbacks = session.scalars(select(Callback).where(Callback.patient_id == patient.id)).all()
    expected = [s for word, s in SEVERITY_WORDS.items() if f"→{word}" in case.rule_hits]
    if expected:
        assert len(callbacks) == 1, case.rule_hits
        assert callbacks[0].severity == expected[0]
    elif "OPT_OUT_LIKE" not in case.intent:
        assert callbacks == []


def test_full_width_glucose_is_stored_in_the_unit_sent_and_echoed(client, session, settings):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic, phone="+8613712340002")
    session.commit()
    response = send_sms(client, settings, from_=patient.phone, body="血糖１１．２")
    assert twiml_text(response).startswith("已收到：血糖11.2。")
    reading = session.scalars(select(Reading)).one()
    assert (reading.kind, reading.value_original, reading.unit_original) == ("glucose", Decimal("11.2"), "mmol/L")
    assert reading.source == "sms" and reading.sms_message_id is not None and reading.loinc == "14743-9"


def test_replayed_message_sid_stores_nothing_new_and_repeats_the_reply(client, session, settings):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic, phone="+8613712340003")
    session.commit()
    first = send_sms(client, settings, from_=patient.phone, body="血糖2.8", sid="SM" + "a" * 32)
    again = send_sms(client, settings, from_=patient.phone, body="血糖2.8", sid="SM" + "a" * 32)
    assert twiml_text(again) == twiml_text(first)
    assert len(session.scalars(select(Reading)).all()) == 1
    assert len(session.scalars(select(Callback)).all()) == 1
    assert len(session.scalars(select(SmsMessage)).all()) == 1


def test_bad_signature_is_refused_and_logged(client, session, settings):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic, phone="+8613712340004")
    session.commit()
    params = {"MessageSid": "SM" + "b" * 32, "From": patient.phone, "To": "+1500", "Body": "血糖8.0"}
    response = client.post("/sms/twilio", data=params, headers={"X-Twilio-Signature": "forged"})
    assert response.status_code == 403
    assert session.scalars(select(Reading)).all() == []
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.security)).one()


def test_unknown_sender_gets_not_registered_and_nothing_is_stored(client, session, settings):
    response = send_sms(client, settings, from_="+8613999999999", body="血糖7.0")
    assert "未登记" in twiml_text(response) or "not registered" in twiml_text(response).lower()
    assert session.scalars(select(SmsMessage)).all() == []
    assert session.scalars(select(Reading)).all() == []
    log = session.scalars(select(AuditEntry)).one()
    assert "+8613999999999" not in log.detail  # even the security note masks the number


def test_opt_out_stops_texts_but_keeps_follow_up(client, session, settings):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic, phone="+8613712340005")
    session.commit()
    assert twiml_text(send_sms(client, settings, from_=patient.phone, body="退订")) is None
    session.refresh(patient)
    assert patient.sms_opted_out
    response = send_sms(client, settings, from_=patient.phone, body="血糖2.8")
    assert twiml_text(response) is None  # no text to a patient who opted out
    callback = session.scalars(select(Callback)).one()  # but the doctor still calls
    assert callback.severity == "urgent"


def test_reversed_blood_pressure_waits_for_confirmation_then_is_stored(client, session, settings):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic, phone="+8613712340006")
    session.commit()
    question = twiml_text(send_sms(client, settings, from_=patient.phone, body="95/150"))
    assert "150/95" in question
    assert session.scalars(select(Reading)).all() == []
    assert twiml_text(send_sms(client, settings, from_=patient.phone, body="确认")) == "已确认，谢谢。"
    reading = session.scalars(select(Reading)).one()
    assert (reading.systolic, reading.diastolic) == (150, 95)
    assert session.scalars(select(PendingConfirmation)).one().status == "confirmed"


def test_rejecting_a_question_stores_nothing(client, session, settings):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic, phone="+8613712340007")
    session.commit()
    send_sms(client, settings, from_=patient.phone, body="95/150")
    send_sms(client, settings, from_=patient.phone, body="不对")
    assert session.scalars(select(Reading)).all() == []


def test_ambiguous_dangerous_glucose_calls_now_and_asks(client, session, settings):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic, phone="+8613712340008")
    session.commit()
    reply = twiml_text(send_sms(client, settings, from_=patient.phone, body="血糖45"))
    assert "mg/dL" in reply and "120" in reply
    assert session.scalars(select(Reading)).all() == []  # nothing uncertain stored as certain
    assert session.scalars(select(Callback)).one().severity == "urgent"


def test_two_urgent_messages_in_ten_minutes_make_one_callback_and_one_urgent_reply(client, session, settings):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic, phone="+8613712340009")
    session.commit()
    first = twiml_text(send_sms(client, settings, from_=patient.phone, body="血压185/100"))
    second = twiml_text(send_sms(client, settings, from_=patient.phone, body="血压182/104"))
    assert "120" in first and "120" not in second
    assert second.startswith("已收到：血压182/104")
    assert len(session.scalars(select(Callback)).all()) == 1


def test_second_fast_heart_rate_after_thirty_minutes_opens_urgent_callback(client, session, settings):
    from datetime import timedelta

    from core.db import utcnow

    clinic = make_clinic(session)
    patient = make_patient(session, clinic, phone="+8613712340010")
    session.commit()
    assert "复测" in twiml_text(send_sms(client, settings, from_=patient.phone, body="血压150/95 心率108"))
    first = session.scalars(select(Reading).where(Reading.kind == "heart_rate")).one()
    first.taken_at = utcnow() - timedelta(minutes=40)
    session.commit()
    send_sms(client, settings, from_=patient.phone, body="心率112")
    assert session.scalars(select(Callback)).one().rule_code == "CN-DM-05"


def test_a_complaint_by_sms_becomes_an_event_for_the_quality_team(client, session, settings):
    from core.models import EventRecord

    clinic = make_clinic(session)
    patient = make_patient(session, clinic, phone="+8613712340011")
    session.commit()
    reply = twiml_text(send_sms(client, settings, from_=patient.phone, body="投诉 今天等了两个小时"))
    assert reply.startswith("已收到您的意见")
    event = session.scalars(select(EventRecord).where(EventRecord.name == "sms.complaint_received")).one()
    assert event.payload["patient_id"] == patient.id and "两个小时" in event.payload["body"]
    assert session.scalars(select(Reading)).all() == []


def test_concurrent_redeliveries_of_one_message_store_one_reading(engine, session, database_url):
    import threading

    from core.db import unit_of_work, utcnow
    from core.sms import InboundSms
    from followup.conversation import handle_inbound_sms

    if not database_url.startswith("postgresql"):
        return  # SQLite serialises writers; the race this guards against needs PostgreSQL
    clinic = make_clinic(session)
    patient = make_patient(session, clinic, phone="+8613712340012")
    session.commit()
    inbound = InboundSms(provider="twilio", provider_message_id="SM" + "c" * 32, from_e164=patient.phone,
                         to="+15005550006", body="血糖16.9", received_at=utcnow())
    replies: list[str | None] = []
    start = threading.Barrier(6)

    def deliver() -> None:
        start.wait()
        with unit_of_work(engine) as own_session:
            replies.append(handle_inbound_sms(session=own_session, inbound=inbound).reply)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(session.scalars(select(Reading)).all()) == 1
    assert len(session.scalars(select(Callback)).all()) == 1
    assert len(replies) == 6 and len(set(replies)) == 1 and replies[0].startswith("已收到：血糖16.9")


def test_delivery_status_callback_updates_the_outbound_message(client, session, settings, run_jobs):
    from core.messaging import queue_sms
    from tests.factories import sign_twilio

    clinic = make_clinic(session)
    patient = make_patient(session, clinic, phone="+8613712340013")
    message = queue_sms(session=session, phone=patient.phone, body="hello", purpose="test", clinic_id=clinic.id)
    session.commit()
    run_jobs()
    session.refresh(message)
    params = {"MessageSid": message.provider_message_id, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32,
              "To": patient.phone}
    response = client.post("/sms/twilio/status", data=params,
                           headers={"X-Twilio-Signature": sign_twilio(settings, "/sms/twilio/status", params)})
    assert response.status_code == 200
    session.refresh(message)
    assert message.status == "delivered"
    forged = client.post("/sms/twilio/status", data=params, headers={"X-Twilio-Signature": "nope"})
    assert forged.status_code == 403



def _start_of_next_second() -> None:
    """Litestar's limiter counts per whole second of the clock; start a burst at the beginning of one."""
    import time

    time.sleep(1 - time.time() % 1 + 0.01)


def test_webhook_flood_from_one_address_is_refused_at_the_configured_rate_and_stores_nothing(client, app, session,
                                                                                            settings):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic, phone="+8613712340077")
    session.commit()
    app.state.settings = settings.model_copy(update={"sms_webhook_rate_per_second": 2})
    forged = {"MessageSid": "SM" + "f" * 32, "From": patient.phone, "Body": "血糖6"}
    _start_of_next_second()
    # Two quick requests (refused for their signature, but counted), then a genuine one in the same second.
    assert [client.post("/sms/twilio", data=forged).status_code for _ in range(2)] == [403, 403]
    refused = send_sms(client, settings, from_=patient.phone, body="血糖6.1", sid="SM" + "1" * 32)
    assert refused.status_code == 429  # Twilio retries a 429 later: the reading is delayed, not lost
    assert session.scalars(select(Reading).where(Reading.patient_id == patient.id)).all() == []
    _start_of_next_second()
    retried = send_sms(client, settings, from_=patient.phone, body="血糖6.1", sid="SM" + "1" * 32)
    assert retried.status_code == 200
    assert len(session.scalars(select(Reading).where(Reading.patient_id == patient.id)).all()) == 1
