"""Catalogue metrics computed in SQL against hand-computed fixtures (SQLite and PostgreSQL), and manual series."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.db import utcnow
from core.models import AuditEntry
from core.security import Principal, Role
from feedback.models import FeedbackItem
from followup.dates import Granularity, Period, months_before, period_start, periods_between
from followup.models import Callback, Reading
from pdca.metrics import catalogue, get_metric, measure_series
from pdca.models import ProjectMeasure
from pdca.service import add_measure, save_manual_value
from tests.factories import make_clinic, make_patient, make_pdca_project, make_staff

TZ = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: int = 10) -> datetime:
    """A moment on a local day in the clinic's zone, as UTC."""
    return datetime.combine(day, time(hour), tzinfo=TZ).astimezone(UTC)


def last_two_months() -> list[Period]:
    current = period_start(utcnow().astimezone(TZ).date(), Granularity.month)
    return periods_between(months_before(current, 2), current - timedelta(days=1), Granularity.month)


def compute(session, clinic, code: str, periods, **options):
    metric = get_metric(code)
    assert metric is not None and metric.compute is not None, f"{code} is not wired"
    return metric.compute(session=session, clinic_id=clinic.id, tz=TZ, periods=periods, options=options)


def backdate(session, patient, day: date, **changes) -> None:
    patient.created_at = at(day)
    for name, value in changes.items():
        setattr(patient, name, value)
    session.add(patient)


def reading(session, patient, when: datetime, **changes) -> None:
    session.add(Reading(clinic_id=patient.clinic_id, patient_id=patient.id, kind="blood_pressure", systolic=150,
                        diastolic=95, unit_original="mmHg", taken_at=when, source="sms", entered_by_kind="patient",
                        **changes))


def test_every_catalogue_entry_declares_its_chart_unit_direction_and_definition():
    entries = catalogue()
    assert {"callbacks_closed_on_time", "time_to_first_attempt", "callbacks_reached", "reading_adherence",
            "bp_controlled", "glucose_controlled", "satisfaction_top_box", "nps", "complaint_rate",
            "complaints_resolved_on_time"} <= set(entries)
    for metric in entries.values():
        assert metric.chart in ("p", "i", "u") and metric.unit and metric.numerator and metric.denominator
        assert metric.direction.value in ("increase", "decrease")
        assert metric.available, f"{metric.code} is not wired to {metric.source}"
    assert entries["complaint_rate"].chart == "u" and entries["complaint_rate"].multiply == 1000
    assert entries["nps"].chart == "i"


def test_reading_adherence_counts_panel_patients_with_a_reading_in_each_local_month(session):
    clinic = make_clinic(session)
    jan, feb = periods_between(date(2026, 1, 1), date(2026, 2, 28), Granularity.month)
    a, b, c, d, e = (make_patient(session, clinic) for _ in range(5))
    backdate(session, a, date(2025, 12, 1))
    backdate(session, b, date(2025, 12, 1), has_hypertension=False)  # diabetes only: still in the panel
    backdate(session, c, date(2025, 12, 1), has_hypertension=False, has_diabetes=False)  # no programme
    backdate(session, d, date(2026, 2, 10))  # joins in February
    backdate(session, e, date(2025, 12, 1), active=False)
    session.flush()
    reading(session, a, at(date(2026, 1, 5)))
    reading(session, a, at(date(2026, 1, 20)))  # a second reading counts the patient once
    reading(session, b, datetime(2026, 1, 31, 16, 30, tzinfo=UTC))  # 00:30 on 1 February in Shanghai
    reading(session, b, at(date(2026, 1, 8)), voided_at=at(date(2026, 1, 9)))  # voided: not a reading
    reading(session, c, at(date(2026, 1, 6)))
    reading(session, e, at(date(2026, 1, 6)))
    reading(session, d, at(date(2026, 2, 15)))
    session.commit()
    cells = compute(session, clinic, "reading_adherence", [jan, feb])
    assert [(x.value, x.denominator) for x in cells] == [(1, 2), (2, 3)]


def test_reading_adherence_is_scoped_to_the_clinic(session):
    clinic, other = make_clinic(session), make_clinic(session)
    (week,) = periods_between(date(2026, 3, 2), date(2026, 3, 8), Granularity.week)
    stranger = make_patient(session, other)
    backdate(session, stranger, date(2026, 1, 1))
    reading(session, stranger, at(date(2026, 3, 3)))
    session.commit()
    assert compute(session, clinic, "reading_adherence", [week])[0].value is None


def complaint(session, clinic, received: datetime, category: str = "waiting_time", kind: str = "complaint",
              resolved: datetime | None = None) -> None:
    n = session.info.setdefault("n", 0) + 1
    session.info["n"] = n
    session.add(FeedbackItem(
        reference=f"F{clinic.id}-{n}", clinic_id=clinic.id, kind=kind, category=category, channel="phone",
        submitted_by_kind="staff", description="waited two hours", received_at=received,
        ack_due_at=received + timedelta(days=3), resolve_due_at=received + timedelta(days=5),
        resolved_at=resolved, status="resolved" if resolved else "received",
    ))


def test_waiting_complaints_per_1000_patients_per_month(session):
    clinic = make_clinic(session)
    m1, m2 = last_two_months()
    patients = [make_patient(session, clinic) for _ in range(5)]
    for p in patients[:4]:
        backdate(session, p, m1.start - timedelta(days=30))
    backdate(session, patients[4], m2.start + timedelta(days=3))  # registered in the second month
    complaint(session, clinic, at(m1.start + timedelta(days=2)))
    complaint(session, clinic, at(m1.start + timedelta(days=9)))
    complaint(session, clinic, at(m1.start + timedelta(days=4)), category="attitude")  # another category
    complaint(session, clinic, at(m1.start + timedelta(days=5)), kind="concern")  # a concern is not a complaint
    complaint(session, clinic, at(m2.start + timedelta(days=1)))
    session.commit()
    cells = compute(session, clinic, "complaint_rate", [m1, m2], category="waiting_time")
    assert [(x.value, x.denominator) for x in cells] == [(2, 4), (1, 5)]
    every = compute(session, clinic, "complaint_rate", [m1, m2], category="")
    assert [x.value for x in every] == [3, 1]

    project = make_pdca_project(session, clinic, make_staff(session, clinic, role="committee"),
                                source="catalogue", metric_code="complaint_rate", option_category="waiting_time",
                                baseline="500", target="100")
    measure = session.get(ProjectMeasure, project.aim_measure_id)
    series = measure_series(session=session, measure=measure, tz=TZ, today=utcnow().astimezone(TZ).date(),
                            since=m2.end)
    assert series.chart == "u" and [series.shown(i) for i in range(len(series))][-2:] == [500.0, 200.0]


def test_complaints_resolved_on_time_counts_items_whose_deadline_has_passed(session):
    clinic = make_clinic(session)
    m1, _ = last_two_months()
    start = at(m1.start + timedelta(days=1))
    complaint(session, clinic, start, resolved=start + timedelta(days=2))  # on time
    complaint(session, clinic, start, resolved=start + timedelta(days=9))  # late
    complaint(session, clinic, start)  # never resolved, deadline passed: late
    session.commit()
    (cell, _) = compute(session, clinic, "complaints_resolved_on_time", last_two_months())
    assert (cell.value, cell.denominator) == (1, 3)


def test_callbacks_closed_on_time_by_due_month(session):
    clinic = make_clinic(session)
    m1, m2 = last_two_months()
    patient = make_patient(session, clinic)
    due = at(m1.start + timedelta(days=3))
    for i, closed in enumerate((due - timedelta(hours=2), due - timedelta(hours=1), due + timedelta(hours=5))):
        session.add(Callback(clinic_id=clinic.id, patient_id=patient.id, rule_code=f"R{i}", severity="urgent",
                             status="closed", opened_at=due - timedelta(hours=4), due_at=due, closed_at=closed,
                             outcome="reached"))
    session.commit()
    cells = compute(session, clinic, "callbacks_closed_on_time", [m1, m2])
    assert (cells[0].value, cells[0].denominator) == (2, 3) and cells[1].value is None


@pytest.mark.parametrize("code", ["bp_controlled", "glucose_controlled", "time_to_first_attempt",
                                  "callbacks_reached", "satisfaction_top_box", "nps"])
def test_every_upstream_metric_answers_one_cell_per_period(session, code):
    clinic = make_clinic(session)
    session.commit()
    periods = last_two_months()
    cells = compute(session, clinic, code, periods)
    assert len(cells) == len(periods)


def principal_of(user) -> Principal:
    return Principal(kind="staff", user_id=user.id, role=Role(user.role), clinic_id=user.clinic_id,
                     name=user.display_name, language="en")


def test_a_manual_series_is_entered_corrected_and_audited(session):
    clinic = make_clinic(session)
    lead = make_staff(session, clinic, role="committee")
    project = make_pdca_project(session, clinic, lead)
    measure = session.get(ProjectMeasure, project.aim_measure_id)
    today = date(2026, 6, 15)
    save_manual_value(session=session, measure=measure, values={"period": "2026-03", "value": "12",
                                                                "denominator": "40"}, principal=principal_of(lead),
                      today=today)
    save_manual_value(session=session, measure=measure, values={"period": "2026-03-20", "value": "14",
                                                                "denominator": "40"}, principal=principal_of(lead),
                      today=today)
    save_manual_value(session=session, measure=measure, values={"period": "2026-04-01", "value": "20",
                                                                "denominator": "40"}, principal=principal_of(lead),
                      today=today)
    session.commit()
    series = measure_series(session=session, measure=measure, tz=TZ, today=today, since=date(2026, 6, 1))
    assert series.labels[:2] == ("2026-03", "2026-04")
    assert [series.shown(i) for i in range(2)] == [35.0, 50.0]  # 14 of 40 after the correction
    details = list(session.scalars(select(AuditEntry.detail).where(AuditEntry.object_type == "pdca_manual_value")))
    assert any("12.0→14.0" in d for d in details) and len(details) == 3


@pytest.mark.parametrize(("values", "field"), [
    ({"period": "2026-03", "value": "50", "denominator": "40"}, "value"),
    ({"period": "2026-03", "value": "5", "denominator": "0"}, "denominator"),
    ({"period": "2026-03", "value": "5"}, "denominator"),
    ({"period": "2026-09", "value": "5", "denominator": "40"}, "period"),
    ({"period": "", "value": "5", "denominator": "40"}, "period"),
    ({"period": "2026-03", "value": "lots", "denominator": "40"}, "value"),
])
def test_a_manual_value_is_checked_field_by_field(session, values, field):
    from core.errors import ValidationFailed

    clinic = make_clinic(session)
    lead = make_staff(session, clinic, role="committee")
    measure = session.get(ProjectMeasure, make_pdca_project(session, clinic, lead).aim_measure_id)
    with pytest.raises(ValidationFailed) as caught:
        save_manual_value(session=session, measure=measure, values=values, principal=principal_of(lead),
                          today=date(2026, 6, 15))
    assert field in {e.field for e in caught.value.field_errors}


def test_a_catalogue_measure_is_added_to_the_family_with_its_options(session):
    clinic = make_clinic(session)
    lead = make_staff(session, clinic, role="committee")
    project = make_pdca_project(session, clinic, lead)
    measure = add_measure(session=session, project=project, actor_id=lead.id, values={
        "role": "balancing", "source": "catalogue", "metric_code": "complaints_resolved_on_time",
        "option_category": "waiting_time", "frequency": "month"})
    assert (measure.chart, measure.direction, measure.options) == ("p", "increase", {"category": "waiting_time"})
    assert measure.numerator.startswith("Items received")


def test_a_monthly_only_metric_refuses_weekly(session):
    from core.errors import ValidationFailed

    clinic = make_clinic(session)
    lead = make_staff(session, clinic, role="committee")
    project = make_pdca_project(session, clinic, lead)
    with pytest.raises(ValidationFailed) as caught:
        add_measure(session=session, project=project, actor_id=lead.id, values={
            "role": "outcome", "source": "catalogue", "metric_code": "complaint_rate", "frequency": "week"})
    assert {e.field for e in caught.value.field_errors} == {"frequency"}
