"""What one reading costs the database, and that the shortcuts keep it correct: a clinic's rules are cached
per process only while unchanged (a saved or switched rule takes effect on the next reading), and each kind's
window is read once and cut per rule to exactly what that rule's own query would return (docs/benchmarks.md)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select

from clinic.models import Clinic
from followup.enums import GlucoseContext, ReadingKind
from followup.models import Callback, ClinicRule
from followup.rule_admin import save_rule_version, set_rule_active
from followup.rulebook import ensure_default_rules
from followup.rules import WindowSpec, default_rules
from followup.service import facts_for_windows, facts_in_window
from tests.factories import make_clinic, make_patient, make_staff, make_token, send_sms, twiml_text
from tests.followup.quality_builders import add_reading


@contextmanager
def counted(engine):
    statements: list[str] = []

    def hook(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", hook)


def _setup(session):
    clinic = make_clinic(session)
    ensure_default_rules(session=session, clinic=clinic)
    token = make_token(session, make_staff(session, clinic))
    session.commit()
    return clinic, {"Authorization": f"Bearer {token}"}


def _glucose(client, headers, patient, value, context="random"):
    taken = (datetime.now(UTC) - timedelta(minutes=30)).replace(microsecond=0).isoformat()
    response = client.post("/api/v1/readings", headers=headers, json={
        "patient_id": patient.id, "kind": "glucose", "value": value, "unit": "mmol/L", "context": context,
        "taken_at": taken})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_reading_reads_its_kinds_history_once_and_its_rules_by_one_probe(client, session, engine):
    clinic, headers = _setup(session)
    patient = make_patient(session, clinic)
    session.commit()
    _glucose(client, headers, patient, 6.1, "fasting")  # loads the clinic's rules into this process
    with counted(engine) as statements:
        _glucose(client, headers, patient, 6.3, "fasting")
    from_reading = [s for s in statements if s.startswith("SELECT") and " FROM reading " in s]
    from_rules = [s for s in statements if " FROM clinic_rule " in s]
    assert len(from_reading) == 1, "three glucose rules, one window query"
    assert len(from_rules) == 1 and "LIMIT" in from_rules[0], "unchanged rules are not re-read"
    assert not [s for s in statements if s.startswith("INSERT INTO clinic_rule")]


def _shapes(statements):
    """Each statement as its verb and table, e.g. "INSERT reading", "SELECT api_token" (transaction control left
    out: SQLite's explicit BEGIN, savepoints)."""
    shapes = []
    for s in statements:
        words = s.split()
        if words[0] in ("BEGIN", "SAVEPOINT", "RELEASE"):
            continue
        if words[0] == "SELECT":
            shapes.append("SELECT " + words[words.index("FROM") + 1])
        elif words[0] in ("INSERT", "UPDATE"):
            shapes.append(f"{words[0]} {words[2] if words[0] == 'INSERT' else words[1]}")
        else:
            shapes.append(words[0])
    return shapes


def test_an_api_reading_that_raises_nothing_costs_six_statements(client, session, engine):
    clinic, headers = _setup(session)
    patient = make_patient(session, clinic)
    session.commit()
    _glucose(client, headers, patient, 6.1, "fasting")
    with counted(engine) as statements:
        _glucose(client, headers, patient, 6.3, "fasting")
    assert _shapes(statements) == [
        "SELECT api_token",  # token, user and clinic time zone in one row
        "SELECT patient",  # the patient and their clinic in one row
        "INSERT reading", "SELECT clinic_rule", "SELECT reading", "INSERT audit_entry"]


def test_an_sms_reading_that_raises_nothing_costs_ten_statements(client, session, engine, settings):
    clinic = make_clinic(session)
    ensure_default_rules(session=session, clinic=clinic)
    patient = make_patient(session, clinic, phone="+8613712349901")
    session.commit()
    send_sms(client, settings, from_=patient.phone, body="血糖6.1")
    with counted(engine) as statements:
        assert twiml_text(send_sms(client, settings, from_=patient.phone, body="血糖6.3")).startswith("已收到")
    assert sorted(_shapes(statements)) == sorted([
        "SELECT patient",  # no lookup for a redelivery first: the message's unique key catches those
        "INSERT sms_message", "UPDATE pending_confirmation", "INSERT reading", "SELECT clinic_rule",
        "SELECT reading", "INSERT audit_entry", "UPDATE sms_message"])


def test_a_rule_saved_after_readings_were_evaluated_fires_on_the_next_reading(client, session):
    clinic, headers = _setup(session)
    first, second = make_patient(session, clinic), make_patient(session, clinic)
    session.commit()
    assert _glucose(client, headers, first, 15.5)["alerts"] == []  # below CN-DM-01a's 16.7, rules now cached
    data = next(r for r in default_rules("cn") if r.code == "CN-DM-01a").to_dict()
    data["params"]["condition"]["bounds"][0].update({"mmol/L": "15.0", "mg/dL": "270"})
    save_rule_version(session=session, clinic=clinic, data=data, created_by=None, base_version=1)
    session.commit()
    (alert,) = _glucose(client, headers, second, 15.5)["alerts"]
    callback = session.scalars(select(Callback).where(Callback.patient_id == second.id)).one()
    assert (alert["rule_code"], callback.rule_code, callback.rule_version) == ("CN-DM-01a", "CN-DM-01a", 2)


def test_a_rule_switched_off_and_on_stops_and_resumes_firing_on_the_next_reading(client, session):
    clinic, headers = _setup(session)
    patients = [make_patient(session, clinic) for _ in range(3)]
    session.commit()
    assert [a["rule_code"] for a in _glucose(client, headers, patients[0], 17.2)["alerts"]] == ["CN-DM-01a"]
    set_rule_active(session=session, clinic=clinic, code="CN-DM-01a", active=False, created_by=None)
    session.commit()
    assert _glucose(client, headers, patients[1], 17.2)["alerts"] == []
    set_rule_active(session=session, clinic=clinic, code="CN-DM-01a", active=True, created_by=None)
    session.commit()
    assert [a["rule_code"] for a in _glucose(client, headers, patients[2], 17.2)["alerts"]] == ["CN-DM-01a"]
    versions = session.scalars(select(Callback.rule_version).order_by(Callback.id)).all()
    assert versions == [1, 3]


def test_each_rules_cut_of_the_kind_window_is_exactly_what_its_own_query_returns(session):
    clinic = make_clinic(session)
    patient, other = make_patient(session, clinic), make_patient(session, clinic)
    now = datetime.now(UTC).replace(microsecond=0)
    contexts = [GlucoseContext.fasting, GlucoseContext.random, GlucoseContext.after_meal_2h, None]
    for hour in range(0, 24 * 20, 7):
        context = contexts[hour % 4]
        add_reading(session, patient, now - timedelta(hours=hour), value="7.1", context=context)
        add_reading(session, other, now - timedelta(hours=hour), value="7.1")
        if hour % 3 == 0:
            add_reading(session, patient, now - timedelta(hours=hour, minutes=1), bp=(130, 85))
    voided = add_reading(session, patient, now - timedelta(hours=2), value="9.9")
    voided.voided_at = now
    add_reading(session, patient, now - timedelta(days=40), value="8.0", context=GlucoseContext.fasting)
    session.flush()
    glucose, bp, fasting = ReadingKind.glucose, ReadingKind.blood_pressure, (GlucoseContext.fasting,)
    specs = [
        WindowSpec(kind=glucose, contexts=None, since=now - timedelta(days=3), limit=None),
        WindowSpec(kind=glucose, contexts=fasting, since=now - timedelta(days=14), limit=3),
        WindowSpec(kind=glucose, contexts=None, since=now - timedelta(hours=72), limit=None),
        WindowSpec(kind=glucose, contexts=fasting, since=None, limit=2),  # cut: the window holds two
        WindowSpec(kind=glucose, contexts=fasting, since=None, limit=500),  # its own query: reaches further
        WindowSpec(kind=glucose, contexts=(GlucoseContext.after_meal_2h,), since=None, limit=1),  # not fetched
        WindowSpec(kind=glucose, contexts=None, since=None, limit=0),
        WindowSpec(kind=bp, contexts=None, since=now - timedelta(days=14), limit=None),
        WindowSpec(kind=bp, contexts=None, since=None, limit=4),
        WindowSpec(kind=ReadingKind.weight, contexts=None, since=now - timedelta(days=7), limit=None),
    ]
    batched = facts_for_windows(session=session, patient_id=patient.id, specs=specs)
    for spec, got in zip(specs, batched, strict=True):
        alone = facts_in_window(session=session, patient_id=patient.id, spec=spec)
        assert [f.id for f in got] == [f.id for f in alone], spec
    assert any(len(got) > 10 for got in batched) and any(len(got) == 2 for got in batched)


def test_clinics_made_by_the_cli_and_the_demo_start_with_their_profiles_rules(app, settings, session, monkeypatch):
    from click.testing import CliRunner

    from core.cli import main
    from core.settings import get_settings

    monkeypatch.setenv("CARELOOP_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    try:
        made = CliRunner().invoke(main, ["clinic", "create", "--code", "ny", "--name", "Riverside", "--profile", "us",
                                         "--timezone", "America/New_York", "--language", "en"], catch_exceptions=False)
        demo = CliRunner().invoke(main, ["demo", "--patients", "2"], catch_exceptions=False)
    finally:
        get_settings.cache_clear()
    assert made.exit_code == 0 and demo.exit_code == 0, made.output + demo.output
    stored = session.execute(select(Clinic.code, ClinicRule.code).join(ClinicRule, ClinicRule.clinic_id == Clinic.id)
                             .where(ClinicRule.version == 1)).all()
    for clinic, profile in (("ny", "us"), ("demo", "cn"), ("demo-us", "us")):
        assert sorted(code for k, code in stored if k == clinic) == sorted(r.code for r in default_rules(profile))
