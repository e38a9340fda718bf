"""The readings JSON API under /api/v1: submit a reading, list a patient's readings, export them as FHIR.

Bearer tokens, clinic-scoped (another clinic's patient is a 404), an audit row for every read and write.
A submission is idempotent by its external_id or an Idempotency-Key header: a retry stores nothing new
and answers 200 with the reading stored the first time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.params import Body, Parameter
from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlmodel import Session

from clinic.service import get_patient, get_patient_and_clinic, patient_timezone
from core.audit import record_audit
from core.db import utcnow
from core.errors import Conflict, DomainError, FieldError, FieldErrors, ValidationFailed
from core.models import AuditAction
from core.security import CLINICAL_ROLES, STAFF_ROLES
from core.settings import Settings
from core.web import client_address, principal_of, request_language, requires
from followup import fhir
from followup.enums import GlucoseContext, MeterFlag, ReadingKind, ReadingSource
from followup.flows import evaluate_readings
from followup.models import (
    AlertRead,
    Callback,
    CallbackEvent,
    CallbackStatus,
    Reading,
    ReadingCreate,
    ReadingCreated,
    ReadingList,
    ReadingRead,
)
from followup.service import Entry, clinic_of, list_readings, record_readings
from followup.submission import EXAMPLE_TIME, Submission, external_ids, fit_external_id, resolve
from followup.units import CANONICAL_UNIT
from followup.validation import ResolvedReading

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = 80
_CHOICES = {"kind": ReadingKind, "context": GlucoseContext, "meter_flag": MeterFlag}


def _inline_schema(model: type[ReadingCreate]) -> dict[str, Any]:
    """ReadingCreate's JSON schema with its enum definitions inlined, for the OpenAPI request body."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return inline(schema)


ReadingBody = Annotated[dict[str, Any], Body(
    title="ReadingCreate", schema_extra=_inline_schema(ReadingCreate),
    description="glucose: value + unit (mmol/L or mg/dL) + context, or meter_flag hi/lo; blood_pressure: systolic "
                "+ diastolic [+ pulse]; heart_rate: value; weight: value + unit (kg, jin, lb). taken_at is ISO 8601 "
                f"with its UTC offset, e.g. {EXAMPLE_TIME}. Send external_id or an Idempotency-Key header to make "
                "retries safe.",
)]


# --- reading the request ------------------------------------------------------------------------------------


def _pydantic_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic's findings as translatable field messages (its own texts are English only)."""
    found: list[FieldError] = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "body"
        kind = error["type"]
        if kind == "missing":
            found.append(FieldError(name, "This field is required."))
        elif kind == "extra_forbidden":
            found.append(FieldError(name, "Unknown field."))
        elif kind == "enum" and name in _CHOICES:
            found.append(FieldError(name, "Choose one of: %(choices)s.",
                                    {"choices": ", ".join(c.value for c in _CHOICES[name])}))
        elif kind.startswith("int_"):
            found.append(FieldError(name, "Enter a whole number."))
        elif kind.startswith(("decimal_", "float_")) or kind == "finite_number":
            found.append(FieldError(name, "Enter a number."))
        elif kind.startswith(("datetime_", "timezone_")):
            found.append(FieldError(name, "Give the time with its UTC offset, e.g. %(example)s.",
                                    {"example": EXAMPLE_TIME}))
        elif kind == "string_too_long":
            found.append(FieldError(name, "Use at most %(max)s characters.",
                                    {"max": (error.get("ctx") or {}).get("max_length", "")}))
        else:
            found.append(FieldError(name, "This value is not valid."))
    return found


def _submission(data: dict[str, Any]) -> tuple[int, Submission]:
    try:
        body = ReadingCreate.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("Please correct the highlighted fields.", field_errors=_pydantic_errors(exc)) from exc
    return body.patient_id, Submission(
        kind=body.kind, taken_at=body.taken_at, value=body.value, systolic=body.systolic, diastolic=body.diastolic,
        pulse=body.pulse, unit=body.unit, context=body.context, meter_flag=body.meter_flag,
        external_id=fit_external_id(body.external_id) if body.external_id else None)


def _base_id(request: Request[Any, Any, Any], submission: Submission) -> str | None:
    if submission.external_id:
        return submission.external_id
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if not key:
        return None
    if len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
        errors = FieldErrors()
        errors.add(IDEMPOTENCY_HEADER, "Use an Idempotency-Key of at most %(max)s printable characters.",
                   max=IDEMPOTENCY_KEY_MAX)
        errors.raise_if_any()
    return f"idempotency:{key}"


def _language(request: Request[Any, Any, Any]) -> str:
    return request.state.get("language") or request_language(request)


def _query_time(raw: str | None, name: str, tz: tzinfo, errors: FieldErrors, *, end: bool = False) -> datetime | None:
    """A filter bound: a date is the patient's local day (an `until` date includes that day); a time without
    an offset is the patient's local time."""
    if not raw:
        return None
    try:
        if "T" not in raw and " " not in raw.strip():
            day = date.fromisoformat(raw.strip())
            value = datetime.combine(day + timedelta(days=1 if end else 0), time(0), tzinfo=tz)
        else:
            value = datetime.fromisoformat(raw.strip())
            value = value if value.tzinfo is not None else value.replace(tzinfo=tz)
        value.astimezone(UTC)  # stored times are UTC: a local moment in year 1 may not exist there
    except (ValueError, OverflowError):
        errors.add(name, "Give a date (2026-11-20) or a time with its UTC offset, e.g. %(example)s.",
                   example=EXAMPLE_TIME)
        return None
    return value


def _range(since: str | None, until: str | None, tz: tzinfo) -> tuple[datetime | None, datetime | None]:
    errors = FieldErrors()
    start = _query_time(since, "since", tz, errors)
    stop = _query_time(until, "until", tz, errors, end=True)
    if errors.errors:
        raise DomainError("Some of the values are not valid.", field_errors=errors.errors)
    return start, stop


# --- shaping the answer -------------------------------------------------------------------------------------


def to_reading_read(reading: Reading, tz: tzinfo) -> ReadingRead:
    return ReadingRead(
        id=reading.id, patient_id=reading.patient_id, kind=reading.kind, value=reading.value_original,
        unit=reading.unit_original, systolic=reading.systolic, diastolic=reading.diastolic,
        value_canonical=reading.value_canonical, canonical_unit=str(CANONICAL_UNIT[ReadingKind(reading.kind)]),
        context=reading.context, meter_flag=reading.meter_flag, taken_at=reading.taken_at.astimezone(tz),
        received_at=reading.received_at.astimezone(tz), source=reading.source, entered_by=reading.entered_by_kind,
        external_id=reading.external_id, loinc=reading.loinc,
    )


def _alert(callback: Callback, *, opened: bool, tz: tzinfo, language: str) -> AlertRead:
    return AlertRead(callback_id=callback.id, rule_code=callback.rule_code, severity=callback.severity,
                     due_at=callback.due_at.astimezone(tz), opened=opened,
                     reason=callback.reason_zh if language == "zh-CN" else callback.reason_en)


def _alerts_for_stored(db: Session, readings: list[Reading], tz: tzinfo, language: str) -> list[AlertRead]:
    """On a retry, the callbacks the first call raised, so a client that lost that answer still learns them."""
    ids = {r.id for r in readings}
    earliest = min(r.received_at for r in readings) - timedelta(minutes=1)
    candidates = db.scalars(select(Callback).where(
        Callback.patient_id == readings[0].patient_id,
        or_(Callback.status == CallbackStatus.open, Callback.opened_at >= earliest)).order_by(Callback.id))
    alerts = []
    for callback in candidates:
        if not ids & set(callback.reading_ids):
            continue
        opening = db.scalar(select(CallbackEvent).where(CallbackEvent.callback_id == callback.id,
                                                         CallbackEvent.kind == "opened"))
        opened = bool(opening and ids & set(opening.detail.get("reading_ids") or []))
        alerts.append(_alert(callback, opened=opened, tz=tz, language=language))
    return alerts


def _same(reading: Reading, resolved: ResolvedReading, taken_at: datetime) -> bool:
    if reading.kind != resolved.kind or reading.taken_at != taken_at or reading.meter_flag != resolved.flag:
        return False
    if resolved.kind == ReadingKind.blood_pressure:
        return (reading.systolic, reading.diastolic) == tuple(int(v) for v in resolved.values)
    value = resolved.values[0] if resolved.values else None
    return reading.value_original == value and reading.unit_original == str(resolved.unit) and (
        reading.context == resolved.context)


def _stored(db: Session, patient_id: int, ids: list[str | None]) -> dict[str, Reading]:
    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    rows = db.scalars(select(Reading).where(Reading.patient_id == patient_id, Reading.external_id.in_(wanted)))
    return {r.external_id: r for r in rows if r.external_id}


class ReadingApiController(Controller):
    path = "/api/v1"
    tags = ["readings"]

    @post("/readings", guards=[requires(*CLINICAL_ROLES)], sync_to_thread=True, status_code=201,
          summary="Submit a reading (201 with any alert raised; 200 when a retry finds it stored)")
    def create_reading(self, request: Request[Any, Any, Any], db: Session,
                       data: ReadingBody) -> Response[ReadingCreated]:
        principal = principal_of(request)
        patient_id, submission = _submission(data)
        patient, clinic = get_patient_and_clinic(session=db, clinic_id=principal.clinic_id, patient_id=patient_id)
        tz, language = patient_timezone(patient=patient, clinic=clinic), _language(request)
        resolved = resolve(submission, now=utcnow())
        ids = external_ids(_base_id(request, submission), resolved)
        found = _stored(db, patient.id, ids)
        for index, external_id in enumerate(ids):
            if external_id in found and not _same(found[external_id], resolved[index], submission.taken_at):
                raise Conflict("This %(key)s was already used for a different reading.", field_errors=[
                    FieldError("external_id" if submission.external_id else IDEMPOTENCY_HEADER,
                               "Already used for a different reading.")],
                    key="external_id" if submission.external_id else IDEMPOTENCY_HEADER)
        if found and len(found) == len(ids):
            stored = [found[i] for i in ids if i]
            record_audit(session=db, action=AuditAction.view, object_type="reading",
                         object_id=",".join(str(r.id) for r in stored)[:64], patient_id=patient.id, principal=principal,
                         client_address=client_address(request), detail="api retry: already stored")
            body = ReadingCreated(readings=[to_reading_read(r, tz) for r in stored],
                                  alerts=_alerts_for_stored(db, stored, tz, language))
            return Response(body, status_code=200)
        entry = Entry(source=ReadingSource.api, kind="api", user_id=principal.user_id)
        stored = record_readings(session=db, patient=patient, readings=resolved, taken_at=submission.taken_at,
                                 entry=entry, external_ids=ids)
        known = {r.id for r in found.values()}
        evaluation = evaluate_readings(session=db, patient=patient, clinic=clinic,
                                       readings=[r for r in stored if r.id not in known])
        opened = {c.id for c in evaluation.opened}
        alerts = [_alert(c, opened=c.id in opened, tz=tz, language=language) for c in evaluation.callbacks]
        record_audit(session=db, action=AuditAction.create, object_type="reading",
                     object_id=",".join(str(r.id) for r in stored)[:64], patient_id=patient.id, principal=principal,
                     client_address=client_address(request),
                     detail=f"api {submission.kind} alerts={','.join(a.rule_code for a in alerts) or 'none'}")
        return Response(ReadingCreated(readings=[to_reading_read(r, tz) for r in stored], alerts=alerts),
                        status_code=201)

    @get("/patients/{patient_id:int}/readings", guards=[requires(*STAFF_ROLES)], sync_to_thread=True,
         summary="A patient's readings, newest first (since/until: a date or an ISO time)")
    def list_patient_readings(
        self, request: Request[Any, Any, Any], db: Session, patient_id: int, kind: ReadingKind | None = None,
        since: str | None = None, until: str | None = None,
        page: int = Parameter(default=1, ge=1, le=100_000), per_page: int = Parameter(default=50, ge=1, le=500),
    ) -> ReadingList:
        principal = principal_of(request)
        patient = get_patient(session=db, clinic_id=principal.clinic_id, patient_id=patient_id)
        tz = patient_timezone(patient=patient, clinic=clinic_of(session=db, patient=patient))
        start, stop = _range(since, until, tz)
        rows, total = list_readings(session=db, patient_id=patient.id, kind=kind, since=start, until=stop,
                                    page=page, per_page=per_page)
        record_audit(session=db, action=AuditAction.view, object_type="reading_list", object_id=patient.id,
                     patient_id=patient.id, principal=principal, client_address=client_address(request),
                     detail=f"api page={page} count={len(rows)}")
        return ReadingList(patient_id=patient.id, items=[to_reading_read(r, tz) for r in rows], total=total,
                           page=page, per_page=per_page)

    @get("/patients/{patient_id:int}/observations", guards=[requires(*CLINICAL_ROLES)], sync_to_thread=True,
         summary="A patient's readings as a FHIR R4 searchset Bundle of Observations",
         media_type="application/fhir+json")
    def export_observations(
        self, request: Request[Any, Any, Any], db: Session, settings: Settings, patient_id: int,
        kind: ReadingKind | None = None, since: str | None = None, until: str | None = None,
        page: int = Parameter(default=1, ge=1, le=100_000), per_page: int = Parameter(default=500, ge=1, le=1000),
    ) -> Response[dict[str, Any]]:
        principal = principal_of(request)
        patient = get_patient(session=db, clinic_id=principal.clinic_id, patient_id=patient_id)
        tz = patient_timezone(patient=patient, clinic=clinic_of(session=db, patient=patient))
        start, stop = _range(since, until, tz)
        rows, total = list_readings(session=db, patient_id=patient.id, kind=kind, since=start, until=stop,
                                    page=page, per_page=per_page)
        system = fhir.reading_identifier_system(settings.public_url)
        bundle = fhir.searchset([fhir.observation(r, tz=tz, identifier_system=system) for r in rows], total=total,
                                identifier_system=system, timestamp=utcnow().astimezone(tz),
                                links=_links(request, settings, page=page, per_page=per_page, total=total))
        record_audit(session=db, action=AuditAction.export, object_type="observation_bundle", object_id=patient.id,
                     patient_id=patient.id, principal=principal, client_address=client_address(request),
                     detail=f"fhir page={page} count={len(rows)} total={total}")
        return Response(bundle, media_type="application/fhir+json")


def _links(request: Request[Any, Any, Any], settings: Settings, *, page: int, per_page: int,
           total: int) -> dict[str, str]:
    base = settings.public_url.rstrip("/") + request.url.path
    params = {k: v for k, v in request.query_params.items() if k not in ("page", "per_page")}

    def url(number: int) -> str:
        return base + "?" + urlencode({**params, "page": number, "per_page": per_page})

    links = {"self": url(page)}
    if page * per_page < total:
        links["next"] = url(page + 1)
    if page > 1:
        links["previous"] = url(page - 1)
    return links


HANDLERS: list[object] = [ReadingApiController]
