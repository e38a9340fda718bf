"""Runs the benchmarks and writes docs/benchmarks.md; every timing is a ratio to a baseline of the same run."""

from __future__ import annotations

import os
import platform
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Context, Result, load_average
from bench.generate import SCALES, Population, generate, load_population, save_population
from bench.imports import bench_import
from bench.ingest import bench_ingest, bench_rule_cost
from bench.metrics import bench_metrics
from bench.queue import bench_queue
from bench.reports import bench_reports
from core.settings import REPO_ROOT

# Queue, metrics and reports first: they read the generated data before the ingest and import runs add to it.
BENCHMARKS: dict[str, Callable[[Context], None]] = {
    "queue": bench_queue, "metrics": bench_metrics, "reports": bench_reports, "ingest": bench_ingest,
    "rules": bench_rule_cost, "import": bench_import,
}


def run(*, scale: str, only: list[str] | None, database_url: str, redis_url: str, write: bool,
        reuse: bool = False) -> int:
    unknown = set(only or ()) - set(BENCHMARKS)
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {sorted(unknown)}; choose from {sorted(BENCHMARKS)}")
    chosen = {k: v for k, v in BENCHMARKS.items() if not only or k in only}
    started = time.perf_counter()
    population = load_population(database_url, SCALES[scale]) if reuse else None
    if population is None:
        print(f"generating scale {scale} into {database_url.rsplit('/', 1)[-1]} …", flush=True)
        population = generate(database_url, SCALES[scale])
        save_population(database_url, population)
    else:
        print(f"reusing the scale {scale} data in {database_url.rsplit('/', 1)[-1]}", flush=True)
    print(f"  {population.patients:,} patients, {population.counts()} (generated in {population.seconds:.0f} s)",
          flush=True)
    with tempfile.TemporaryDirectory() as workdir:
        ctx = Context(scale, database_url, redis_url, population, Path(workdir))
        for name, benchmark in chosen.items():
            ctx.loads.append(load_average())
            print(f"running {name} (load average {ctx.loads[-1]:.1f}) …", flush=True)
            try:
                benchmark(ctx)
            except Exception as exc:  # one broken benchmark must not hide the others' figures
                traceback.print_exc()
                ctx.add(Result(name, "**failed**", "—", None, "—", False, f"{type(exc).__name__}: {exc}"[:200]))
        ctx.loads.append(load_average())
    table = _table(ctx.results)
    print(table)
    elapsed = time.perf_counter() - started
    print(f"total {elapsed:.0f} s")
    if write:
        _write_doc(scale, population, table, loads=ctx.loads, elapsed=elapsed, only=only)
    return 0


def _table(results: list[Result]) -> str:
    lines = ["| benchmark | CareLoop | baseline | ratio | target | met | notes |", "|---|---|---|---|---|---|---|"]
    for r in results:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}"
        met = "—" if r.ok is None else ("yes" if r.ok else "**no**")
        notes = r.notes.replace("|", "/").replace("\n", " ")
        lines.append(f"| {r.name} | {r.measured} | {r.baseline} | {ratio} | {r.target} | {met} | {notes} |")
    return "\n".join(lines)


def _machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    memory = next((int(line.split()[1]) // 1024 // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    return f"{cpu}, {os.cpu_count()} cores, {memory} GiB, Python {platform.python_version()}"


def _write_doc(scale: str, population: Population, table: str, *, loads: list[float], elapsed: float,
               only: list[str] | None) -> None:
    path = REPO_ROOT / "docs" / "benchmarks.md"
    previous = path.read_text() if path.exists() else ""
    key = scale + ("-" + "-".join(only) if only else "")
    marker_start, marker_end = f"<!-- scale {key} start -->", f"<!-- scale {key} end -->"
    command = f"python -m bench run --scale {scale}" + (f" --only {' '.join(only)}" if only else "")
    section = (f"{marker_start}\n## Scale {scale}{' (' + ', '.join(only) + ')' if only else ''} — "
               f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
               f"`{command}` ({elapsed / 60:.0f} min). Machine: {_machine()}. Load average (1 min) before each "
               f"benchmark: {', '.join(f'{x:.1f}' for x in loads)} — other processes shared the cores, so read the "
               f"ratios rather than the absolute figures.\n\n"
               f"Data: {population.patients:,} patients in {population.clinics:,} "
               f"clinic{'s' if population.clinics != 1 else ''}, "
               f"{population.counts()} (generated in {population.seconds:.0f} s).\n\n"
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
