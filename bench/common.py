"""What every benchmark shares: its result row, the run's context, the load generator call and timing helpers."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.generate import Population
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
    loads: list[float] = field(default_factory=list)  # 1-minute load average, sampled before each benchmark

    def careloop_env(self, public_url: str = "http://bench.local") -> dict[str, str]:
        """CareLoop as in production: PostgreSQL, Redis broker, no in-process workers."""
        return {"CARELOOP_DATABASE_URL": self.database_url, "CARELOOP_BROKER_URL": self.redis_url,
                "CARELOOP_EMBEDDED_WORKERS": "0", "CARELOOP_SECRET_KEY": "bench", "CARELOOP_PUBLIC_URL": public_url,
                "CARELOOP_DATA_DIR": str(self.workdir),
                # Twilio calls from many addresses; the load generator sends everything from loopback. The limiter
                # still runs on every request (same work), it only never refuses.
                "CARELOOP_SMS_WEBHOOK_RATE_PER_SECOND": "1000000"}

    def add(self, result: Result) -> None:
        self.results.append(result)
        ratio = "" if result.ratio is None else f" ratio {result.ratio:.2f}"
        print(f"  {result.name}: {result.measured} vs {result.baseline}{ratio}", flush=True)


def load(url: str, target: str, **options: object) -> dict[str, Any]:
    """Run the load generator as its own process and return its JSON summary."""
    args = [sys.executable, "-m", "bench.load", "--url", url, "--target", target]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    output = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def timings_ms(fn: Callable[[], object], *, repeat: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    found = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        found.append((time.perf_counter() - started) * 1000)
    return found


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0


def p50_p95(values: list[float]) -> str:
    return f"p50 {pct(values, 0.5):.1f} ms, p95 {pct(values, 0.95):.1f} ms"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def load_average() -> float:
    return os.getloadavg()[0]


def careloop_cli(ctx: Context, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ctx.careloop_env()}
    return subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, check=check)
