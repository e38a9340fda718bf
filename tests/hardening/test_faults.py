"""Faults with real processes on PostgreSQL and Redis: a worker killed mid-send, Redis stopped while readings
arrive, the web process killed mid-request, and every database connection cut under a running app."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from clinic.models import Patient
from core import jobs
from core.db import dispose_engines, unit_of_work
from core.jobs import sweep_outbox
from core.messaging import queue_sms, set_gateway
from core.models import JobStatus, OutboxJob, SmsDirection, SmsMessage, SmsStatus
from core.settings import Settings
from core.sms_gateways import TwilioGateway
from feedback.models import FeedbackItem
from followup.models import Callback, Reading
from tests.conftest import _truncate_all
from tests.factories import make_clinic, make_patient
from tests.hardening.procs import (
    REDIS_URL,
    TWILIO_FROM,
    RedisServer,
    cluster,
    flush_redis,
    kill_hard,
    wait_for,
    webhook,
)
from tests.twilio_standin import TwilioStandIn

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.timeout(600)]


@pytest.fixture
def pg_url(_postgres_url: str) -> Iterator[str]:
    _truncate_all(_postgres_url)
    yield _postgres_url
    dispose_engines()


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    made = create_engine(pg_url, pool_pre_ping=True)
    yield made
    made.dispose()


def _patients(engine: Engine, count: int, **clinic: Any) -> list[Patient]:
    with Session(engine, expire_on_commit=False) as session:
        where = make_clinic(session, **clinic)
        made = [make_patient(session, where) for _ in range(count)]
        session.commit()
        return made


def _count(engine: Engine, query: Any) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def _post(base: str, params: dict[str, str], headers: dict[str, str], timeout: float = 30) -> int:
    try:
        return httpx.post(base + "/sms/twilio", data=params, headers=headers, timeout=timeout).status_code
    except httpx.HTTPError:
        return 0  # no answer: the connection died with the process


def test_a_worker_killed_while_sending_an_sms_sends_it_exactly_once_after_restart(pg_url, engine, tmp_path):
    from core.app import import_tasks

    flush_redis(REDIS_URL)
    settings = Settings(database_url=pg_url, broker_url=REDIS_URL, secret_key="t", job_lease_seconds=2,
                        _env_file=None)  # type: ignore[call-arg]
    import_tasks()
    with TwilioStandIn() as standin, cluster(pg_url, REDIS_URL, tmp_path, standin=standin) as procs:
        standin.hang_next(to="+8613700000001", seconds=120)  # Twilio takes the message, the answer never comes
        set_gateway(TwilioGateway(standin.account_sid, standin.auth_token, TWILIO_FROM,
                                  api_base_url=standin.base_url))
        jobs.configure(settings)
        first = procs.start_worker(threads=1)
        with unit_of_work(engine) as session:
            queue_sms(session=session, phone="+8613700000001", body="Please measure your BP today", purpose="t")
        assert wait_for(lambda: len(standin.messages) == 1, timeout=120), procs.log_tail()
        kill_hard(first)  # kill -9 while the worker waits for Twilio's answer

        procs.start_worker(threads=1)
        time.sleep(settings.job_lease_seconds + 0.5)  # the dead worker's lease runs out
        assert sweep_outbox(engine=engine) == 1
        assert wait_for(lambda: _sms(engine).status == SmsStatus.sent, timeout=120), procs.log_tail()

        assert len(standin.messages) == 1  # found at Twilio, not sent again
        creates = [r for r in standin.requests if r.method == "POST"]
        assert len(creates) == 1
    message = _sms(engine)
    assert message.provider_message_id == standin.messages[0]["sid"] and message.attempts == 1
    with Session(engine) as session:
        job = session.scalars(select(OutboxJob)).one()
    assert job.status == JobStatus.done and job.attempts == 2


def test_a_worker_killed_before_twilio_got_the_sms_sends_it_after_restart(pg_url, engine, tmp_path):
    """The other side of the window: the row says 'sending' but Twilio never saw the request."""
    from core.app import import_tasks

    flush_redis(REDIS_URL)
    settings = Settings(database_url=pg_url, broker_url=REDIS_URL, secret_key="t", job_lease_seconds=2,
                        _env_file=None)  # type: ignore[call-arg]
    import_tasks()
    with TwilioStandIn() as standin, cluster(pg_url, REDIS_URL, tmp_path, standin=standin) as procs:
        jobs.configure(settings)
        with unit_of_work(engine) as session:
            queue_sms(session=session, phone="+8613700000002", body="Your follow-up is due", purpose="t")
        with Session(engine) as session:  # as a worker that died right after marking the row
            session.execute(text("UPDATE sms_message SET status = 'sending', attempts = 1"))
            session.execute(text("UPDATE outbox_job SET status = 'running', attempts = 1, "
                                 "locked_until = now() - interval '1 second'"))
            session.commit()
        procs.start_worker(threads=1)
        assert sweep_outbox(engine=engine) == 1
        assert wait_for(lambda: _sms(engine).status == SmsStatus.sent, timeout=120), procs.log_tail()
        assert len(standin.messages) == 1
    assert _sms(engine).provider_message_id == standin.messages[0]["sid"]


def _sms(engine: Engine) -> SmsMessage:
    with Session(engine) as session:
        return session.scalars(select(SmsMessage).where(SmsMessage.direction == SmsDirection.outbound)).one()


def test_readings_arriving_while_redis_is_down_are_kept_and_their_jobs_go_out_when_it_is_back(
        pg_url, engine, tmp_path):
    patients = _patients(engine, 5)
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    with TwilioStandIn() as standin, cluster(pg_url, redis_server.url, tmp_path, standin=standin) as procs:
        web = procs.start_web()
        procs.start_worker()
        try:
            redis_server.stop()
            assert httpx.get(web.base_url + "/readyz", timeout=10).status_code == 503
            statuses = []
            for patient in patients:
                for body in ("血压128/82", "血糖2.8", "投诉 电话一直打不通"):
                    params, headers = webhook(body, from_=patient.phone, auth_token=standin.auth_token)
                    statuses.append(_post(web.base_url, params, headers))
            assert statuses == [200] * 15, procs.log_tail()
            assert _count(engine, select(Reading)) == 10
            assert _count(engine, select(Callback).where(Callback.status == "open")) == 5  # one per low glucose
            waiting = select(OutboxJob).where(OutboxJob.status == JobStatus.pending,
                                              OutboxJob.enqueued_at.is_(None))
            assert _count(engine, waiting) == 5  # the complaints' jobs wait in the outbox
            assert _count(engine, select(FeedbackItem)) == 0

            redis_server.start()  # Redis is back (empty: whatever it held is gone)
            procs.start_scheduler()  # periodiq sends the outbox sweep on start-up and every minute
            assert wait_for(lambda: _count(engine, select(FeedbackItem)) == 5, timeout=180), procs.log_tail()
            assert wait_for(lambda: _count(engine, select(OutboxJob).where(
                OutboxJob.status != JobStatus.done)) == 0, timeout=60), procs.log_tail()
            assert httpx.get(web.base_url + "/readyz", timeout=10).status_code == 200
        finally:
            procs.close()
            redis_server.stop()
    assert _count(engine, select(Reading)) == 10 and _count(engine, select(FeedbackItem)) == 5


def test_killing_the_web_process_mid_request_leaves_no_half_written_reading(pg_url, engine, tmp_path):
    patients = _patients(engine, 20)
    flush_redis(REDIS_URL)
    with TwilioStandIn() as standin, cluster(pg_url, REDIS_URL, tmp_path, standin=standin) as procs:
        web = procs.start_web()
        body = "血压135/85 血糖6.1 心率72"  # one message, several readings, one transaction
        control_params, control_headers = webhook(body, from_=patients[0].phone, auth_token=standin.auth_token)
        assert _post(web.base_url, control_params, control_headers) == 200
        per_message = _count(engine, select(Reading))
        assert per_message >= 3

        sent = [webhook(body, from_=p.phone, auth_token=standin.auth_token) for p in patients[1:] for _ in range(4)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            futures = [pool.submit(_post, web.base_url, params, headers) for params, headers in sent]
            wait_for(lambda: sum(f.done() for f in futures) >= 5, timeout=60, interval=0.01)
            kill_hard(web.process)  # kill -9 with requests in flight
            answered = [f.result() for f in futures]
        assert 0 in answered, "the kill came too late to cut any request"

        _assert_every_message_whole(engine, per_message)
        stored = {row for row in _stored_sids(engine)}
        for (params, _), status in zip(sent, answered, strict=True):
            if status == 200:  # an answer means it was committed
                assert params["MessageSid"] in stored

        restarted = procs.start_web()  # Twilio retries what got no answer; nothing is doubled
        for params, headers in sent:
            assert _post(restarted.base_url, params, headers) == 200
    _assert_every_message_whole(engine, per_message)
    assert _count(engine, select(Reading)) == per_message * (1 + len(sent))


def _stored_sids(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(SmsMessage.provider_message_id).where(
            SmsMessage.direction == SmsDirection.inbound)))


def _assert_every_message_whole(engine: Engine, per_message: int) -> None:
    with Session(engine) as session:
        counts = session.execute(
            select(SmsMessage.id, func.count(Reading.id)).outerjoin(Reading, Reading.sms_message_id == SmsMessage.id)
            .where(SmsMessage.direction == SmsDirection.inbound).group_by(SmsMessage.id)).all()
        orphans = session.scalar(select(func.count()).select_from(Reading).where(Reading.sms_message_id.is_(None)))
    assert counts and all(n == per_message for _, n in counts), counts
    assert orphans == 0


def test_the_app_recovers_by_itself_when_the_database_drops_every_connection(pg_url, engine, tmp_path):
    patients = _patients(engine, 3)
    flush_redis(REDIS_URL)
    with TwilioStandIn() as standin, cluster(pg_url, REDIS_URL, tmp_path, standin=standin) as procs:
        web = procs.start_web()
        procs.start_worker()
        for patient in patients:  # warm every pool
            params, headers = webhook("血压128/82", from_=patient.phone, auth_token=standin.auth_token)
            assert _post(web.base_url, params, headers) == 200

        with engine.connect() as connection:  # what a database restart does to every client
            cut = connection.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
        assert cut >= 1

        for patient in patients:  # no restart of the app: the next requests simply work
            assert _post(web.base_url, *webhook("血糖2.8", from_=patient.phone, auth_token=standin.auth_token)) == 200
        assert httpx.get(web.base_url + "/readyz", timeout=10).status_code == 200
        assert _count(engine, select(Reading)) == 6
        assert _count(engine, select(Callback)) == 3

        # the worker's pool recovers too: a job written now is processed
        with Session(engine) as session:
            patient = session.get(Patient, patients[0].id)
            assert patient is not None
        params, headers = webhook("投诉 等了很久", from_=patients[0].phone, auth_token=standin.auth_token)
        assert _post(web.base_url, params, headers) == 200
        assert wait_for(lambda: _count(engine, select(FeedbackItem)) == 1, timeout=120), procs.log_tail()
