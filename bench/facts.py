"""The bulk of a synthetic population: a year of readings (generated inside PostgreSQL, so 20 million rows take
minutes, not an hour of Python), callbacks in every state with their call attempts, and complaints.

Readings follow a per-patient pattern chosen in Python and copied in: silent patients send nothing, daily and
weekly senders send on their days, and "high" patients run high glucose and blood pressure (so rules, queues
and control measures have something to find). Secondary indexes and foreign-key checks are off during the
insert and rebuilt once afterwards, as any bulk loader does.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

# Share of patients by sending pattern (cumulative): ~104 readings per patient a year, ~20 M at 200,000 patients.
SILENT, DAILY = 0.20, 0.40
HIGH = 0.93  # above this a sender runs high
OPEN_EVERY, CLOSED_EVERY = 25, 4  # one open callback per 25 patients, one closed (past year) per 4
COMPLAINTS_PER_1000_PER_MONTH = 2

READINGS_SQL = """
INSERT INTO reading (clinic_id, patient_id, kind, context, value_original, unit_original, systolic, diastolic,
                     value_canonical, taken_at, received_at, source, entered_by_kind, entered_by_id, note)
SELECT s.clinic_id, s.patient_id,
       CASE WHEN g.r < 0.5 THEN 'glucose'::readingkind ELSE 'blood_pressure'::readingkind END,
       CASE WHEN g.r < 0.5 THEN 'fasting'::glucosecontext END,
       CASE WHEN g.r < 0.5 THEN g.glucose END,
       CASE WHEN g.r < 0.5 THEN 'mmol/L' ELSE 'mmHg' END,
       CASE WHEN g.r >= 0.5 THEN 115 + floor(g.u * (CASE WHEN s.high THEN 61 ELSE 36 END))::int END,
       CASE WHEN g.r >= 0.5 THEN 70 + floor(g.v * 31)::int END,
       CASE WHEN g.r < 0.5 THEN g.glucose END,
       g.at, g.at, 'sms'::readingsource, 'patient', s.patient_id, ''
FROM bench_sender s
CROSS JOIN LATERAL (
    SELECT r, u, v,
           round((CASE WHEN s.high THEN 11.5 ELSE 7.0 END
                  + 1.2 * sqrt(-2 * ln(1 - u)) * cos(2 * pi() * v))::numeric, 1) AS glucose,
           %(now)s::timestamptz - make_interval(days => d) - make_interval(secs => w * 43200) AS at
    FROM (SELECT d, random() AS r, random() AS u, random() AS v, random() AS w
          FROM generate_series(0, %(days)s - 1, s.step) AS d) AS draws
) AS g
"""


@dataclass
class Facts:
    readings: int
    callbacks: int
    complaints: int


def load_facts(conn: psycopg.Connection, *, patients: int, per_clinic: int, days: int, now: datetime,
               rng: random.Random, doctors_of: dict[int, list[int]]) -> Facts:
    readings = _readings(conn, patients=patients, per_clinic=per_clinic, days=days, now=now, rng=rng)
    callbacks = _callbacks(conn, patients=patients, per_clinic=per_clinic, now=now, rng=rng, doctors_of=doctors_of)
    complaints = _complaints(conn, patients=patients, per_clinic=per_clinic, now=now, rng=rng)
    return Facts(readings, callbacks, complaints)


def _clinic_of(patient: int, per_clinic: int) -> int:
    return (patient - 1) // per_clinic + 1


def _readings(conn: psycopg.Connection, *, patients: int, per_clinic: int, days: int, now: datetime,
              rng: random.Random) -> int:
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE bench_sender (patient_id int, clinic_id int, step int, high bool)")
        with cur.copy("COPY bench_sender FROM STDIN") as copy:
            for p in range(1, patients + 1):
                pattern = rng.random()
                if pattern >= SILENT:
                    copy.write_row((p, _clinic_of(p, per_clinic), 1 if pattern < DAILY else 7, pattern > HIGH))
        dropped = _drop_secondary(cur, "reading")
        cur.execute("SET session_replication_role = replica")  # no per-row foreign-key triggers while loading
        cur.execute("SELECT setseed(0.7)")
        cur.execute(READINGS_SQL, {"now": now, "days": days})
        count = cur.rowcount
        cur.execute("SET session_replication_role = DEFAULT")
        cur.execute("SET maintenance_work_mem = '512MB'")
        for statement in dropped:
            cur.execute(statement)
    return count


def _drop_secondary(cur: psycopg.Cursor, table: str) -> list[str]:
    """Drop the table's secondary indexes and unique constraints; returns the statements that rebuild them."""
    rebuild: list[str] = []
    cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass"
                " AND contype = 'u'", (table,))
    for name, definition in cur.fetchall():
        cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN"
                " (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)", (table, table))
    for name, definition in cur.fetchall():
        cur.execute(f'DROP INDEX "{name}"')
        rebuild.append(definition)
    return rebuild


def _callbacks(conn: psycopg.Connection, *, patients: int, per_clinic: int, now: datetime, rng: random.Random,
               doctors_of: dict[int, list[int]]) -> int:
    """Open callbacks (unassigned, assigned, escalated, overdue, with attempts) and a year of closed ones."""
    severities = ["emergency", "urgent", "same_day", "follow_up", "routine"]
    hours = {"emergency": 1, "urgent": 1, "same_day": 8, "follow_up": 72, "routine": 168}
    rows, events = [], []
    for p in range(1, patients + 1):
        clinic = _clinic_of(p, per_clinic)
        doctors = doctors_of[clinic]
        if p % OPEN_EVERY == 0:
            severity = rng.choices(severities, weights=[1, 4, 10, 25, 20])[0]
            opened = now - timedelta(minutes=rng.randint(5, 60 * 72))
            assigned = rng.choice(doctors) if rng.random() < 0.4 else None
            attempts = rng.choice([0, 0, 0, 1, 2])
            escalated = opened + timedelta(hours=2) if severity in ("emergency", "urgent") and rng.random() < 0.3 \
                else None
            rows.append((clinic, p, "CN-DM-01a", 1, severity, "open", opened, opened + timedelta(hours=hours[severity]),
                         assigned, attempts, escalated, None, None, "", ""))
            events += [(len(rows), opened + timedelta(minutes=30 * (a + 1)), assigned or doctors[0], "not_reached")
                       for a in range(attempts)]
        if p % CLOSED_EVERY == 0:
            severity = rng.choices(severities, weights=[1, 3, 10, 30, 30])[0]
            opened = now - timedelta(minutes=rng.randint(60 * 72, 60 * 24 * 365))
            doctor = rng.choice(doctors)
            # A slow routine call can take two weeks; one opened lately is closed by now all the same.
            first = min(opened + timedelta(minutes=rng.randint(10, 60 * hours[severity] * 2)),
                        now - timedelta(hours=3))
            reached = rng.random() < 0.75
            closed = first + timedelta(minutes=rng.randint(0, 120))
            rows.append((clinic, p, f"CN-HIST-{p % 7}", 1, severity, "closed", opened,
                         opened + timedelta(hours=hours[severity]), doctor, 1, None, closed, doctor,
                         "reached" if reached else "not_reached", "advice_given" if reached else "unreachable"))
            events.append((len(rows), first, doctor, "reached" if reached else "not_reached"))
    with conn.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM callback")
        base = int(cur.fetchone()[0])  # type: ignore[index]
        with cur.copy("COPY callback (id, clinic_id, patient_id, rule_code, rule_version, severity, status,"
                      " reason_zh, reason_en, reading_ids, opened_at, due_at, assigned_to, attempts, escalated_at,"
                      " closed_at, closed_by, outcome, close_reason) FROM STDIN") as copy:
            for i, (clinic, p, rule, version, severity, status, opened, due, assigned, attempts, escalated, closed,
                    closed_by, outcome, reason) in enumerate(rows, start=1):
                copy.write_row((base + i, clinic, p, rule, version, severity, status, "空腹血糖16.9，超过16.7",
                                "Fasting glucose 16.9, above 16.7", "[]", opened, due, assigned, attempts, escalated,
                                closed, closed_by, outcome, reason))
        with cur.copy("COPY callback_event (callback_id, at, kind, actor_id, detail) FROM STDIN") as copy:
            for index, at, actor, outcome in events:
                copy.write_row((base + index, at, "attempt", actor, json.dumps({"outcome": outcome})))
        cur.execute("SELECT setval(pg_get_serial_sequence('callback', 'id'), (SELECT max(id) FROM callback))")
    return len(rows)


def _complaints(conn: psycopg.Connection, *, patients: int, per_clinic: int, now: datetime,
                rng: random.Random) -> int:
    categories = ["waiting_time", "attitude", "communication", "medication", "billing", "environment", "follow_up",
                  "other"]
    count = patients * COMPLAINTS_PER_1000_PER_MONTH * 12 // 1000
    with conn.cursor() as cur, cur.copy(
            "COPY feedback_item (reference, clinic_id, kind, category, channel, severity, complexity, status,"
            " patient_id, contact_name, contact_phone, contact_language, contact_consent, submitted_by_kind,"
            " description, lead_department, departments, received_at, acknowledged_at, resolved_at, closed_at,"
            " reopened_count, ack_due_at, resolve_due_at, resolution, patient_response, response_channel,"
            " source_detail, updated_at) FROM STDIN") as copy:
        for i in range(1, count + 1):
            patient = rng.randint(1, patients)
            received = now - timedelta(minutes=rng.randint(60, 60 * 24 * 365))
            resolved = received + timedelta(days=rng.randint(1, 40)) if received < now - timedelta(days=40) else None
            copy.write_row((f"BENCH{i:09d}", _clinic_of(patient, per_clinic), "complaint", rng.choice(categories),
                            "phone", "medium", "simple", "closed" if resolved else "received", patient, "", "",
                            "zh-CN", False, "staff", "等待时间太长", "", "[]", received,
                            received + timedelta(days=1) if resolved else None, resolved, resolved, 0,
                            received + timedelta(days=5), received + timedelta(days=30), "", "", "", "{}", now))
    return count
