"""Shared fixtures: every database test runs on SQLite and on PostgreSQL, schema built by the migrations.

PostgreSQL comes from CARELOOP_TEST_DATABASE_URL (default: the local server). When it cannot be reached
the PostgreSQL half is skipped locally but fails under CI, which must always run it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from litestar.testing import TestClient
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from core import jobs
from core.app import create_app
from core.db import dispose_engines, get_engine, make_engine
from core.migrate import upgrade
from core.settings import Settings

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/careloop_test"
MUST_RUN_SERVICES = os.environ.get("CI") == "true" or os.environ.get("CARELOOP_REQUIRE_SERVICES") == "1"


def _services_missing(what: str, exc: Exception) -> None:
    message = f"{what} unreachable: {exc}"
    if MUST_RUN_SERVICES:
        pytest.fail(message + " (CI must run this half of the suite)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    settings = Settings(database_url=f"sqlite:///{path}")
    upgrade(settings)
    dispose_engines()
    return path


@pytest.fixture(scope="session")
def _postgres_url() -> str:
    url = os.environ.get("CARELOOP_TEST_DATABASE_URL", PG_DEFAULT)
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    except Exception as exc:
        _services_missing("PostgreSQL", exc)
    finally:
        admin.dispose()
    upgrade(Settings(database_url=url))
    dispose_engines()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "careloop.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("_postgres_url")
        _truncate_all(url)
        yield url
    dispose_engines()


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    try:
        names = [n for n in inspect(engine).get_table_names() if n != "alembic_version"]
        with engine.begin() as connection:
            connection.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url, data_dir=tmp_path / "data", secret_key="test-secret-key",
        public_url="http://testserver", broker_url="", default_language="en", timezone="Asia/Shanghai",
        job_lease_seconds=2, _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def broker() -> StubBroker:
    return StubBroker()


@pytest.fixture
def app(settings: Settings, broker: StubBroker) -> Any:
    return create_app(settings, broker=broker, start_workers=False)


@pytest.fixture
def engine(app: Any, settings: Settings) -> Any:
    return get_engine(settings)


@pytest.fixture
def session(engine: Any, settings: Settings) -> Iterator[Session]:
    """A session for arranging and checking data; tests commit what the app must see. On SQLite it reads
    through its own engine in pysqlite's default mode, so each query sees the app's latest commit."""
    bind = make_engine(settings, sqlite_transactions=False) if settings.is_sqlite else engine
    with Session(bind, expire_on_commit=False) as db_session:
        yield db_session
    if bind is not engine:
        bind.dispose()


@pytest.fixture
def client(app: Any) -> Iterator[TestClient[Any]]:
    with TestClient(app=app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def run_jobs(broker: StubBroker, app: Any) -> Any:
    """Process every queued job (and the jobs they queue) on the stub broker, then return."""

    def run(fail_fast: bool = True) -> None:
        drain_jobs(broker, fail_fast=fail_fast)

    return run


def drain_jobs(broker: StubBroker, *, fail_fast: bool = True, timeout_ms: int = 30_000) -> None:
    """Run a worker on the stub broker until every queue is empty (jobs queued by jobs included)."""
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        for queue_name in list(broker.queues):
            broker.join(queue_name, fail_fast=fail_fast, timeout=timeout_ms)
        worker.join()
    finally:
        worker.stop()


@pytest.fixture(autouse=True)
def _reset_jobs_runtime() -> Iterator[None]:
    yield
    jobs.runtime.broker = None
    jobs.runtime.settings = None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say plainly how many PostgreSQL and Redis tests ran, so a CI log shows they were not skipped."""
    counts: dict[str, dict[str, int]] = {"PostgreSQL": {}, "Redis": {}}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            when = getattr(report, "when", "call")
            if when not in ("call", "setup") or (outcome == "passed" and when != "call"):
                continue
            nodeid = getattr(report, "nodeid", "")
            keywords = getattr(report, "keywords", {}) or {}
            if "[postgresql" in nodeid or "postgresql]" in nodeid:
                counts["PostgreSQL"][outcome] = counts["PostgreSQL"].get(outcome, 0) + 1
            if "redis" in keywords:
                counts["Redis"][outcome] = counts["Redis"].get(outcome, 0) + 1
    for name, by_outcome in counts.items():
        summary = ", ".join(f"{n} {o}" for o, n in sorted(by_outcome.items())) or "none ran"
        terminalreporter.write_line(f"{name} tests: {summary}")
