"""Benchmark 4: the doctor's callback queue page and GET /api/v1/callbacks against the hand-written indexed
query (bench/queue_sql.py) served by the bare baseline app over the same HTTP stack, one request at a time."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import psycopg

from bench.common import Context, Result, p50_p95, pct, timings_ms
from bench.generate import BENCH_PASSWORD, psycopg_url
from bench.queue_sql import QUEUE_COUNT, QUEUE_PAGE
from bench.servers import server

REQUESTS = 60
PER_PAGE = 50
DOCTOR = "doctor0-b1"  # staff id 2, the family doctor of a fifth of clinic 1's patients; owns the bench API token


def bench_queue(ctx: Context) -> None:
    env = ctx.careloop_env()
    with server("bench.baseline:app", env=env, ready_path="/", log=ctx.workdir / "bare-queue.log") as (bare, _), \
            server("core.asgi:app", env=env, ready_path="/healthz", log=ctx.workdir / "queue.log") as (app, _), \
            httpx.Client(base_url=bare, timeout=30) as bare_client, \
            httpx.Client(base_url=app, timeout=30) as api_client, \
            httpx.Client(base_url=app, timeout=30) as page_client:
        api_headers = {"Authorization": f"Bearer {ctx.population.token}"}
        api_get = _getter(api_client, f"/api/v1/callbacks/?per_page={PER_PAGE}", headers=api_headers)
        bare_get = _getter(bare_client, f"/bare/callbacks?clinic_id=1&per_page={PER_PAGE}")
        api_ids = [item["id"] for item in api_get().json()["items"]]
        bare_ids = [item["id"] for item in bare_get().json()["items"]]
        _login(page_client)
        page_get = _getter(page_client, "/callbacks/")
        # Interleaved, so a burst of load from the other users of the machine hits all three alike.
        timings: dict[str, list[float]] = {"api": [], "page": [], "bare": []}
        for _ in range(REQUESTS // 10):
            for name, fn in (("bare", bare_get), ("api", api_get), ("page", page_get)):
                timings[name] += timings_ms(fn, repeat=10, warmup=1)
    sql = _sql_timings(ctx)
    same = "same rows and order" if api_ids == bare_ids else f"**rows differ** ({len(api_ids)} vs {len(bare_ids)})"
    bare_text = f"{p50_p95(timings['bare'])} (SQL alone {p50_p95(sql)})"
    for name, label in (("api", "GET /api/v1/callbacks"), ("page", "queue page /callbacks")):
        p95 = pct(timings[name], 0.95)
        ratio = p95 / max(pct(timings["bare"], 0.95), 0.001)
        ok = ratio <= 2.0 and p95 < 50 if ctx.scale == "M" else None
        ctx.add(Result(f"callback queue: {label} ({PER_PAGE if name == 'api' else 20} rows, p95)",
                       p50_p95(timings[name]), bare_text, ratio, "≤ 2 and p95 < 50 ms (at M)", ok,
                       same if name == "api" else ""))


def _getter(client: httpx.Client, path: str, **kwargs: object) -> Callable[[], httpx.Response]:
    def get() -> httpx.Response:
        response = client.get(path, **kwargs)  # type: ignore[arg-type]
        response.raise_for_status()
        return response

    return get


def _login(client: httpx.Client) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": DOCTOR, "password": BENCH_PASSWORD, "next": "/callbacks/",
                                           "_csrf_token": client.cookies["careloop_csrf"]})
    if response.status_code not in (302, 303) or "/login" in response.headers.get("location", "/login"):
        raise RuntimeError(f"bench doctor could not sign in: {response.status_code} {response.headers}")


def _sql_timings(ctx: Context) -> list[float]:
    page = QUEUE_PAGE.replace(":clinic_id", "%(clinic_id)s").replace(":limit", "%(limit)s")
    count = QUEUE_COUNT.replace(":clinic_id", "%(clinic_id)s")
    with psycopg.connect(psycopg_url(ctx.database_url)) as conn:
        def run() -> None:
            conn.execute(page, {"clinic_id": 1, "limit": PER_PAGE}).fetchall()
            conn.execute(count, {"clinic_id": 1}).fetchone()

        return timings_ms(run, repeat=REQUESTS)
