"""Operations: request ids in and out and in every log line, JSON logs, /readyz and Prometheus /metrics."""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from core.app import create_app
from core.messaging import queue_sms
from core.observability import JsonLineFormatter, request_id_var
from tests.factories import login_staff, make_clinic, make_patient, make_staff


def _samples(text: str, name: str) -> list[Any]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]


def _careloop_handler() -> logging.Handler:
    return next(h for h in logging.getLogger().handlers if getattr(h, "careloop", False))


def _client(settings, **overrides) -> TestClient[Any]:
    return TestClient(app=create_app(settings.model_copy(update=overrides), start_workers=False),
                      base_url="http://testserver")


def test_a_sane_request_id_is_echoed_and_a_missing_one_is_made(client):
    given = client.get("/healthz", headers={"X-Request-ID": "edge-7f3a.1"})
    assert given.headers["x-request-id"] == "edge-7f3a.1"
    made = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert made.headers["x-request-id"] != client.get("/healthz").headers["x-request-id"]


def test_a_request_id_that_could_forge_log_lines_is_replaced(client):
    response = client.get("/healthz", headers={"X-Request-ID": "x\" level=ERROR forged " + "a" * 80})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_error_and_unrouted_responses_carry_a_request_id_too(client):
    missing = client.get("/no-such-page", headers={"X-Request-ID": "lost-1"})
    assert missing.status_code == 404 and missing.headers["x-request-id"] == "lost-1"
    refused = client.get("/admin/audit", headers={"X-Request-ID": "denied-1"}, follow_redirects=False)
    assert refused.status_code in (302, 303, 401, 403) and refused.headers["x-request-id"] == "denied-1"


def test_json_logs_have_one_object_per_line_with_the_request_id(settings):
    with _client(settings, log_format="json") as client:
        stream = io.StringIO()
        _careloop_handler().setStream(stream)  # type: ignore[attr-defined]
        client.get("/healthz", headers={"X-Request-ID": "trace-42"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    access = [entry for entry in lines if entry["logger"] == "careloop.access"]
    assert access, stream.getvalue()
    assert access[-1]["request_id"] == "trace-42"
    assert access[-1]["route"] == "/healthz" and access[-1]["status"] == 200
    assert isinstance(access[-1]["duration_ms"], float)


def test_app_log_lines_written_during_a_request_get_its_id():
    record = logging.LogRecord("followup.service", logging.WARNING, __file__, 1, "reading %s odd", (7,), None)
    token = request_id_var.set("req-abc")
    try:
        handler = logging.StreamHandler(io.StringIO())
        handler.setFormatter(JsonLineFormatter())
        for log_filter in _filters_of_app_handler():
            handler.addFilter(log_filter)
        handler.handle(record)
    finally:
        request_id_var.reset(token)
    entry = json.loads(handler.stream.getvalue())
    assert entry == {**entry, "request_id": "req-abc", "message": "reading 7 odd", "level": "WARNING"}


def _filters_of_app_handler() -> list[Any]:
    from core.observability import configure_logging
    from core.settings import Settings

    return configure_logging(Settings(_env_file=None)).filters  # type: ignore[call-arg]


def test_readyz_is_ready_when_database_and_broker_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "broker": "ok"}


def test_readyz_is_503_when_the_broker_is_unreachable(settings):
    with _client(settings, broker_url="redis://127.0.0.1:1/0") as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["broker"].startswith("unreachable") and response.json()["database"] == "ok"


def test_healthz_is_liveness_only_and_stays_200_when_the_database_is_unreachable(settings):
    # A database blip must take web processes out of rotation (/readyz), not get them restarted (/healthz).
    with _client(settings, database_url="postgresql+psycopg://postgres@127.0.0.1:1/none") as client:
        health, ready = client.get("/healthz"), client.get("/readyz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 503


def test_readyz_is_503_when_the_database_is_unreachable(settings):
    with _client(settings, database_url="postgresql+psycopg://postgres@127.0.0.1:1/none") as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"].startswith("unreachable")


def test_metrics_count_requests_by_route_template_not_by_path(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="doctor", username="metricsdoc")
    patient = make_patient(session, clinic)
    session.commit()
    login_staff(client, "metricsdoc")
    assert client.get(f"/patients/{patient.id}").status_code == 200
    text = client.get("/metrics").text
    routes = {s.labels["route"] for s in _samples(text, "careloop_http_requests_total")}
    assert "/patients/{patient_id}" in routes
    assert not any(str(patient.id) in route for route in routes if route.startswith("/patients/"))
    latency = _samples(text, "careloop_http_request_duration_seconds_count")
    assert any(s.labels["route"] == "/patients/{patient_id}" and s.value >= 1 for s in latency)


def test_metrics_show_outbox_depth_and_sms_by_status(client, session):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    queue_sms(session=session, phone=patient.phone, body="please measure", purpose="test", clinic_id=clinic.id)
    session.commit()
    text = client.get("/metrics").text
    assert _samples(text, "careloop_outbox_depth")[0].value == 1
    assert _samples(text, "careloop_outbox_oldest_age_seconds")[0].value >= 0
    jobs = {(s.labels["actor"], s.labels["status"]): s.value for s in _samples(text, "careloop_outbox_jobs")}
    assert jobs[("core.send_sms", "pending")] == 1
    sms = {s.labels["status"]: s.value for s in _samples(text, "careloop_sms_messages")}
    assert sms["queued"] == 1


def test_metrics_need_the_token_when_one_is_set(settings):
    with _client(settings, metrics_token="scrape-secret") as client:
        assert client.get("/metrics").status_code == 403
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        allowed = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert allowed.status_code == 200 and "careloop_http_requests_total" in allowed.text


def test_metrics_without_a_token_refuse_callers_through_a_proxy(client):
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    assert client.get("/metrics").status_code == 200
