"""A realistic synthetic population loaded in bulk (COPY and set-based SQL, never row-by-row ORM): clinics,
staff, patients, a year of readings (daily and weekly senders, high runs, silent patients), callbacks in every
state and complaints (bench/facts.py), and a year of satisfaction surveys (bench/surveys_data.py)."""

from __future__ import annotations

import json
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench.facts import load_facts
from bench.surveys_data import load_surveys
from core.db import dispose_engines
from core.migrate import upgrade
from core.security import hash_password, new_token, token_digest
from core.settings import Settings


@dataclass(frozen=True)
class Scale:
    name: str
    patients: int
    patients_per_clinic: int
    days: int = 365


SCALES = {"S": Scale("S", 5_000, 5_000), "M": Scale("M", 200_000, 5_000)}
BENCH_PASSWORD = "bench-password-2026"
# How the ORM stores GlucoseUnit.mmol_l in the patient table (the enum member name).
GLUCOSE_MMOL = "mmol_l"


@dataclass
class Population:
    clinics: int
    patients: int
    readings: int
    callbacks: int
    complaints: int
    seconds: float
    token: str
    first_patient_id: int
    phones: list[str]
    survey_invitations: int = 0  # defaults keep a population saved before surveys were generated loadable
    survey_responses: int = 0

    def counts(self) -> str:
        surveys = (f", {self.survey_invitations:,} survey invitations ({self.survey_responses:,} answered)"
                   if self.survey_invitations else "")
        return (f"{self.readings:,} readings, {self.callbacks:,} callbacks, {self.complaints:,} complaints"
                f"{surveys}")


def psycopg_url(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def recreate_database(database_url: str) -> None:
    url = make_url(database_url)
    admin = psycopg_url(database_url).rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{url.database}"')
    upgrade(Settings(database_url=database_url, _env_file=None))  # type: ignore[call-arg]
    dispose_engines()


def generate(database_url: str, scale: Scale, *, seed: int = 7) -> Population:
    started = time.perf_counter()
    rng = random.Random(seed)
    recreate_database(database_url)
    now = datetime.now(UTC).replace(microsecond=0)
    n_clinics = max(1, scale.patients // scale.patients_per_clinic)
    password_hash = hash_password(BENCH_PASSWORD)
    token = new_token()
    phones: list[str] = []
    with psycopg.connect(psycopg_url(database_url)) as conn:
        with conn.cursor() as cur:
            with cur.copy("COPY clinic (id, code, name, timezone, profile, language, emergency_number, sms_signature,"
                          " created_at) FROM STDIN") as copy:
                for c in range(1, n_clinics + 1):
                    copy.write_row((c, f"b{c}", f"基准社区卫生服务中心{c}", "Asia/Shanghai", "cn", "zh-CN", "120",
                                    f"基准中心{c}", now))
            doctors_per_clinic = 5
            with cur.copy("COPY staff_user (id, clinic_id, username, display_name, role, language, password_hash,"
                          " active, failed_logins, created_at) FROM STDIN") as copy:
                staff_id = 0
                for c in range(1, n_clinics + 1):
                    for role, count in (("admin", 1), ("doctor", doctors_per_clinic), ("nurse", 2), ("committee", 1)):
                        for i in range(count):
                            staff_id += 1
                            copy.write_row((staff_id, c, f"{role}{i}-b{c}", f"{role} {i}", role, "zh-CN",
                                            password_hash, True, 0, now))
            staff_per_clinic = 9
            cur.execute("INSERT INTO api_token (user_id, name, digest, prefix, created_at) VALUES (2, 'bench', %s, %s,"
                        " %s)", (token_digest(token), token[:10], now))
            with cur.copy("COPY patient (id, clinic_id, name, phone, language, has_hypertension, has_diabetes,"
                          " glucose_unit, family_doctor_id, sms_consent, sms_consent_version, sms_opted_out,"
                          " phone_invalid, active, created_at, updated_at) FROM STDIN") as copy:
                for p in range(1, scale.patients + 1):
                    clinic = (p - 1) // scale.patients_per_clinic + 1
                    doctor = (clinic - 1) * staff_per_clinic + 2 + (p % doctors_per_clinic)
                    phone = f"+86138{p:08d}"
                    if len(phones) < 2000:
                        phones.append(phone)
                    kind = rng.random()
                    copy.write_row((p, clinic, f"患者{p}", phone, "zh-CN", kind < 0.7, kind > 0.4, GLUCOSE_MMOL, doctor,
                                    True, "2026-11", False, False, True, now - timedelta(days=400), now))
            for table in ("clinic", "staff_user", "patient"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        doctors_of = {c: [(c - 1) * staff_per_clinic + 2 + i for i in range(doctors_per_clinic)]
                      for c in range(1, n_clinics + 1)}
        facts = load_facts(conn, patients=scale.patients, per_clinic=scale.patients_per_clinic, days=scale.days,
                           now=now, rng=rng, doctors_of=doctors_of)
        conn.commit()
        surveys = load_surveys(conn, database_url=database_url, now=now, days=scale.days, rng=rng)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")  # visibility map too, so index-only scans work as in a settled database
    seed_rules(database_url)
    return Population(clinics=n_clinics, patients=scale.patients, readings=facts.readings, callbacks=facts.callbacks,
                      complaints=facts.complaints, seconds=time.perf_counter() - started, token=token,
                      first_patient_id=1, phones=phones, survey_invitations=surveys.invitations,
                      survey_responses=surveys.responses)


def seed_rules(database_url: str) -> None:
    """Store each clinic's default rules, as a clinic in use has them. (Left to the first readings, concurrent
    first readings of a clinic can wait on each other's seeding; see docs/benchmarks.md.)"""
    from sqlmodel import Session, select

    from clinic.models import Clinic
    from core.db import make_engine
    from followup.rulebook import ensure_default_rules

    engine = make_engine(Settings(database_url=database_url, _env_file=None))  # type: ignore[call-arg]
    try:
        with Session(engine) as session:
            for clinic in session.exec(select(Clinic)).all():
                ensure_default_rules(session=session, clinic=clinic)
            session.commit()
    finally:
        engine.dispose()


def _saved(database_url: str) -> Path:
    return Path(tempfile.gettempdir()) / f"careloop-bench-{make_url(database_url).database}.json"


def save_population(database_url: str, population: Population) -> None:
    """Remember what a generated database holds (and its API token) so a later run can reuse it."""
    _saved(database_url).write_text(json.dumps(asdict(population)))


def load_population(database_url: str, scale: Scale) -> Population | None:
    """The population generated earlier into this database at this scale, if it is still there."""
    path = _saved(database_url)
    if not path.exists():
        return None
    population = Population(**json.loads(path.read_text()))
    try:
        with psycopg.connect(psycopg_url(database_url)) as conn:
            found = conn.execute("SELECT count(*) FROM patient WHERE phone LIKE '+86138%%'").fetchone()
    except psycopg.OperationalError:
        return None
    return population if found and found[0] == scale.patients == population.patients else None
