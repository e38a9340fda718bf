"""Benchmark 7: `careloop import readings` of a CSV file against PostgreSQL's own COPY of the same file (into a
staging table, then one INSERT … SELECT into reading: the least work that stores the same rows). The baseline
runs in a transaction that is rolled back, so the import still finds every row new."""

from __future__ import annotations

import csv
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bench.common import Context, Result, careloop_cli
from bench.generate import psycopg_url

ROWS = {"S": 100_000, "M": 1_000_000}  # enough rows that the command's start-up (~3 s) is not the measurement
COLUMNS = ["patient_id", "phone", "kind", "value", "systolic", "diastolic", "pulse", "unit", "context", "taken_at",
           "external_id"]

STAGE_AND_INSERT = """
INSERT INTO reading (clinic_id, patient_id, kind, context, value_original, unit_original, systolic, diastolic,
                     value_canonical, taken_at, received_at, source, entered_by_kind, external_id, note)
SELECT 1, s.patient_id::int, s.kind::readingkind, nullif(s.context, '')::glucosecontext,
       nullif(s.value, '')::numeric, s.unit, nullif(s.systolic, '')::int, nullif(s.diastolic, '')::int,
       nullif(s.value, '')::numeric, s.taken_at::timestamptz, now(), 'import_'::readingsource, 'import',
       s.external_id, ''
FROM bench_import s
"""


def write_csv(path: Path, rows: int, patients: int, *, seed: int = 3) -> None:
    """History of clinic 1's patients over the past year (older than a day, as an import mostly is); every value
    plausible, so every row is stored (a million Gaussian draws reach the 1.1 mmol/L floor a few times)."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i in range(rows):
            at = (now - timedelta(days=2, minutes=rng.randint(0, 60 * 24 * 360))).isoformat()
            patient = rng.randint(1, patients)
            if i % 2:
                glucose = min(max(rng.gauss(7.2, 1.4), 3.0), 20.0)
                writer.writerow([patient, "", "glucose", f"{glucose:.1f}", "", "", "", "mmol/L", "fasting", at,
                                 f"bench-import-{i}"])
            else:
                writer.writerow([patient, "", "blood_pressure", "", rng.randint(110, 170), rng.randint(65, 100), "",
                                 "mmHg", "", at, f"bench-import-{i}"])


def bench_import(ctx: Context) -> None:
    rows = ROWS[ctx.scale]
    path = ctx.workdir / "readings.csv"
    write_csv(path, rows, min(ctx.population.patients, 5_000))
    copy_s = _copy_seconds(ctx, path)
    started = time.perf_counter()
    done = careloop_cli(ctx, "import", "readings", str(path), "--clinic", "b1", check=False)
    import_s = time.perf_counter() - started
    _forget_import(ctx)
    summary = " ".join(line for line in done.stderr.splitlines() + done.stdout.splitlines()
                       if "added" in line or "rejected" in line)[:160]
    ratio = copy_s / import_s  # throughput ratio: import rows/s over COPY rows/s
    ctx.add(Result(f"bulk import: `careloop import readings` of {rows:,} CSV rows",
                   f"{import_s:.1f} s ({rows / import_s:,.0f} rows/s)",
                   f"{copy_s:.2f} s ({rows / copy_s:,.0f} rows/s, COPY + INSERT … SELECT)", ratio, "≥ 0.33",
                   ratio >= 1 / 3 and done.returncode == 0, summary or f"exit {done.returncode}"))


def _forget_import(ctx: Context) -> None:
    """Leave the dataset as generated for the other benchmarks (the import's audit rows stay: append-only)."""
    with psycopg.connect(psycopg_url(ctx.database_url), autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM reading WHERE external_id LIKE 'bench-import-%%'")
        # The dead rows would slow the next run's import and COPY alike (autovacuum may be off, as it is here).
        cur.execute("VACUUM reading")


def _copy_seconds(ctx: Context, path: Path) -> float:
    _forget_import(ctx)  # a reused database may hold an earlier run's import (or part of one): start from none
    with psycopg.connect(psycopg_url(ctx.database_url)) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        cur.execute("CREATE TEMP TABLE bench_import (" + ", ".join(f"{c} text" for c in COLUMNS) + ")")
        with path.open("rb") as source, cur.copy("COPY bench_import FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            while chunk := source.read(1 << 20):
                copy.write(chunk)
        cur.execute(STAGE_AND_INSERT)
        elapsed = time.perf_counter() - started
        conn.rollback()
    return elapsed
