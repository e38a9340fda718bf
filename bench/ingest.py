"""Benchmarks 1, 2, 3 and 8: ingestion over HTTP (API and SMS webhook) against the bare baseline, rule cost
against history, and the peak memory of a web process and a worker under that load."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench.common import Context, Result, load
from bench.generate import psycopg_url
from bench.servers import background, descendants, peak_rss_mb, server

DURATION = 8  # seconds of closed-loop load per measurement
CONCURRENCY = 8
OPEN_RATE = 40  # requests per second offered in the latency run


def bench_ingest(ctx: Context) -> None:
    """1, 2 and 8: closed-loop throughput and open-loop latency, CareLoop against the bare insert."""
    pop = ctx.population
    patients = ",".join(str(i) for i in range(1, min(pop.patients, 2000) + 1))
    common = {"duration": DURATION, "concurrency": CONCURRENCY, "patients": patients}
    with server("bench.baseline:app", env=ctx.careloop_env(), ready_path="/", log=ctx.workdir / "bare.log") as (
            bare, _):
        bare_api = load(bare, "bare-api", **common)
        bare_api_open = load(bare, "bare-api", mode="open", rate=OPEN_RATE, duration=DURATION, patients=patients)
        bare_sms = load(bare, "bare-sms", **common)
    public = "http://bench.local"
    worker_args = [sys.executable, "-m", "core.cli", "worker", "--processes", "1", "--threads", "4"]
    with background(worker_args, env=ctx.careloop_env(public), log=ctx.workdir / "worker.log") as worker, \
            server("core.asgi:app", env=ctx.careloop_env(public), ready_path="/healthz",
                   log=ctx.workdir / "careloop.log") as (app, pid):
        api = load(app, "api", token=pop.token, **common)
        api_open = load(app, "api", mode="open", rate=OPEN_RATE, duration=DURATION, token=pop.token,
                        patients=patients)
        sms = load(app, "sms", public_url=public, phones=",".join(pop.phones), run_id="1", **common)
        web_rss = peak_rss_mb(pid)
        worker_rss = max((peak_rss_mb(p) for p in descendants(worker)), default=0.0)
    ctx.add(throughput("ingest over HTTP (throughput)", api, bare_api))
    ctx.add(Result(f"ingest over HTTP (latency at {OPEN_RATE} req/s offered)",
                   f"p50 {api_open['p50_ms']:.1f} ms, p99 {api_open['p99_ms']:.1f} ms",
                   f"p50 {bare_api_open['p50_ms']:.1f} ms, p99 {bare_api_open['p99_ms']:.1f} ms",
                   api_open["p99_ms"] / max(bare_api_open["p99_ms"], 0.001), "report (p99 ratio)", None,
                   f"failures {api_open['failures']} {api_open['failure_codes']}"))
    ctx.add(throughput("SMS webhook (throughput)", sms, bare_sms))
    ctx.add(Result("web process peak RSS under ingest", f"{web_rss:.0f} MB", "—", None, "< 250 MB", web_rss < 250))
    ctx.add(Result("worker peak RSS under ingest (largest process)", f"{worker_rss:.0f} MB", "—", None, "report",
                   None, "dramatiq, 1 process × 4 threads"))


def throughput(name: str, measured: dict[str, Any], baseline: dict[str, Any]) -> Result:
    ratio = measured["throughput"] / max(baseline["throughput"], 0.001)
    return Result(name, f"{measured['throughput']:.0f} req/s (p50 {measured['p50_ms']:.1f} ms, "
                        f"failures {measured['failures']})",
                  f"{baseline['throughput']:.0f} req/s (p50 {baseline['p50_ms']:.1f} ms)", ratio, "≥ 0.5",
                  ratio >= 0.5 and not measured["failures"],
                  f"{measured['requests']} requests; failed with {measured['failure_codes']} (0 = no answer)"
                  if measured["failures"] else "")


def bench_rule_cost(ctx: Context) -> None:
    """3: ingest latency for a patient with 10 prior readings vs one with 10,000 (evaluation reads windows)."""
    small, large = _history_patients(ctx)
    with server("core.asgi:app", env=ctx.careloop_env(), ready_path="/healthz", log=ctx.workdir / "rules.log") as (
            app, _):
        timings = {}
        for patient in (small, large):
            load(app, "api", token=ctx.population.token, patients=patient, duration=2, concurrency=1)  # warm up
        for label, patient in (("10", small), ("10000", large)):
            timings[label] = load(app, "api", token=ctx.population.token, patients=patient, duration=6,
                                  concurrency=1)
    ratio = timings["10000"]["p50_ms"] / max(timings["10"]["p50_ms"], 0.001)
    ctx.add(Result("rule cost vs history (10,000 vs 10 prior readings, p50)",
                   f"{timings['10000']['p50_ms']:.1f} ms/reading", f"{timings['10']['p50_ms']:.1f} ms/reading",
                   ratio, "≤ 1.2", ratio <= 1.2))


def _history_patients(ctx: Context) -> tuple[int, int]:
    """Two fresh patients of clinic 1, one with 10 readings and one with 10,000 (six-hourly, newest first)."""
    now = datetime.now(UTC)
    with psycopg.connect(psycopg_url(ctx.database_url)) as conn, conn.cursor() as cur:
        ids = []
        for n in (10, 10_000):
            cur.execute("INSERT INTO patient (clinic_id, name, phone, language, has_hypertension, has_diabetes,"
                        " glucose_unit, sms_consent, sms_consent_version, sms_opted_out, phone_invalid, active,"
                        " created_at, updated_at) VALUES (1, %s, NULL, 'zh-CN', true, true, 'mmol_l', true,"
                        " '2026-11', false, false, true, %s, %s) RETURNING id", (f"history {n}", now, now))
            patient_id = cur.fetchone()[0]  # type: ignore[index]
            ids.append(patient_id)
            with cur.copy("COPY reading (clinic_id, patient_id, kind, context, value_original, unit_original,"
                          " value_canonical, taken_at, received_at, source, entered_by_kind, note) FROM STDIN") as copy:
                for i in range(n):
                    at = now - timedelta(hours=6 * (i + 1))
                    copy.write_row((1, patient_id, "glucose", "fasting", 6.5, "mmol/L", 6.5, at, at, "sms", "patient",
                                    ""))
        conn.commit()
        cur.execute("ANALYZE reading")
    return ids[0], ids[1]
