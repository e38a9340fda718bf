"""The outbox on the embedded StubBroker: after-commit dispatch, idempotent delivery, retries, sweeper, events."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from sqlalchemy import select

from core import jobs
from core.db import utcnow
from core.events import on_event, record_event
from core.jobs import enqueue, outbox_actor, sweep_outbox
from core.messaging import queue_sms
from core.models import JobStatus, OutboxJob, SmsMessage, SmsStatus
from core.scheduler import InProcessScheduler

CALLS: list[dict] = []


@outbox_actor("tests.record_call")
def record_call(*, session, **payload):
    CALLS.append(payload)


@outbox_actor("tests.always_fails")
def always_fails(*, session, **payload):
    raise RuntimeError("boom")


@on_event("tests.something_happened", actor_name="tests.react_to_something")
def react_to_something(*, session, event_id, **payload):
    CALLS.append({"event_id": event_id, **payload})


def setup_function():
    CALLS.clear()


def test_a_queued_sms_is_sent_after_the_transaction_commits(session, run_jobs):
    queue_sms(session=session, phone="+8613700000001", body="hello", purpose="test")
    session.commit()
    run_jobs()
    message = session.scalars(select(SmsMessage)).one()
    session.refresh(message)
    assert message.status == SmsStatus.sent and message.provider_message_id.startswith("DEV")


def test_work_from_a_rolled_back_transaction_never_runs(session, run_jobs):
    enqueue(session=session, actor_name="tests.record_call", payload={"n": 1})
    session.rollback()
    run_jobs()
    assert CALLS == []
    assert session.scalars(select(OutboxJob)).all() == []


def test_a_redelivered_job_runs_once(session, run_jobs, broker):
    job = enqueue(session=session, actor_name="tests.record_call", payload={"n": 1})
    session.commit()
    broker.actors["tests.record_call"].send(job.id)  # the broker delivers the same job a second time
    run_jobs()
    assert CALLS == [{"n": 1}]
    session.refresh(job)
    assert job.status == JobStatus.done and job.attempts == 1


def test_dedupe_key_makes_scheduling_idempotent(session, run_jobs):
    first = enqueue(session=session, actor_name="tests.record_call", payload={"n": 1}, dedupe_key="k1")
    second = enqueue(session=session, actor_name="tests.record_call", payload={"n": 2}, dedupe_key="k1")
    session.commit()
    run_jobs()
    assert first.id == second.id and CALLS == [{"n": 1}]


def test_a_failing_job_is_retried_then_marked_failed(session, run_jobs, broker, monkeypatch):
    monkeypatch.setattr(jobs, "MAX_ATTEMPTS", 2)
    broker.actors["tests.always_fails"].options["min_backoff"] = 10
    broker.actors["tests.always_fails"].options["max_backoff"] = 20
    job = enqueue(session=session, actor_name="tests.always_fails", payload={})
    session.commit()
    run_jobs(fail_fast=False)
    session.refresh(job)
    assert job.status == JobStatus.failed and job.attempts == 2
    assert "boom" in job.last_error


def test_sweeper_sends_jobs_that_never_reached_the_broker(session, engine, run_jobs, monkeypatch):
    monkeypatch.setattr(jobs.runtime, "broker", None)  # as if the broker were down at commit time
    job = enqueue(session=session, actor_name="tests.record_call", payload={"n": 7})
    session.commit()
    session.refresh(job)
    assert job.enqueued_at is None
    monkeypatch.undo()
    assert sweep_outbox(engine=engine) == 1
    run_jobs()
    assert CALLS == [{"n": 7}]


def test_sweeper_takes_over_a_job_whose_worker_died(session, engine, run_jobs):
    job = enqueue(session=session, actor_name="tests.record_call", payload={"n": 3})
    job.status = JobStatus.running  # a worker claimed it, then vanished
    job.locked_until = utcnow() - timedelta(seconds=1)
    job.enqueued_at = utcnow() - timedelta(minutes=10)
    session.info.pop("careloop_outbox_pending", None)
    session.commit()
    assert sweep_outbox(engine=engine) == 1
    run_jobs()
    assert CALLS == [{"n": 3}]


def test_sweeper_leaves_future_and_finished_jobs_alone(session, engine):
    enqueue(session=session, actor_name="tests.record_call", payload={}, run_after=utcnow() + timedelta(hours=1))
    done = enqueue(session=session, actor_name="tests.record_call", payload={})
    done.status = JobStatus.done
    session.info.pop("careloop_outbox_pending", None)
    session.commit()
    assert sweep_outbox(engine=engine) == 0


def test_an_event_reaches_its_subscriber(session, run_jobs):
    record_event(session=session, name="tests.something_happened", payload={"patient_id": 5})
    session.commit()
    run_jobs()
    assert len(CALLS) == 1 and CALLS[0]["patient_id"] == 5


def test_an_event_without_subscribers_is_only_recorded(session, run_jobs):
    record_event(session=session, name="tests.nobody_listens", payload={})
    session.commit()
    assert session.scalars(select(OutboxJob)).all() == []


def test_in_process_scheduler_fires_the_sweep_every_minute(app, broker):
    fired = InProcessScheduler(broker).fire(pendulum.datetime(2026, 11, 23, 9, 0, tz="Asia/Shanghai"))
    assert "core.sweep_outbox" in fired


def test_identical_texts_to_one_number_are_throttled(session, run_jobs):
    first = queue_sms(session=session, phone="+8613700000001", body="same", purpose="test")
    second = queue_sms(session=session, phone="+8613700000001", body="same", purpose="test")
    session.commit()
    assert first.status == SmsStatus.queued and second.status == SmsStatus.suppressed
