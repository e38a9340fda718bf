"""Runs the benchmarks and writes docs/benchmarks.md; every timing is a ratio to a baseline of the same run."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bench.generate import SCALES, Population, generate, psycopg_url
from bench.servers import peak_rss_mb, server
from core.settings import REPO_ROOT


@dataclass
class Result:
    name: str
    measured: str
    baseline: str
    ratio: float | None
    target: str
    ok: bool | None
    notes: str = ""


@dataclass
class Context:
    scale: str
    database_url: str
    redis_url: str
    population: Population
    workdir: Path
    results: list[Result] = field(default_factory=list)

    def careloop_env(self, public_url: str = "http://bench.local") -> dict[str, str]:
        return {"CARELOOP_DATABASE_URL": self.database_url, "CARELOOP_BROKER_URL": self.redis_url,
                "CARELOOP_EMBEDDED_WORKERS": "0", "CARELOOP_SECRET_KEY": "bench", "CARELOOP_PUBLIC_URL": public_url,
                "CARELOOP_DATA_DIR": str(self.workdir)}


def load(url: str, target: str, **options: object) -> dict:
    args = [sys.executable, "-m", "bench.load", "--url", url, "--target", target]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    output = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def bench_ingest(ctx: Context) -> None:
    """1, 2 and 8: API and SMS ingestion against the bare insert, closed-loop throughput and open-loop latency."""
    pop = ctx.population
    patients = ",".join(str(i) for i in range(1, min(pop.patients, 2000) + 1))
    common = {"duration": 8, "concurrency": 8, "patients": patients}
    bare_log = ctx.workdir / "bare.log"
    with server("bench.baseline:app", env=ctx.careloop_env(), ready_path="/", log=bare_log) as (bare, _):
        bare_api = load(bare, "bare-api", **common)
        bare_api_open = load(bare, "bare-api", mode="open", rate=40, duration=8, patients=patients)
        bare_sms = load(bare, "bare-sms", **common)
    public = "http://bench.local"
    with server("core.asgi:app", env=ctx.careloop_env(public), ready_path="/healthz",
                log=ctx.workdir / "careloop.log") as (app, pid):
        api = load(app, "api", token=pop.token, **common)
        api_open = load(app, "api", mode="open", rate=40, duration=8, token=pop.token, patients=patients)
        sms = load(app, "sms", public_url=public, phones=",".join(pop.phones), run_id="1", **common)
        rss = peak_rss_mb(pid)
    ctx.results.append(_ratio("ingest over HTTP (throughput)", api, bare_api, "≥ 0.5"))
    ctx.results.append(Result("ingest over HTTP (latency at 40 req/s)",
                              f"p50 {api_open['p50_ms']:.1f} ms, p99 {api_open['p99_ms']:.1f} ms",
                              f"p50 {bare_api_open['p50_ms']:.1f} ms, p99 {bare_api_open['p99_ms']:.1f} ms",
                              api_open["p99_ms"] / max(bare_api_open["p99_ms"], 0.001), "report", None,
                              f"failures {api_open['failures']}"))
    ctx.results.append(_ratio("SMS webhook (throughput)", sms, bare_sms, "≥ 0.5"))
    ctx.results.append(Result("web process peak RSS under ingest", f"{rss:.0f} MB", "—", None, "< 250 MB", rss < 250))


def _ratio(name: str, measured: dict, baseline: dict, target: str) -> Result:
    ratio = measured["throughput"] / max(baseline["throughput"], 0.001)
    return Result(name, f"{measured['throughput']:.0f} req/s (p50 {measured['p50_ms']:.1f} ms, "
                        f"failures {measured['failures']})",
                  f"{baseline['throughput']:.0f} req/s (p50 {baseline['p50_ms']:.1f} ms)", ratio, target,
                  ratio >= 0.5, "")


def bench_rule_cost(ctx: Context) -> None:
    """3: ingest latency for a patient with 10 prior readings vs one with 10,000 (evaluation reads windows)."""
    small, large = _history_patients(ctx)
    with server("core.asgi:app", env=ctx.careloop_env(), ready_path="/healthz", log=ctx.workdir / "rules.log") as (
            app, _):
        timings = {}
        for label, patient in (("10", small), ("10000", large)):
            load(app, "api", token=ctx.population.token, patients=patient, duration=2, concurrency=1)  # warm up
            timings[label] = load(app, "api", token=ctx.population.token, patients=patient, duration=6,
                                  concurrency=1)
    ratio = timings["10000"]["mean_ms"] / max(timings["10"]["mean_ms"], 0.001)
    ctx.results.append(Result("rule cost vs history (10,000 vs 10 prior readings)",
                              f"{timings['10000']['mean_ms']:.1f} ms/reading",
                              f"{timings['10']['mean_ms']:.1f} ms/reading",
                              ratio, "≤ 1.2", ratio <= 1.2))


def _history_patients(ctx: Context) -> tuple[int, int]:
    now = datetime.now(UTC)
    with psycopg.connect(psycopg_url(ctx.database_url)) as conn, conn.cursor() as cur:
        ids = []
        for n, phone in ((10, "+8613999900010"), (10_000, "+8613999910000")):
            cur.execute("INSERT INTO patient (clinic_id, name, phone, language, has_hypertension, has_diabetes,"
                        " glucose_unit, sms_consent, sms_consent_version, sms_opted_out, phone_invalid, active,"
                        " created_at, updated_at) VALUES (1, %s, %s, 'zh-CN', true, true, 'mmol_l', true, '2026-11',"
                        " false, false, true, %s, %s) RETURNING id", (f"history {n}", phone, now, now))
            patient_id = cur.fetchone()[0]
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


BENCHMARKS: dict[str, Callable[[Context], None]] = {"ingest": bench_ingest, "rules": bench_rule_cost}


def run(*, scale: str, only: list[str] | None, database_url: str, redis_url: str, write: bool) -> int:
    chosen = {k: v for k, v in BENCHMARKS.items() if not only or k in only}
    started = time.perf_counter()
    print(f"generating scale {scale} …", flush=True)
    population = generate(database_url, SCALES[scale])
    print(f"  {population.patients:,} patients, {population.readings:,} readings, {population.callbacks:,} callbacks"
          f" in {population.seconds:.0f} s", flush=True)
    with tempfile.TemporaryDirectory() as workdir:
        ctx = Context(scale, database_url, redis_url, population, Path(workdir))
        for name, benchmark in chosen.items():
            print(f"running {name} …", flush=True)
            benchmark(ctx)
    table = _table(ctx.results)
    print(table)
    print(f"total {time.perf_counter() - started:.0f} s")
    if write:
        _write_doc(scale, population, table)
    return 0


def _table(results: list[Result]) -> str:
    lines = ["| benchmark | CareLoop | baseline | ratio | target | met |", "|---|---|---|---|---|---|"]
    for r in results:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}"
        met = "—" if r.ok is None else ("yes" if r.ok else "**no**")
        lines.append(f"| {r.name} | {r.measured} | {r.baseline} | {ratio} | {r.target} | {met} |")
    return "\n".join(lines)


def _write_doc(scale: str, population: Population, table: str) -> None:
    path = REPO_ROOT / "docs" / "benchmarks.md"
    previous = path.read_text() if path.exists() else ""
    marker_start, marker_end = f"<!-- scale {scale} start -->", f"<!-- scale {scale} end -->"
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    section = (f"{marker_start}\n## Scale {scale} — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
               f"Machine: {machine}. Data: {population.patients:,} patients, {population.readings:,} readings, "
               f"{population.callbacks:,} callbacks (generated in {population.seconds:.0f} s with COPY).\n\n"
               f"{table}\n{marker_end}")
    if marker_start in previous:
        head, rest = previous.split(marker_start, 1)
        previous = head + section + rest.split(marker_end, 1)[1]
    else:
        previous = (previous or _HEADER) + "\n" + section + "\n"
    path.write_text(previous)


_HEADER = """# Benchmarks

Every figure is a ratio against a baseline measured in the same run on the same machine and server
settings, so it holds on a noisy machine. Repeat with:

```sh
python -m bench run --scale S      # a few minutes
python -m bench run --scale M      # 200,000 patients, ~20 million readings
```

The load generator (`bench/load.py`) runs as its own process on loopback. Servers run with uvicorn, one
process each, against PostgreSQL; CareLoop runs as in production (Redis broker, no in-process workers).
"""
