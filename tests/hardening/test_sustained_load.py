"""Sustained mixed traffic at a steady rate on loopback: readings by SMS webhook, the callback queue, survey
pages and answers. Every request is answered without error and accounted for in the database, and the
web process's memory stays flat.

The default run drives it for 30 seconds; `make soak` (pytest -m slow) drives it for 10 minutes.
CARELOOP_SOAK_SECONDS overrides the long run's length.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core import jobs
from core.messaging import set_gateway
from core.settings import Settings
from core.sms_gateways import DevelopmentGateway
from followup.models import Reading
from surveys.models import SurveyResponse
from tests.factories import PASSWORD, make_clinic, make_patient, make_staff
from tests.hardening.procs import REDIS_URL, cluster, flush_redis, webhook
from tests.surveys.survey_builders import GOOD, sent_invitation
from tests.twilio_standin import TwilioStandIn

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
RATE = 8.0  # requests started per second, whatever the answers' speed (an open loop, like real traffic)
# Of every 20 requests: 12 readings, 5 callback-queue views, 3 survey requests.
MIX = ["reading"] * 12 + ["queue"] * 5 + ["survey"] * 3


@dataclass
class Outcome:
    kind: str
    status: int
    error: str = ""


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _drive(engine: Engine, postgres_url: str, tmp_path: Path, seconds: float) -> None:
    from core.app import import_tasks

    flush_redis(REDIS_URL)
    import_tasks()
    set_gateway(DevelopmentGateway())  # for the invitations this process writes; workers use the stand-in
    jobs.configure(Settings(database_url=postgres_url, broker_url=REDIS_URL, secret_key="t",
                            _env_file=None))  # type: ignore[call-arg]
    surveys_planned = int(seconds * RATE * MIX.count("survey") / len(MIX)) + 5
    with Session(engine, expire_on_commit=False) as session:
        clinic = make_clinic(session)
        nurse = make_staff(session, clinic, role="nurse")
        patients = [make_patient(session, clinic) for _ in range(50)]
        tokens = [sent_invitation(session, clinic, patients[n % 50])[1] for n in range(surveys_planned)]
        session.commit()

    with TwilioStandIn() as standin, cluster(postgres_url, REDIS_URL, tmp_path, standin=standin) as procs:
        web = procs.start_web()
        procs.start_worker()
        base = web.base_url
        sequence = itertools.count()
        local = threading.local()
        answered: list[str] = []
        readings_sent: list[str] = []
        lock = threading.Lock()

        def client() -> httpx.Client:
            if not hasattr(local, "client"):
                local.client = httpx.Client(base_url=base, timeout=60)
                login = local.client.get("/login")
                assert login.status_code == 200
                signed_in = local.client.post("/login", data={
                    "username": nurse.username, "password": PASSWORD, "next": "/callbacks",
                    "_csrf_token": local.client.cookies.get("careloop_csrf", "")}, follow_redirects=False)
                assert signed_in.status_code in (302, 303), signed_in.text[:300]
            return local.client

        def reading() -> Outcome:
            n = next(sequence)
            patient = patients[n % len(patients)]
            params, headers = webhook(f"血压{110 + n % 30}/{70 + n % 15}", from_=patient.phone,
                                      auth_token=standin.auth_token)
            status = client().post("/sms/twilio", data=params, headers=headers).status_code
            if status == 200:
                with lock:
                    readings_sent.append(params["MessageSid"])
            return Outcome("reading", status)

        def queue() -> Outcome:
            response = client().get("/callbacks")
            ok = response.status_code == 200 and "/login" not in str(response.url)
            return Outcome("queue", response.status_code, "" if ok else "not the queue")

        survey_turn = itertools.count()
        phone_addresses = itertools.cycle(range(1000))

        def survey() -> Outcome:
            token = tokens[next(survey_turn) % len(tokens)]
            # A patient's phone: its own cookies and its own address (the survey page is limited per address).
            address = next(phone_addresses)
            phone = httpx.HTTPTransport(local_address=f"127.0.{address // 250}.{address % 250 + 2}")
            fresh = httpx.Client(base_url=base, timeout=60, transport=phone)
            try:
                page = fresh.get(f"/s/{token}")
                if page.status_code != 200:
                    return Outcome("survey", page.status_code, "page")
                with lock:
                    first = token not in answered
                    answered.append(token)
                if not first:
                    return Outcome("survey", page.status_code)
                sent = fresh.post(f"/s/{token}", data={**GOOD, "_csrf_token": fresh.cookies.get("careloop_csrf", "")},
                                  follow_redirects=False)
                return Outcome("survey", sent.status_code, "" if sent.status_code in (200, 303) else sent.text[:200])
            finally:
                fresh.close()

        actions: dict[str, Callable[[], Outcome]] = {"reading": reading, "queue": queue, "survey": survey}

        def run(kind: str) -> Outcome:
            try:
                return actions[kind]()
            except Exception as exc:  # counted, never lost
                return Outcome(kind, 0, f"{type(exc).__name__}: {exc}")

        rss: list[int] = []
        started = time.monotonic()
        futures = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
            for n in itertools.count():
                due = started + n / RATE
                if due - started >= seconds:
                    break
                time.sleep(max(0.0, due - time.monotonic()))
                futures.append(pool.submit(run, MIX[n % len(MIX)]))
                if n % int(RATE) == 0:
                    rss.append(_rss_kib(web.process.pid))
            outcomes = [f.result() for f in futures]

        errors = [o for o in outcomes if o.status not in (200, 303) or o.error]
        assert not errors, (Counter((o.kind, o.status, o.error[:80]) for o in errors), procs.log_tail())
        sent = Counter(o.kind for o in outcomes)
        assert len(outcomes) == len(futures) == sum(sent.values())
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(Reading)) == len(readings_sent) == sent["reading"]
            assert session.scalar(select(func.count()).select_from(SurveyResponse)) == len(set(answered))
        _assert_memory_flat(rss)


def _assert_memory_flat(samples: list[int]) -> None:
    """The median of the last third may not exceed the first third's (after a warm-up) by more than 15 % plus
    16 MiB: caches fill early, a leak keeps growing."""
    warm = samples[len(samples) // 6:]
    third = max(1, len(warm) // 3)
    early, late = statistics.median(warm[:third]), statistics.median(warm[-third:])
    assert late <= early * 1.15 + 16 * 1024, f"web RSS grew from {early} KiB to {late} KiB: {samples}"


@pytest.mark.timeout(300)
def test_thirty_seconds_of_mixed_traffic_answers_everything_and_loses_nothing(_postgres_url, cluster_engine, tmp_path):
    engine = cluster_engine
    _drive(engine, _postgres_url, tmp_path, seconds=30)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_ten_minutes_of_mixed_traffic_answers_everything_with_flat_memory(_postgres_url, cluster_engine, tmp_path):
    engine = cluster_engine
    _drive(engine, _postgres_url, tmp_path, seconds=float(os.environ.get("CARELOOP_SOAK_SECONDS", 600)))
