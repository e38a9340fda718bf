"""Storing imported rows: every row checked in Python one by one, the good ones written in bulk, idempotent by
a stable external id per reading, and the follow-up rules run only on readings taken in the last 24 hours.

A batch costs a handful of statements whatever its size: one query per kind of patient key (ids, phones) not
seen in an earlier batch, one for readings this deployment exported coming back, one bulk write
(followup.importer.store), and for the patients with recent readings the rules, once per patient. A row is
still all-or-nothing: it is either rejected whole, with its number and every field at fault, before anything is
written, or all of its readings are written (or found already stored).

Why 24 hours: an import is mostly history (a device's memory, another system's records). Rules on a
three-week-old 185/100 would open "call within 1 hour" callbacks about moments long past and bury today's
real emergencies in the queue. Old readings still count: windowed rules (consecutive days, k of n, means)
read them from the database the next time a live reading arrives, and doctors see them in the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from clinic.enums import RuleProfile
from clinic.models import Clinic, Patient
from clinic.service import normalise_phone, patient_timezone
from core.audit import record_patient_audits
from core.db import utcnow
from core.errors import FieldError, FieldErrors, ValidationFailed
from core.models import AuditAction
from core.security import mask_phone
from followup.importer.quick import quick_resolve
from followup.importer.sources import SourceRow
from followup.importer.store import (
    LOOKUP_CHUNK,
    Key,
    database_rows,
    insert_new,
    owners_of,
    reading_row,
    stored_keys,
)
from followup.models import Reading
from followup.submission import content_key, external_ids, resolve
from followup.validation import ResolvedReading

RECENT_WINDOW = timedelta(hours=24)
PatientLookup = tuple[str, int | str]  # ("id", 12) or ("phone", "13800138000" as written in the file)


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


@dataclass
class _Checked:
    """A row that passed every check: whose it is, when (with a time zone), and each reading with its id."""

    row: SourceRow
    patient_id: int
    taken_at: datetime
    readings: list[ResolvedReading]
    ids: list[str]


@dataclass
class CheckedBatch:
    rows: list[_Checked]  # the good rows, in file order
    own_readings: int  # rows that are this deployment's own exported readings coming back: already present
    # What `store` writes, made while checking (the command checks the next batch while one is being stored, so
    # the storing thread is left only the database's part): each new reading once, in file order, as
    # followup.importer.store.database_rows gives it, and which row each (patient, external id) belongs to.
    writes: list[Any] = field(default_factory=list)
    owner: dict[Key, int] = field(default_factory=dict)


class Importer:
    """Imports batches of rows into one clinic; call `run` per batch (each batch is the caller's transaction),
    or `check` and then `store` it."""

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
        # What earlier batches learnt about the file's patient keys: a patient id, or why the key names none.
        self._patients: dict[PatientLookup, int] = {}
        self._refused: dict[PatientLookup, FieldError] = {}
        self._zones: dict[int, ZoneInfo] = {}
        self._planned: set[Key] = set()  # dry run: what this file would have added

    def run(self, session: Session, rows: Sequence[SourceRow]) -> None:
        """Check and store one batch in the caller's transaction."""
        self.store(session, self.check(session, rows))

    def check(self, session: Session, rows: Sequence[SourceRow]) -> CheckedBatch:
        """Judge every row of a batch (reading, never writing), recording the rejected ones in the report.

        `check` and `store` touch different parts of the importer, so the command may check the next batch
        while the previous one is being stored; the batches must still be stored in order."""
        clinic = session.get(Clinic, self.clinic_id)
        assert clinic is not None
        self.report.rows += len(rows)
        problems = [RowProblem(r.number, r.label, r.errors) for r in rows if r.submission is None]
        readable = [r for r in rows if r.submission is not None]
        self._find_patients(session, clinic, readable)
        checked: list[_Checked] = []
        for row in readable:
            try:
                checked.append(self._check(row))
            except ValidationFailed as exc:
                problems.append(RowProblem(row.number, row.label, exc.field_errors or [
                    FieldError("", exc.message, exc.params)]))
        self.report.problems.extend(sorted(problems, key=lambda p: p.number))  # in file order, as found
        own = self._own_readings(session, checked)
        batch = CheckedBatch([c for c in checked if c.row.number not in own], own_readings=len(own))
        if not self.dry_run:
            self._plan(session, batch)
        return batch

    def store(self, session: Session, batch: CheckedBatch) -> None:
        """Write a checked batch (a dry run only counts), then run the rules and write the audit rows."""
        new = self._count_new(session, batch.rows) if self.dry_run else self._store(session, batch)
        added: dict[int, list[tuple[int, datetime]]] = {}
        self.report.present_rows += batch.own_readings
        for item, readings in zip(batch.rows, new, strict=True):
            if not readings:
                self.report.present_rows += 1
                continue
            self.report.added_rows += 1
            self.report.readings_added += len(readings)
            added.setdefault(item.patient_id, []).extend((i, item.taken_at) for i in readings)
        if not self.dry_run and added:
            clinic = session.get(Clinic, self.clinic_id)
            assert clinic is not None
            self._after_patients(session, clinic, added)

    # --- checking rows --------------------------------------------------------------------------------------

    def _lookup(self, row: SourceRow) -> PatientLookup | None:
        if self.patient_id is not None:
            return ("id", self.patient_id)
        if row.patient.patient_id is not None:
            return ("id", row.patient.patient_id)
        if row.patient.phone:
            return ("phone", row.patient.phone)
        return None

    def _find_patients(self, session: Session, clinic: Clinic, rows: Sequence[SourceRow]) -> None:
        """Resolve every patient key of the batch not met before: one query for ids, one for phones."""
        lookups = {key for key in map(self._lookup, rows) if key is not None}
        lookups -= self._patients.keys() | self._refused.keys()
        ids = [value for kind, value in lookups if kind == "id" and isinstance(value, int)]
        # An id beyond a database integer names no patient (and would overflow the driver).
        by_id = {p.id: p for p in self._load(session, Patient.id, [i for i in ids if 0 < i < 2**63])}
        for patient_id in ids:
            self._settle(("id", patient_id), clinic, by_id.get(patient_id),
                         FieldError("patient_id", "No patient with id %(id)s in this clinic.", {"id": patient_id}))
        region = "CN" if clinic.profile == RuleProfile.cn else "US"
        phones = {str(raw): normalise_phone(str(raw), default_region=region)
                  for kind, raw in lookups if kind == "phone"}
        by_phone = {p.phone: p for p in self._load(session, Patient.phone, [p for p in phones.values() if p],
                                                   active_only=True)}
        for raw, phone in phones.items():
            self._settle(("phone", raw), clinic, by_phone.get(phone) if phone else None,
                         FieldError("phone", "No patient with phone %(phone)s in this clinic.",
                                    {"phone": mask_phone(phone or raw)}))

    @staticmethod
    def _load(session: Session, column: Any, values: Sequence[object], *, active_only: bool = False) -> list[Patient]:
        found: list[Patient] = []
        for start in range(0, len(values), LOOKUP_CHUNK):
            query = select(Patient).where(column.in_(values[start:start + LOOKUP_CHUNK]))
            if active_only:  # as find_patient_and_clinic_by_phone: a phone names the active patient who holds it
                query = query.where(Patient.active.is_(True))
            found.extend(session.scalars(query))
        return found

    def _settle(self, key: PatientLookup, clinic: Clinic, patient: Patient | None, refusal: FieldError) -> None:
        if patient is None or patient.clinic_id != clinic.id or patient.id is None:
            self._refused[key] = refusal  # another clinic's patient is refused exactly like a missing one
            return
        self._patients[key] = patient.id
        self._zones[patient.id] = patient_timezone(patient=patient, clinic=clinic)

    def _check(self, row: SourceRow) -> _Checked:
        assert row.submission is not None
        key = self._lookup(row)
        if key is None:
            errors = FieldErrors()
            errors.add("subject", "Whose reading is this? Run the import with --patient ID, or include the "
                                  "Patient resource with a phone number in the Bundle.")
            errors.raise_if_any()
        assert key is not None
        if key in self._refused:
            refusal = self._refused[key]
            raise ValidationFailed("Please correct the highlighted fields.",
                                   field_errors=[FieldError(refusal.field, refusal.message, dict(refusal.params))])
        patient_id = self._patients[key]
        submission = row.submission
        taken_at = submission.taken_at
        if taken_at.tzinfo is None:  # a local time in the file: the patient's own clock
            taken_at = taken_at.replace(tzinfo=self._zones[patient_id])
        resolved = quick_resolve(submission, taken_at, self.now)
        if resolved is None:  # not a common row, or one to refuse: the general path judges it and says why
            if taken_at is not submission.taken_at:
                submission = replace(submission, taken_at=taken_at)
            resolved = resolve(submission, now=self.now)
        base = submission.external_id or content_key(resolved, taken_at)
        return _Checked(row, patient_id, taken_at, resolved,
                        [i for i in external_ids(base, resolved) if i is not None])

    def _own_readings(self, session: Session, checked: Sequence[_Checked]) -> set[int]:
        """Rows (by number) that are readings this deployment exported, coming back to the same patient."""
        prefix = f"{self.identifier_system}|" if self.identifier_system else None
        if not prefix:
            return set()
        named: dict[int, tuple[int, int]] = {}  # row number → (reading id, patient id)
        for item in checked:
            external_id = item.row.submission.external_id if item.row.submission else None
            number = external_id.removeprefix(prefix) if external_id and external_id.startswith(prefix) else ""
            if number.isascii() and number.isdigit():
                named[item.row.number] = (int(number), item.patient_id)
        owners = owners_of(session, [reading_id for reading_id, _ in named.values()])
        return {n for n, (reading_id, patient_id) in named.items() if owners.get(reading_id) == patient_id}

    # --- writing ------------------------------------------------------------------------------------------

    def _plan(self, session: Session, batch: CheckedBatch) -> None:
        """Fill the batch's writes and owners (no database work: the session only names the dialect)."""
        rows = []
        for index, item in enumerate(batch.rows):
            for resolved, external_id in zip(item.readings, item.ids, strict=True):
                key = (item.patient_id, external_id)
                if key in batch.owner:
                    continue  # the same reading twice in one file: the first row stores it, the second finds it
                batch.owner[key] = index
                rows.append(reading_row(patient_id=item.patient_id, resolved=resolved, taken_at=item.taken_at,
                                        external_id=external_id))
        batch.writes = database_rows(session, rows)

    def _store(self, session: Session, batch: CheckedBatch) -> list[list[int]]:
        """Write the batch; for each row the ids of its readings that were new (none: all already stored)."""
        new: list[list[int]] = [[] for _ in batch.rows]
        for key, reading_id in insert_new(session, batch.writes, clinic_id=self.clinic_id,
                                          received_at=utcnow()).items():
            new[batch.owner[key]].append(reading_id)
        return [sorted(ids) if len(ids) > 1 else ids for ids in new]

    def _count_new(self, session: Session, checked: Sequence[_Checked]) -> list[list[int]]:
        """A dry run's answer to _store, writing nothing (a savepoint released on SQLite would commit)."""
        before = stored_keys(session, {(c.patient_id, i) for c in checked for i in c.ids})
        new: list[list[int]] = []
        for item in checked:
            wanted = {(item.patient_id, i) for i in item.ids if (item.patient_id, i) not in before}
            fresh = wanted - self._planned
            self._planned |= wanted
            new.append([0] * len(fresh))  # no ids yet: nothing was stored
        return new

    def _after_patients(self, session: Session, clinic: Clinic, added: dict[int, list[tuple[int, datetime]]]) -> None:
        """The rules, once per patient with recent new readings, and one audit row per patient of the batch."""
        cutoff = self.now - RECENT_WINDOW
        recent_ids = [i for readings in added.values() for i, taken_at in readings if taken_at >= cutoff]
        recent = {r.id: r for r in self._recent_readings(session, recent_ids)}
        patients = {p.id: p for p in self._load(session, Patient.id, list({r.patient_id for r in recent.values()}))}
        details: dict[int, str] = {}
        for patient_id, readings in added.items():
            self.report.patients.add(patient_id)
            mine = [recent[i] for i, _ in readings if i in recent]
            if mine:
                # Imported here: the rules engine (callbacks, jobs, SMS texts) is slow to load, and an import of
                # history, the usual kind, never runs it.
                from followup.flows import evaluate_readings

                evaluation = evaluate_readings(session=session, patient=patients[patient_id], clinic=clinic,
                                               readings=mine, now=self.now)
                self.report.evaluated += len(mine)
                self.report.callbacks_opened += len(evaluation.opened)
            ids = ",".join(str(i) for i, _ in readings[:80])  # the detail keeps 500 characters in any case
            details[patient_id] = (f"import {self.source_name[:80]}: {len(readings)} readings, {len(mine)} evaluated "
                                   f"by the rules; ids {ids}")
        record_patient_audits(session=session, action=AuditAction.create, object_type="reading",
                              clinic_id=self.clinic_id, actor_kind="import", actor_name=self.actor_name,
                              details=details)

    @staticmethod
    def _recent_readings(session: Session, ids: list[int]) -> list[Reading]:
        found: list[Reading] = []
        for start in range(0, len(ids), LOOKUP_CHUNK):
            found.extend(session.scalars(select(Reading).where(Reading.id.in_(ids[start:start + LOOKUP_CHUNK]))))
        return found
