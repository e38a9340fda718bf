"""Storing imported rows: each row all-or-nothing in a savepoint, idempotent by a stable external id, and
the follow-up rules run only on readings taken in the last 24 hours.

Why 24 hours: an import is mostly history (a device's memory, another system's records). Rules on a
three-week-old 185/100 would open "call within 1 hour" callbacks about moments long past and bury today's
real emergencies in the queue. Old readings still count: windowed rules (consecutive days, k of n, means)
read them from the database the next time a live reading arrives, and doctors see them in the history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from clinic.enums import RuleProfile
from clinic.models import Clinic, Patient
from clinic.service import find_patient_by_phone, normalise_phone, patient_timezone
from core.audit import record_audit
from core.db import utcnow
from core.errors import FieldError, FieldErrors, ValidationFailed
from core.models import AuditAction
from core.security import mask_phone
from followup.enums import ReadingSource
from followup.flows import evaluate_readings
from followup.importer.sources import SourceRow
from followup.models import Reading
from followup.service import Entry, record_readings
from followup.submission import content_key, external_ids, resolve

RECENT_WINDOW = timedelta(hours=24)


@dataclass
class RowProblem:
    number: int
    label: str  # "row" or "entry"
    errors: list[FieldError]


@dataclass
class ImportReport:
    rows: int = 0
    added_rows: int = 0
    present_rows: int = 0
    readings_added: int = 0
    evaluated: int = 0  # new readings recent enough for the rules
    callbacks_opened: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    patients: set[int] = field(default_factory=set)

    @property
    def rejected_rows(self) -> int:
        return len(self.problems)


class Importer:
    """Imports batches of rows into one clinic; call `run` per batch (each batch is the caller's transaction)."""

    def __init__(self, *, clinic_id: int, patient_id: int | None = None, now: datetime | None = None,
                 dry_run: bool = False, identifier_system: str | None = None, source_name: str = "",
                 actor_name: str = "") -> None:
        self.clinic_id = clinic_id
        self.patient_id = patient_id  # every row goes to this patient (a one-patient FHIR export)
        self.now = now or utcnow()
        self.dry_run = dry_run
        self.identifier_system = identifier_system
        self.source_name = source_name
        self.actor_name = actor_name
        self.report = ImportReport()
        self._patients: dict[tuple[str, str], int] = {}
        self._planned: set[tuple[int, str | None]] = set()  # dry run: what this file would have added

    def run(self, session: Session, rows: Sequence[SourceRow]) -> None:
        clinic = session.get(Clinic, self.clinic_id)
        assert clinic is not None
        added: dict[int, list[Reading]] = defaultdict(list)
        for row in rows:
            self.report.rows += 1
            if row.submission is None:
                self.report.problems.append(RowProblem(row.number, row.label, row.errors))
                continue
            try:
                with session.begin_nested():  # a row is stored whole or not at all
                    patient, new = self._row(session, clinic, row)
            except ValidationFailed as exc:
                self.report.problems.append(RowProblem(row.number, row.label, exc.field_errors or [
                    FieldError("", exc.message, exc.params)]))
                continue
            if new:
                self.report.added_rows += 1
                self.report.readings_added += len(new)
                added[patient.id].extend(new)
            else:
                self.report.present_rows += 1
        if not self.dry_run:
            for patient_id, readings in added.items():
                self._after_patient(session, clinic, patient_id, readings)

    def _row(self, session: Session, clinic: Clinic, row: SourceRow) -> tuple[Patient, list[Reading]]:
        assert row.submission is not None
        patient = self._patient(session, clinic, row)
        submission = row.submission
        if submission.taken_at.tzinfo is None:  # a local time in the file: the patient's own clock
            tz = patient_timezone(patient=patient, clinic=clinic)
            submission = replace(submission, taken_at=submission.taken_at.replace(tzinfo=tz))
        resolved = resolve(submission, now=self.now)
        ids = external_ids(submission.external_id or content_key(resolved, submission.taken_at), resolved)
        if self._own_reading(session, patient, submission.external_id):
            return patient, []
        before = {r.id: r.external_id for r in session.scalars(select(Reading).where(
            Reading.patient_id == patient.id, Reading.external_id.in_([i for i in ids if i])))}
        if self.dry_run:
            # Nothing is written, not even to roll back later: a savepoint released on SQLite would commit.
            wanted = {(patient.id, i) for i in ids if i not in before.values()}
            fresh = wanted - self._planned
            self._planned |= wanted
            return patient, [Reading(patient_id=patient.id, external_id=i) for _, i in sorted(fresh, key=str)]
        entry = Entry(source=ReadingSource.import_, kind="import")
        stored = record_readings(session=session, patient=patient, readings=resolved,
                                 taken_at=submission.taken_at, entry=entry, external_ids=ids)
        return patient, [r for r in stored if r.id not in before]

    def _own_reading(self, session: Session, patient: Patient, external_id: str | None) -> bool:
        """A reading this deployment exported, coming back to the same patient, is already here."""
        prefix = f"{self.identifier_system}|" if self.identifier_system else None
        if not prefix or not external_id or not external_id.startswith(prefix):
            return False
        number = external_id.removeprefix(prefix)
        if not number.isdigit():
            return False
        reading = session.get(Reading, int(number))
        return reading is not None and reading.patient_id == patient.id

    def _patient(self, session: Session, clinic: Clinic, row: SourceRow) -> Patient:
        errors = FieldErrors()
        key = row.patient
        if self.patient_id is not None:
            cache_key, lookup = ("id", str(self.patient_id)), self.patient_id
        elif key.patient_id is not None:
            cache_key, lookup = ("id", str(key.patient_id)), key.patient_id
        elif key.phone:
            cache_key, lookup = ("phone", key.phone), None
        else:
            errors.add("subject", "Whose reading is this? Run the import with --patient ID, or include the "
                                  "Patient resource with a phone number in the Bundle.")
            errors.raise_if_any()
        patient_id = self._patients.get(cache_key)
        if patient_id is None:
            patient_id = self._find(session, clinic, cache_key, lookup, errors)
            self._patients[cache_key] = patient_id
        patient = session.get(Patient, patient_id)
        assert patient is not None
        return patient

    def _find(self, session: Session, clinic: Clinic, cache_key: tuple[str, str], lookup: int | None,
              errors: FieldErrors) -> int:
        if lookup is not None:
            # An id beyond a database integer names no patient (and would overflow the driver).
            patient = session.get(Patient, lookup) if 0 < lookup < 2**63 else None
            if patient is None or patient.clinic_id != clinic.id:
                errors.add("patient_id", "No patient with id %(id)s in this clinic.", id=lookup)
                errors.raise_if_any()
            assert patient is not None and patient.id is not None
            return patient.id
        raw = cache_key[1]
        region = "CN" if clinic.profile == RuleProfile.cn else "US"
        phone = normalise_phone(raw, default_region=region)
        found = find_patient_by_phone(session=session, phone=phone) if phone else None
        if found is None or found.clinic_id != clinic.id:
            errors.add("phone", "No patient with phone %(phone)s in this clinic.", phone=mask_phone(phone or raw))
            errors.raise_if_any()
        assert found is not None and found.id is not None
        return found.id

    def _after_patient(self, session: Session, clinic: Clinic, patient_id: int, readings: list[Reading]) -> None:
        patient = session.get(Patient, patient_id)
        assert patient is not None
        self.report.patients.add(patient_id)
        recent = [r for r in readings if r.taken_at >= self.now - RECENT_WINDOW]
        if recent:
            evaluation = evaluate_readings(session=session, patient=patient, clinic=clinic, readings=recent,
                                           now=self.now)
            self.report.evaluated += len(recent)
            self.report.callbacks_opened += len(evaluation.opened)
        ids = ",".join(str(r.id) for r in readings)
        record_audit(session=session, action=AuditAction.create, object_type="reading", clinic_id=clinic.id,
                     patient_id=patient_id, actor_kind="import", actor_name=self.actor_name,
                     detail=f"import {self.source_name[:80]}: {len(readings)} readings, {len(recent)} evaluated "
                            f"by the rules; ids {ids}")
