"""The careloop command line against a real database."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from clinic.models import Clinic, Patient, StaffUser
from core.cli import main


def _run(settings, monkeypatch, *args):
    monkeypatch.setenv("CARELOOP_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(settings.data_dir))
    from core.settings import get_settings

    get_settings.cache_clear()
    try:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)
    finally:
        get_settings.cache_clear()


def test_clinic_user_and_token_commands_create_what_they_say(app, settings, session, monkeypatch, client):
    result = _run(settings, monkeypatch, "clinic", "create", "--code", "sy", "--name", "松园社区", "--timezone",
                  "Asia/Shanghai", "--profile", "cn", "--language", "zh-CN")
    assert result.exit_code == 0, result.output
    result = _run(settings, monkeypatch, "user", "create", "--clinic", "sy", "--username", "dr-zhou", "--password",
                  "a long password", "--role", "doctor")
    assert result.exit_code == 0, result.output
    result = _run(settings, monkeypatch, "token", "create", "--username", "dr-zhou")
    token = result.output.strip()
    assert token.startswith("cl_")
    assert client.get("/api/v1/patients", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert session.scalars(select(StaffUser.username)).all() == ["dr-zhou"]


def test_bad_clinic_arguments_fail_with_a_message(app, settings, monkeypatch):
    result = _run(settings, monkeypatch, "clinic", "create", "--code", "x", "--name", "X", "--timezone", "Mars/Base")
    assert result.exit_code != 0 and "time zone" in result.output


def test_demo_seeds_clinics_staff_and_patients_once(app, settings, session, monkeypatch):
    first = _run(settings, monkeypatch, "demo", "--patients", "8")
    assert first.exit_code == 0, first.output and "demo-doctor-2026" in first.output
    second = _run(settings, monkeypatch, "demo")
    assert "already present" in second.output
    assert sorted(session.scalars(select(Clinic.code)).all()) == ["demo", "demo-us"]
    assert len(session.scalars(select(Patient.id)).all()) == 8 + 6
