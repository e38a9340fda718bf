"""Pages show times in the signed-in user's clinic time zone (a patient's own when set), not the server's."""

from __future__ import annotations

from datetime import UTC, datetime

from core.models import AuditAction, AuditEntry
from tests.factories import login_staff, make_clinic, make_staff

AT = datetime(2026, 11, 20, 15, 7, tzinfo=UTC)  # 23:07 in Shanghai, 10:07 in New York


def _audit_row(session, clinic):
    session.add(AuditEntry(at=AT, actor_kind="system", clinic_id=clinic.id, action=AuditAction.view,
                           object_type="patient", object_id="1"))


def test_staff_of_a_new_york_clinic_read_times_in_new_york(session, client):
    clinic = make_clinic(session, timezone="America/New_York", language="en")
    make_staff(session, clinic, role="admin", username="ny-admin")
    _audit_row(session, clinic)
    session.commit()

    login_staff(client, "ny-admin")
    page = client.get("/admin/audit").text
    assert "10:07" in page and "23:07" not in page


def test_staff_of_a_shanghai_clinic_read_times_in_shanghai(session, client):
    clinic = make_clinic(session, timezone="Asia/Shanghai")
    make_staff(session, clinic, role="admin", username="sh-admin")
    _audit_row(session, clinic)
    session.commit()

    login_staff(client, "sh-admin")
    page = client.get("/admin/audit").text
    assert "23:07" in page and "10:07" not in page
