"""A realistic synthetic population loaded with COPY (not row-by-row ORM): clinics, staff, patients, a
year of readings (daily and weekly senders, high runs, silent patients) and callbacks in every state."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy.engine import make_url

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
    seconds: float
    token: str
    first_patient_id: int
    phones: list[str]


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
    readings = callbacks = 0
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
            with cur.copy("COPY reading (clinic_id, patient_id, kind, context, value_original, unit_original,"
                          " systolic, diastolic, value_canonical, taken_at, received_at, source, entered_by_kind,"
                          " entered_by_id, note) FROM STDIN") as copy:
                for p in range(1, scale.patients + 1):
                    clinic = (p - 1) // scale.patients_per_clinic + 1
                    pattern = rng.random()
                    if pattern < 0.2:
                        continue  # silent patients
                    step = 1 if pattern < 0.5 else 7  # daily and weekly senders
                    high = pattern > 0.93
                    for day in range(0, scale.days, step):
                        at = now - timedelta(days=day, hours=rng.randint(0, 12))
                        if rng.random() < 0.5:
                            value = round(rng.gauss(11.5 if high else 7.0, 1.2), 1)
                            copy.write_row((clinic, p, "glucose", "fasting", value, "mmol/L", None, None, value, at,
                                            at, "sms", "patient", p, ""))
                        else:
                            sbp, dbp = rng.randint(115, 175 if high else 150), rng.randint(70, 100)
                            copy.write_row((clinic, p, "blood_pressure", None, None, "mmHg", sbp, dbp, None, at, at,
                                            "sms", "patient", p, ""))
                        readings += 1
            with cur.copy("COPY callback (clinic_id, patient_id, rule_code, rule_version, severity, status, reason_zh,"
                          " reason_en, reading_ids, opened_at, due_at, attempts, outcome, close_reason, closed_at)"
                          " FROM STDIN") as copy:
                severities = ["urgent", "same_day", "follow_up", "routine", "emergency"]
                for p in range(1, scale.patients + 1, 10):
                    clinic = (p - 1) // scale.patients_per_clinic + 1
                    opened = now - timedelta(hours=rng.randint(1, 24 * 60))
                    is_open = rng.random() < 0.4
                    severity = rng.choice(severities)
                    copy.write_row((clinic, p, "CN-DM-01a" if is_open else f"CN-HIST-{p % 7}", 1, severity,
                                    "open" if is_open else "closed", "血糖16.9，超过16.7", "Glucose 16.9, above 16.7",
                                    "[]", opened, opened + timedelta(hours=1), rng.randint(0, 3),
                                    "" if is_open else "reached", "" if is_open else "advice_given",
                                    None if is_open else opened + timedelta(hours=rng.randint(1, 48))))
                    callbacks += 1
            for table in ("clinic", "staff_user", "patient"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        with conn.cursor() as cur:
            conn.autocommit = True
            cur.execute("ANALYZE")
    return Population(clinics=n_clinics, patients=scale.patients, readings=readings, callbacks=callbacks,
                      seconds=time.perf_counter() - started, token=token, first_patient_id=1, phones=phones)
