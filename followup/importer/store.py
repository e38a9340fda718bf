"""Writing a batch of checked import readings in bulk, idempotently by the (patient_id, external_id) key.

PostgreSQL: COPY into a temporary staging table, then one INSERT … SELECT … ON CONFLICT DO NOTHING, which
stores at close to the speed of COPY itself. SQLite: one multi-row INSERT … ON CONFLICT DO NOTHING per few
hundred rows. Either way a key already in the database (an earlier import, a concurrent one) is skipped, not
an error, and the caller learns exactly which keys were stored. Nothing here judges a value: rows arrive
validated (followup.importer.run)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, Table, select
from sqlalchemy.dialects import sqlite
from sqlmodel import Session

from followup.enums import ReadingKind, ReadingSource
from followup.models import Reading
from followup.validation import ResolvedReading

Key = tuple[int, str]  # (patient_id, external_id)
# The columns an imported reading sets; the rest keep their defaults (NULL, or "" for the note).
COLUMNS = ("clinic_id", "patient_id", "kind", "context", "meter_flag", "value_original", "unit_original", "systolic",
           "diastolic", "value_canonical", "taken_at", "received_at", "source", "entered_by_kind", "external_id",
           "note")
STAGE = "reading_import_stage"
LOOKUP_CHUNK = 5_000  # ids per IN list: well under SQLite's bound-parameter limit


def reading_row(*, clinic_id: int, patient_id: int, resolved: ResolvedReading, taken_at: datetime,
                received_at: datetime, external_id: str) -> tuple[Any, ...]:
    """The values of COLUMNS for one reading, exactly as followup.service.record_readings stores it: the value
    and unit as sent beside the canonical value; a pressure keeps its two numbers in systolic/diastolic."""
    is_bp = resolved.kind == ReadingKind.blood_pressure
    return (clinic_id, patient_id, resolved.kind, resolved.context, resolved.flag,
            None if is_bp or not resolved.values else resolved.values[0], str(resolved.unit),
            int(resolved.values[0]) if is_bp else None, int(resolved.values[1]) if is_bp else None,
            None if is_bp or not resolved.canonical else resolved.canonical[0],
            taken_at, received_at, ReadingSource.import_, "import", external_id, "")


def insert_new(session: Session, rows: Sequence[tuple[Any, ...]]) -> dict[Key, int]:
    """Store every row whose (patient_id, external_id) is not stored yet, in the given order; the keys stored
    and their new reading ids. Rows must not repeat a key among themselves (the caller keeps the first)."""
    if not rows:
        return {}
    session.flush()  # anything the session still holds goes first, as a row-by-row import would have it
    if session.get_bind().dialect.name == "postgresql":
        return _copy_and_insert(session, rows)
    return _insert_many(session, rows)


def _copy_and_insert(session: Session, rows: Sequence[tuple[Any, ...]]) -> dict[Key, int]:
    table: Table = Reading.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect
    # COPY takes database values, as the columns' own bind processors make them (an enum member becomes its
    # label: ReadingSource.import_ is stored as "import_"); an enum column holds a few values, each converted once.
    processors: list[Callable[[Any], Any] | None] = []
    for name in COLUMNS:
        column_type = table.c[name].type
        processor = column_type.dialect_impl(dialect).bind_processor(dialect)
        processors.append(functools.cache(processor) if processor and isinstance(column_type, Enum) else processor)
    columns = ", ".join(COLUMNS)
    driver = session.connection().connection.driver_connection  # psycopg, inside the session's transaction
    assert driver is not None
    with driver.cursor() as cursor:
        # The staging table has reading's own column types (so COPY checks them) and vanishes with the batch.
        cursor.execute(f"CREATE TEMPORARY TABLE {STAGE} ON COMMIT DROP AS "
                       f"SELECT 0 AS position, {columns} FROM reading WITH NO DATA")
        with cursor.copy(f"COPY {STAGE} (position, {columns}) FROM STDIN") as copy:
            for position, row in enumerate(rows):
                copy.write_row((position, *(p(v) if p else v for p, v in zip(processors, row, strict=True))))
        cursor.execute(f"INSERT INTO reading ({columns}) SELECT {columns} FROM {STAGE} ORDER BY position "
                       "ON CONFLICT (patient_id, external_id) DO NOTHING RETURNING patient_id, external_id, id")
        stored = {(patient_id, external_id): id_ for patient_id, external_id, id_ in cursor.fetchall()}
        cursor.execute(f"DROP TABLE {STAGE}")  # a second batch in the same transaction makes its own
    return stored


def _insert_many(session: Session, rows: Sequence[tuple[Any, ...]]) -> dict[Key, int]:
    table: Table = Reading.__table__  # type: ignore[attr-defined]
    statement = (sqlite.insert(table).on_conflict_do_nothing(index_elements=["patient_id", "external_id"])
                 .returning(table.c.patient_id, table.c.external_id, table.c.id))
    # One statement with many parameter sets: SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues").
    result = session.execute(statement, [dict(zip(COLUMNS, row, strict=True)) for row in rows])
    return {(patient_id, external_id): id_ for patient_id, external_id, id_ in result}


def stored_keys(session: Session, keys: Iterable[Key]) -> set[Key]:
    """Which of these (patient_id, external_id) keys are already stored (a dry run asks; it writes nothing)."""
    wanted = set(keys)
    patients = sorted({p for p, _ in wanted})
    found: set[Key] = set()
    external = sorted({e for _, e in wanted})
    for start in range(0, len(external), LOOKUP_CHUNK):
        query = select(Reading.patient_id, Reading.external_id).where(
            Reading.patient_id.in_(patients), Reading.external_id.in_(external[start:start + LOOKUP_CHUNK]))
        found |= {(p, e) for p, e in session.execute(query) if (p, e) in wanted}
    return found


def owners_of(session: Session, reading_ids: Iterable[int]) -> dict[int, int]:
    """reading id → patient id, for the ids that exist (a FHIR export of ours names its readings by id)."""
    ids = sorted({i for i in reading_ids if 0 < i < 2**63})  # beyond a bigint names nothing (and would overflow)
    owners: dict[int, int] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        query = select(Reading.id, Reading.patient_id).where(Reading.id.in_(ids[start:start + LOOKUP_CHUNK]))
        owners.update({id_: patient_id for id_, patient_id in session.execute(query)})
    return owners
