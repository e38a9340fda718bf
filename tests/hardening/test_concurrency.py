"""Two web processes and two workers on one PostgreSQL and one Redis: 1,000 readings from 100 patients sent
at once, with some messages delivered twice (Twilio retries), land exactly once with their callbacks and
replies; the complaints among them become feedback items through the workers."""

from __future__ import annotations

import concurrent.futures
import random
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from core.models import SmsDirection, SmsMessage
from feedback.models import FeedbackItem
from followup.models import Callback, ClinicRule, Reading
from followup.rules import default_rules
from tests.factories import make_clinic, make_patient, make_staff, make_token
from tests.hardening.procs import REDIS_URL, cluster, flush_redis, wait_for, webhook
from tests.twilio_standin import TwilioStandIn

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.timeout(600)]
PATIENTS = 100
READINGS_EACH = 10  # nine blood pressures and one low glucose
COMPLAINTS = 10
DUPLICATES = 100
# The webhook allows 50 requests a second per caller address and process; stay under it like Twilio does.
MAX_RATE = 80


class _Pacer:
    """At most `rate` starts a second across all threads."""

    def __init__(self, rate: float) -> None:
        self.interval, self.next_at, self.lock = 1.0 / rate, time.monotonic(), threading.Lock()

    def wait(self) -> None:
        with self.lock:
            start = max(self.next_at, time.monotonic())
            self.next_at = start + self.interval
        time.sleep(max(0.0, start - time.monotonic()))


def _reply(text: str) -> str | None:
    message = ElementTree.fromstring(text).find("Message")
    return None if message is None else (message.text or "")


def test_concurrent_readings_through_two_web_processes_land_exactly_once(_postgres_url, cluster_engine, tmp_path):
    engine = cluster_engine
    flush_redis(REDIS_URL)
    with Session(engine, expire_on_commit=False) as session:
        clinics = [make_clinic(session), make_clinic(session, language="en", profile="us", timezone="America/New_York")]
        patients = [make_patient(session, clinics[n % 2]) for n in range(PATIENTS)]
        session.commit()

    with TwilioStandIn() as standin, cluster(_postgres_url, REDIS_URL, tmp_path, standin=standin) as procs:
        webs = [procs.start_web(), procs.start_web()]
        procs.start_worker()
        procs.start_worker()

        messages = []
        for patient in patients:
            bodies = [f"血压{118 + i}/{76 + i}" for i in range(READINGS_EACH - 1)] + ["血糖2.8"]
            messages += [webhook(body, from_=patient.phone, auth_token=standin.auth_token) for body in bodies]
        for patient in patients[:COMPLAINTS]:
            messages.append(webhook("投诉 电话没人接", from_=patient.phone, auth_token=standin.auth_token))
        rng = random.Random(10)
        sends = messages + rng.sample(messages, DUPLICATES)  # Twilio redelivers some, with the same MessageSid
        rng.shuffle(sends)

        pacer = _Pacer(MAX_RATE)
        local = threading.local()

        def deliver(n: int) -> tuple[str, int, str]:
            if not hasattr(local, "client"):
                local.client = httpx.Client(timeout=60)
            params, headers = sends[n]
            pacer.wait()
            response = local.client.post(webs[n % 2].base_url + "/sms/twilio", data=params, headers=headers)
            return params["MessageSid"], response.status_code, response.text

        with concurrent.futures.ThreadPoolExecutor(max_workers=24) as pool:
            results = list(pool.map(deliver, range(len(sends))))

        assert Counter(status for _, status, _ in results) == Counter({200: len(sends)}), procs.log_tail()
        replies: dict[str, set[str | None]] = {}
        for sid, _, body in results:
            replies.setdefault(sid, set()).add(_reply(body))
        assert all(len(answers) == 1 for answers in replies.values()), "a redelivery got a different reply"
        assert all(answer for answers in replies.values() for answer in answers), "a message got no reply"

        with Session(engine) as session:
            inbound = session.scalar(select(func.count()).select_from(SmsMessage).where(
                SmsMessage.direction == SmsDirection.inbound))
            readings = session.scalar(select(func.count()).select_from(Reading))
            distinct = session.scalar(select(func.count(func.distinct(Reading.external_id))))
            callbacks = session.execute(select(Callback.patient_id, func.count()).group_by(Callback.patient_id)).all()
        assert inbound == len(messages)
        assert readings == PATIENTS * READINGS_EACH == distinct
        assert len(callbacks) == PATIENTS and all(n == 1 for _, n in callbacks)  # one low-glucose callback each
        with Session(engine) as session:
            per_patient = session.execute(select(Reading.patient_id, func.count()).group_by(Reading.patient_id)).all()
        assert sorted(n for _, n in per_patient) == [READINGS_EACH] * PATIENTS

        def complaints_done() -> bool:
            with Session(engine) as session:
                return session.scalar(select(func.count()).select_from(FeedbackItem)) == COMPLAINTS

        assert wait_for(complaints_done, timeout=120), procs.log_tail()
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(FeedbackItem)) == COMPLAINTS  # and no more


FIRST_READINGS = 16  # more than the web process's handler threads (6 on a 2-core machine) and its pool


def test_concurrent_first_readings_of_a_clinic_without_rules_all_land(_postgres_url, cluster_engine, tmp_path):
    engine = cluster_engine
    """A clinic made without its rules (seeded at creation by the CLI and demo, not by every door) gets its
    first readings all at once: every one is stored and answered, the defaults are seeded exactly once, and
    the urgent ones open their callbacks. This once hung the web process for good (docs/benchmarks.md)."""
    flush_redis(REDIS_URL)
    with Session(engine, expire_on_commit=False) as session:
        clinic = make_clinic(session)
        patients = [make_patient(session, clinic) for _ in range(FIRST_READINGS)]
        token = make_token(session, make_staff(session, clinic))
        session.commit()
    taken = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 600))

    with cluster(_postgres_url, REDIS_URL, tmp_path) as procs:
        web = procs.start_web()
        start = threading.Barrier(FIRST_READINGS)

        def send(n: int) -> int:
            body = {"patient_id": patients[n].id, "kind": "glucose", "unit": "mmol/L", "context": "random",
                    "value": 17.5 if n % 2 else 6.5, "taken_at": taken}
            with httpx.Client(timeout=60) as client:
                start.wait()
                return client.post(web.base_url + "/api/v1/readings", json=body,
                                   headers={"Authorization": f"Bearer {token}"}).status_code

        with concurrent.futures.ThreadPoolExecutor(max_workers=FIRST_READINGS) as pool:
            statuses = list(pool.map(send, range(FIRST_READINGS)))
        assert statuses == [201] * FIRST_READINGS, procs.log_tail()

    with Session(engine) as session:
        seeded = session.scalar(select(func.count()).select_from(ClinicRule).where(ClinicRule.clinic_id == clinic.id))
        assert seeded == len(default_rules("cn"))
        assert session.scalar(select(func.count()).select_from(Reading)) == FIRST_READINGS
        assert session.scalar(select(func.count()).select_from(Callback)) == FIRST_READINGS // 2
