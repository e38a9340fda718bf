"""The bare baseline: a Litestar app that stores the same reading row with the same driver and pool
settings as CareLoop, and nothing else (no auth, validation, rules, audit or outbox); and that answers the
callback queue with one hand-written indexed query (bench/queue.py)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Litestar, MediaType, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from sqlalchemy import text

from bench.queue_sql import QUEUE_COUNT, QUEUE_PAGE
from core.db import make_engine
from core.settings import Settings

engine = make_engine(Settings(database_url=os.environ["CARELOOP_DATABASE_URL"], _env_file=None))  # type: ignore[call-arg]
INSERT = text(
    "INSERT INTO reading (clinic_id, patient_id, kind, context, value_original, unit_original, value_canonical,"
    " taken_at, received_at, source, entered_by_kind, note) VALUES (1, :patient_id, 'glucose', 'fasting', :value,"
    " 'mmol/L', :value, :taken_at, :now, 'api', 'api', '') RETURNING id"
)


def _insert(patient_id: int, value: float) -> int:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        return int(connection.execute(INSERT, {"patient_id": patient_id, "value": value, "taken_at": now,
                                               "now": now}).scalar_one())


@post("/bare/readings", sync_to_thread=True, status_code=201)
def bare_reading(data: dict[str, Any]) -> dict[str, int]:
    return {"id": _insert(int(data["patient_id"]), float(data["value"]))}


@post("/bare/sms", sync_to_thread=True, status_code=200)
def bare_sms(data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]) -> Response[str]:
    _insert(int(data.get("PatientId", 1)), 7.0)
    return Response("<Response><Message>ok</Message></Response>", media_type=MediaType.XML)


@get("/bare/callbacks", sync_to_thread=True)
def bare_callbacks(clinic_id: int = 1, per_page: int = 50) -> dict[str, Any]:
    """The open queue, first page, as JSON: the same rows and order as GET /api/v1/callbacks."""
    with engine.connect() as connection:
        rows = connection.execute(text(QUEUE_PAGE), {"clinic_id": clinic_id, "limit": per_page}).mappings().all()
        total = connection.execute(text(QUEUE_COUNT), {"clinic_id": clinic_id}).scalar_one()
    return {"items": [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()} for row in rows],
            "total": total}


app = Litestar(route_handlers=[bare_reading, bare_sms, bare_callbacks])
