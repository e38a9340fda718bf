"""Transactions behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from clinic.models import Clinic
from tests.factories import make_clinic


def test_rollback_undoes_work_done_inside_a_savepoint(engine, session):
    with Session(engine) as app_session:  # the app's engine, as requests and jobs use it
        with app_session.begin_nested():
            make_clinic(app_session, code="sp1")
        app_session.rollback()
    assert session.scalars(select(Clinic).where(Clinic.code == "sp1")).all() == []


def test_timestamps_come_back_timezone_aware(session):
    clinic = make_clinic(session)
    session.commit()
    session.expire_all()
    assert session.get(Clinic, clinic.id).created_at.tzinfo is not None
