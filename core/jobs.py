"""Background work: the dramatiq broker, outbox-backed actors, after-commit dispatch and the sweeper.

Actors are declared as specs and bound to whichever broker the process sets up (Redis, RabbitMQ or the
embedded StubBroker), so tests and the embedded default can swap brokers without re-importing tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from periodiq import CronSpec, PeriodiqMiddleware, cron
from sqlalchemy import and_, event, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.db import get_engine, unit_of_work, utcnow
from core.models import JobStatus, OutboxJob
from core.settings import Settings

log = logging.getLogger(__name__)

REDISPATCH_AFTER = timedelta(minutes=2)
MAX_ATTEMPTS = 8


@dataclass
class ActorSpec:
    name: str
    fn: Callable[..., Any]
    queue_name: str = "default"
    options: dict[str, Any] = field(default_factory=dict)


_specs: dict[str, ActorSpec] = {}
_outbox_handlers: dict[str, Callable[..., Any]] = {}


@dataclass
class Runtime:
    """What actors need at run time; set once per process by the app, the worker or a test."""

    settings: Settings | None = None
    broker: dramatiq.Broker | None = None

    @property
    def engine(self) -> Engine:
        if self.settings is None:
            raise RuntimeError("jobs runtime is not configured")
        return get_engine(self.settings)


runtime = Runtime()


def _register(spec: ActorSpec) -> None:
    if spec.name in _specs and _specs[spec.name].fn is not spec.fn:
        raise ValueError(f"actor {spec.name!r} declared twice")
    _specs[spec.name] = spec
    if runtime.broker is not None and spec.name not in runtime.broker.actors:
        _bind(spec, runtime.broker)


def outbox_actor(name: str, *, queue_name: str = "default") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare `fn(*, session, **payload)` as the handler of outbox jobs for actor `name`.

    The actor receives only the job id; it claims the job, runs the handler and marks the job done in the
    handler's own transaction, so a redelivered message finds the job done and does nothing.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        _outbox_handlers[name] = fn

        def run(job_id: int) -> None:
            run_outbox_job(job_id)

        run.__name__ = run.__qualname__ = name.replace(".", "_")
        _register(ActorSpec(name, run, queue_name, {"max_retries": MAX_ATTEMPTS - 1, "min_backoff": 2000}))
        return fn

    return decorate


def periodic_actor(name: str, schedule: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Declare a scheduled sweep; `schedule` is a cron line read by periodiq and the in-process scheduler."""

    def decorate(fn: Callable[[], Any]) -> Callable[[], Any]:
        _register(ActorSpec(name, fn, "default", {"periodic": cron(schedule), "max_retries": 0}))
        return fn

    return decorate


def _bind(spec: ActorSpec, broker: dramatiq.Broker) -> dramatiq.Actor[..., Any]:
    return dramatiq.Actor(
        spec.fn, broker=broker, actor_name=spec.name, queue_name=spec.queue_name, priority=0,
        options=dict(spec.options),
    )


def make_broker(settings: Settings) -> dramatiq.Broker:
    url = settings.broker_url
    broker: dramatiq.Broker
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=url)
    elif url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url)
    elif not url:
        broker = StubBroker()
    else:
        raise ValueError(f"CARELOOP_BROKER_URL must start with redis:// or amqp://, got {url!r}")
    broker.add_middleware(PeriodiqMiddleware(skip_delay=90))
    return broker


def configure(settings: Settings, broker: dramatiq.Broker | None = None) -> dramatiq.Broker:
    """Make `broker` (or one built from settings) the process broker and bind every declared actor to it."""
    broker = broker or make_broker(settings)
    dramatiq.set_broker(broker)
    runtime.settings = settings
    runtime.broker = broker
    for spec in _specs.values():
        if spec.name not in broker.actors:
            _bind(spec, broker)
    return broker


def periodic_actors() -> list[tuple[str, CronSpec]]:
    return [(s.name, s.options["periodic"]) for s in _specs.values() if "periodic" in s.options]


# --- the outbox -----------------------------------------------------------------------------------------

_PENDING_KEY = "careloop_outbox_pending"


def enqueue(
    *, session: Session, actor_name: str, payload: dict[str, Any] | None = None,
    run_after: datetime | None = None, dedupe_key: str | None = None,
) -> OutboxJob:
    """Write a job in the caller's transaction; it is sent to the broker only once that commits."""
    if actor_name not in _outbox_handlers:
        raise ValueError(f"no outbox actor named {actor_name!r}")
    if dedupe_key is not None:
        existing = session.scalars(select(OutboxJob).where(OutboxJob.dedupe_key == dedupe_key)).first()
        if existing is not None:
            return existing
    job = OutboxJob(actor_name=actor_name, payload=payload or {}, dedupe_key=dedupe_key,
                    run_after=run_after or utcnow())
    session.add(job)
    session.flush()
    session.info.setdefault(_PENDING_KEY, []).append((job.id, actor_name, job.run_after))
    return job


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released: the jobs are not committed until the outer transaction is
    pending = session.info.pop(_PENDING_KEY, None)
    if pending:
        dispatch(pending, engine=session.get_bind())


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    if session.in_nested_transaction():
        return  # only a savepoint rolled back; jobs queued before it still commit with the outer transaction
    session.info.pop(_PENDING_KEY, None)


def dispatch(jobs: list[tuple[int, str, datetime]], *, engine: Any) -> int:
    """Hand committed jobs to the broker; anything that fails to send waits for the sweeper."""
    broker = runtime.broker
    if broker is None:
        return 0
    sent: list[int] = []
    now = utcnow()
    for job_id, actor_name, run_after in jobs:
        actor = broker.actors.get(actor_name)
        if actor is None:
            log.error("outbox job %s names unknown actor %s", job_id, actor_name)
            continue
        delay_ms = max(0, int((run_after - now).total_seconds() * 1000))
        try:
            actor.send_with_options(args=(job_id,), delay=delay_ms or None)
        except Exception:  # broker unreachable: the row stays pending and the sweeper re-sends it
            log.warning("could not enqueue outbox job %s; the sweeper will retry", job_id, exc_info=True)
            continue
        sent.append(job_id)
    if sent:
        try:
            with engine.begin() as connection:
                connection.execute(update(OutboxJob).where(OutboxJob.id.in_(sent)).values(enqueued_at=now))
        except Exception:
            log.warning("could not mark outbox jobs enqueued", exc_info=True)
    return len(sent)


def run_outbox_job(job_id: int) -> None:
    engine = runtime.engine
    now = utcnow()
    lease = timedelta(seconds=runtime.settings.job_lease_seconds if runtime.settings else 300)
    with unit_of_work(engine) as session:
        claimed = session.execute(
            update(OutboxJob)
            .where(OutboxJob.id == job_id)
            .where(or_(OutboxJob.status == JobStatus.pending,
                       and_(OutboxJob.status == JobStatus.running, OutboxJob.locked_until < now)))
            .values(status=JobStatus.running, locked_until=now + lease, attempts=OutboxJob.attempts + 1)
        ).rowcount
    if not claimed:
        return  # done already, failed for good, or another worker holds the lease
    try:
        with unit_of_work(engine) as session:
            job = session.get(OutboxJob, job_id)
            assert job is not None
            _outbox_handlers[job.actor_name](session=session, **job.payload)
            job.status = JobStatus.done
            job.finished_at = utcnow()
            job.locked_until = None
    except Exception as exc:
        with unit_of_work(engine) as session:
            job = session.get(OutboxJob, job_id)
            assert job is not None
            job.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            job.locked_until = None
            job.status = JobStatus.failed if job.attempts >= MAX_ATTEMPTS else JobStatus.pending
            gave_up = job.status == JobStatus.failed
        if gave_up:
            log.error("outbox job %s failed for good after %s attempts", job_id, MAX_ATTEMPTS)
            return
        raise  # dramatiq retries with backoff


def sweep_outbox(*, engine: Engine, limit: int = 500) -> int:
    """Re-send jobs that never reached the broker or whose worker died; safe to run anywhere, any time."""
    now = utcnow()
    stale = now - REDISPATCH_AFTER
    with Session(engine) as session:
        rows = session.execute(
            select(OutboxJob.id, OutboxJob.actor_name, OutboxJob.run_after)
            .where(OutboxJob.run_after <= now)
            .where(or_(
                and_(OutboxJob.status == JobStatus.pending,
                     or_(OutboxJob.enqueued_at.is_(None),
                         and_(OutboxJob.enqueued_at < stale, OutboxJob.run_after < stale))),
                and_(OutboxJob.status == JobStatus.running, OutboxJob.locked_until < now),
            ))
            .order_by(OutboxJob.id)
            .limit(limit)
        ).all()
    return dispatch([(r[0], r[1], r[2]) for r in rows], engine=engine)


@periodic_actor("core.sweep_outbox", "* * * * *")
def _sweep_outbox_every_minute() -> None:
    sweep_outbox(engine=runtime.engine)
