"""Benchmark 5: the monthly measure catalogue of one clinic (pdca.metrics, reading followup.metrics) against one
hand-written SQL statement computing the same figures (bench/metrics_sql.py), in the same process and database.
The figures are compared too: a fast baseline that counts something else would prove nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg
from sqlmodel import Session

from bench.common import Context, Result, median, timings_ms
from bench.generate import psycopg_url
from bench.metrics_sql import COLUMNS, METRICS_SQL
from core.db import dispose_engines, make_engine
from core.settings import Settings
from followup.dates import Granularity, local_midnight, months_before
from followup.metrics import indicator_table
from pdca.enums import Frequency
from pdca.metrics import catalogue, chart_periods

REPEAT = 2
CLINIC_ID = 1


def bench_metrics(ctx: Context) -> None:
    engine = make_engine(Settings(database_url=ctx.database_url, _env_file=None))  # type: ignore[call-arg]
    now = datetime.now(UTC)
    try:
        with Session(engine) as session:
            from clinic.models import Clinic

            clinic = session.get(Clinic, CLINIC_ID)
            assert clinic is not None
            tz = ZoneInfo(clinic.timezone)
            periods = chart_periods(frequency=Frequency.month, since=now.astimezone(tz).date(),
                                    today=now.astimezone(tz).date())
            metrics = {code: m for code, m in catalogue().items() if m.compute is not None}
            covered = {code: metrics[code] for code in COLUMNS if code in metrics}

            def compute(which: dict) -> dict:  # type: ignore[type-arg]
                return {code: m.compute(session=session, clinic_id=CLINIC_ID, tz=tz, periods=periods, options={})
                        for code, m in which.items()}

            found: list[dict] = []  # type: ignore[type-arg]
            same_ms = timings_ms(lambda: found.append(compute(covered)), repeat=REPEAT, warmup=0)
            app_cells = found[-1]
            all_ms = timings_ms(lambda: compute(metrics), repeat=1, warmup=0)
            table_ms = timings_ms(lambda: indicator_table(session=session, clinic=clinic,
                                                          granularity=Granularity.month, count=12),
                                  repeat=1, warmup=0)
    finally:
        engine.dispose()
        dispose_engines()
    params = {"clinic_id": CLINIC_ID, "now": now, "idx": list(range(len(periods))),
              "start_at": [local_midnight(p.start, tz) for p in periods],
              "end_at": [local_midnight(p.end, tz) for p in periods],
              "win_start": [local_midnight(months_before(p.end, 3), tz) for p in periods],
              "ltfu_start": [local_midnight(months_before(p.end, 12), tz) for p in periods]}
    with psycopg.connect(psycopg_url(ctx.database_url)) as conn:
        rows = conn.execute(METRICS_SQL, params).fetchall()
        sql_ms = timings_ms(lambda: conn.execute(METRICS_SQL, params).fetchall(), repeat=REPEAT, warmup=0)
    mismatches = _compare(app_cells, rows)
    ratio = median(same_ms) / max(median(sql_ms), 0.001)
    agree = "figures agree" if not mismatches else f"**figures differ**: {', '.join(mismatches[:4])}"
    ctx.add(Result(f"metrics: {len(covered)} follow-up measures × {len(periods)} months, clinic of "
                   f"{ctx.population.patients // max(ctx.population.clinics, 1):,} patients",
                   f"{median(same_ms):.0f} ms", f"{median(sql_ms):.0f} ms (one SQL statement)", ratio, "≤ 3",
                   ratio <= 3, agree))
    ctx.add(Result(f"metrics: whole catalogue ({len(metrics)} measures × {len(periods)} months)",
                   f"{median(all_ms):.0f} ms", "—", None, "report", None))
    ctx.add(Result("metrics: indicators page table (6 indicators × 12 months)", f"{median(table_ms):.0f} ms",
                   f"{median(sql_ms):.0f} ms", median(table_ms) / max(median(sql_ms), 0.001), "report", None,
                   "includes return-to-care and median time to first attempt, which the baseline does not"))


def _compare(app_cells: dict, rows: list) -> list[str]:  # type: ignore[type-arg]
    problems = []
    for position, code in enumerate(COLUMNS):
        cells = app_cells.get(code)
        if cells is None:
            continue
        for row, cell in zip(rows, cells, strict=True):
            numerator, denominator = row[1 + 2 * position], row[2 + 2 * position]
            app = (int(cell.value or 0), int(cell.denominator or 0)) if cell.value is not None else (0, 0)
            if denominator == 0:
                numerator = 0
            if app != (numerator, denominator):
                problems.append(f"{code}[{row[0]}] {app} vs {(numerator, denominator)}")
    return problems
