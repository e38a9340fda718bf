"""The backup and restore in docs/operations.md, done for real: pg_dump -Fc a populated database, pg_restore it
into a fresh one, check the schema is at the migrations' heads and matches the models, and keep using the
app on the restored copy (read a patient, post a reading: sequences continue, nothing collides)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from litestar.testing import TestClient
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

from core.app import create_app
from core.db import dispose_engines
from core.migrate import alembic_config, import_all_models, upgrade
from core.settings import Settings
from followup.models import Reading
from tests.conftest import _services_missing, _truncate_all
from tests.factories import login_staff, make_clinic, make_patient, make_staff, send_sms

pytestmark = pytest.mark.postgres


def _libpq_args(url: str) -> list[str]:
    parsed = make_url(url)
    return ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres"]


@pytest.fixture
def restored_url(_postgres_url: str) -> Iterator[str]:
    for tool in ("pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            _services_missing(tool, FileNotFoundError(f"{tool} is not installed (Debian postgresql-client)"))
    target = make_url(_postgres_url).set(database=make_url(_postgres_url).database + "_restore")
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    yield target.render_as_string(hide_password=False)
    dispose_engines()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def _settings(url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=url, data_dir=tmp_path / "data", secret_key="backup-test", broker_url="",
                    public_url="http://testserver", default_language="en", _env_file=None)  # type: ignore[call-arg]


def _row_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {name: connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
                    for name in inspect(engine).get_table_names()}
    finally:
        engine.dispose()


def _populate(url: str, tmp_path: Path) -> dict[str, Any]:
    settings = _settings(url, tmp_path)
    app = create_app(settings, start_workers=False)
    engine = create_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        clinic = make_clinic(session, language="en", profile="us", timezone="America/New_York")
        doctor = make_staff(session, clinic, role="doctor")
        patients = [make_patient(session, clinic, language="en") for _ in range(5)]
        session.commit()
    with TestClient(app=app, base_url="http://testserver") as client:
        for n, patient in enumerate(patients):
            assert send_sms(client, settings, from_=patient.phone, body=f"BP {120 + n}/{80 + n}").status_code == 200
        assert send_sms(client, settings, from_=patients[0].phone, body="glucose 2.8").status_code == 200
    engine.dispose()
    dispose_engines()
    return {"doctor": doctor.username, "patient": patients[0]}


def test_a_restored_dump_is_at_the_migration_heads_and_the_app_keeps_working_on_it(
        _postgres_url, restored_url, tmp_path):
    _truncate_all(_postgres_url)
    made = _populate(_postgres_url, tmp_path)
    before = _row_counts(_postgres_url)
    assert before["reading"] == 6 and before["callback"] >= 1

    dump = tmp_path / "careloop.dump"  # the commands docs/operations.md gives
    source, target = make_url(_postgres_url), make_url(restored_url)
    subprocess.run(["pg_dump", "-Fc", *_libpq_args(_postgres_url), "-d", source.database, "-f", str(dump)],
                   check=True, capture_output=True)
    subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", *_libpq_args(restored_url), "-d",
                    target.database, str(dump)], check=True, capture_output=True)
    assert _row_counts(restored_url) == before

    engine = create_engine(restored_url)
    try:
        import_all_models()
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            heads = set(ScriptDirectory.from_config(alembic_config(_settings(restored_url, tmp_path))).get_heads())
            assert set(context.get_current_heads()) == heads
            assert compare_metadata(context, SQLModel.metadata) == []
        upgrade(_settings(restored_url, tmp_path))  # what `careloop serve` does at start: nothing to apply

        settings = _settings(restored_url, tmp_path)
        with TestClient(app=create_app(settings, start_workers=False), base_url="http://testserver") as client:
            assert login_staff(client, made["doctor"]).status_code in (302, 303)
            page = client.get(f"/patients/{made['patient'].id}")
            assert page.status_code == 200 and made["patient"].name in page.text
            reply = send_sms(client, settings, from_=made["patient"].phone, body="BP 131/84")
            assert reply.status_code == 200
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(Reading)) == before["reading"] + 1
    finally:
        engine.dispose()
