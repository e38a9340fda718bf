"""The outbox on a real Redis broker with real dramatiq workers, including one killed mid-job.

These run against PostgreSQL (the production pairing); CI must run them, so an unreachable Redis or
PostgreSQL fails the run there instead of skipping.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pytest
import redis
from sqlalchemy import select

from core import jobs
from core.db import dispose_engines, get_engine, unit_of_work
from core.jobs import sweep_outbox
from core.messaging import queue_sms, set_gateway
from core.models import JobStatus, OutboxJob, SmsMessage, SmsStatus
from core.settings import REPO_ROOT, Settings
from core.sms_gateways import TwilioGateway
from tests.conftest import _services_missing, _truncate_all
from tests.twilio_standin import TwilioStandIn

pytestmark = pytest.mark.redis
REDIS_URL = os.environ.get("CARELOOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url() -> str:
    try:
        client = redis.Redis.from_url(REDIS_URL)
        client.ping()
        client.flushdb()
    except Exception as exc:
        _services_missing("Redis", exc)
    return REDIS_URL


@pytest.fixture
def pg_settings(_postgres_url: str, redis_url: str, tmp_path: Path) -> Iterator[Settings]:
    _truncate_all(_postgres_url)
    yield Settings(database_url=_postgres_url, broker_url=redis_url, data_dir=tmp_path, secret_key="t",
                   public_url="http://testserver.local", job_lease_seconds=2, _env_file=None)  # type: ignore[call-arg]
    dispose_engines()


def _wait_for(predicate, timeout: float = 30.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def _message(engine) -> SmsMessage:
    with unit_of_work(engine) as session:
        return session.scalars(select(SmsMessage)).one()


def _job(engine) -> OutboxJob:
    with unit_of_work(engine) as session:
        return session.scalars(select(OutboxJob).where(OutboxJob.actor_name == "core.send_sms")).one()


def test_job_written_while_the_broker_is_down_is_delivered_when_it_is_back(pg_settings):
    from core.app import import_tasks

    import_tasks()
    set_gateway(_development())
    down = pg_settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    jobs.configure(down)
    engine = get_engine(pg_settings)
    with unit_of_work(engine) as session:
        queue_sms(session=session, phone="+8613700000001", body="kept safe", purpose="test")
    assert _job(engine).enqueued_at is None  # the broker refused it; the row waits

    broker = jobs.configure(pg_settings)  # Redis is back
    assert sweep_outbox(engine=engine) == 1
    worker = dramatiq.Worker(broker, worker_threads=2)
    worker.start()
    try:
        assert _wait_for(lambda: _message(engine).status == SmsStatus.sent)
    finally:
        worker.stop()
    assert _job(engine).status == JobStatus.done


def _development():
    from core.sms_gateways import DevelopmentGateway

    return DevelopmentGateway()


def _start_worker(settings: Settings, standin: TwilioStandIn) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CARELOOP_DATABASE_URL": settings.database_url, "CARELOOP_BROKER_URL": settings.broker_url,
        "CARELOOP_SECRET_KEY": "t", "CARELOOP_JOB_LEASE_SECONDS": "2",
        "CARELOOP_TWILIO_ACCOUNT_SID": standin.account_sid, "CARELOOP_TWILIO_AUTH_TOKEN": standin.auth_token,
        "CARELOOP_TWILIO_FROM": "+15005550006", "CARELOOP_TWILIO_API_BASE_URL": standin.base_url,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "core.worker", "--processes", "1", "--threads", "1"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_a_worker_killed_mid_job_does_not_lose_the_job(pg_settings):
    from core.app import import_tasks

    import_tasks()
    with TwilioStandIn() as standin:
        standin.hang_next(to="+8613700000001", seconds=60)
        set_gateway(TwilioGateway(standin.account_sid, standin.auth_token, "+15005550006",
                                  api_base_url=standin.base_url))
        jobs.configure(pg_settings)
        engine = get_engine(pg_settings)
        first = _start_worker(pg_settings, standin)
        try:
            with unit_of_work(engine) as session:
                queue_sms(session=session, phone="+8613700000001", body="must arrive", purpose="test")
            assert _wait_for(lambda: len(standin.requests) >= 1, timeout=60), "the worker never picked the job up"
            assert _job(engine).status == JobStatus.running
        finally:
            _kill(first)  # kill -9 while the send is in flight

        second = _start_worker(pg_settings, standin)
        try:
            time.sleep(pg_settings.job_lease_seconds + 0.5)  # the dead worker's lease runs out
            assert sweep_outbox(engine=engine) == 1
            assert _wait_for(lambda: _message(engine).status == SmsStatus.sent, timeout=60)
        finally:
            _kill(second)
    job = _job(engine)
    assert job.status == JobStatus.done and job.attempts == 2
    assert _message(engine).provider_message_id.startswith("SM")
