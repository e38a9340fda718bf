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
# The columns an imported reading sets; the rest keep their defaults (NULL). Per reading, those of ROW_COLUMNS
# (reading_row); the others hold one value for the whole batch (batch_values).
ROW_COLUMNS = ("patient_id", "kind", "context", "meter_flag", "value_original", "unit_original", "systolic",
               "diastolic", "value_canonical", "taken_at", "external_id")
BATCH_COLUMNS = ("clinic_id", "received_at", "source", "entered_by_kind", "note")
COLUMNS = ROW_COLUMNS + BATCH_COLUMNS
STAGE = "reading_import_stage"
LOOKUP_CHUNK = 5_000  # ids per IN list: well under SQLite's bound-parameter limit


def reading_row(*, patient_id: int, resolved: ResolvedReading, taken_at: datetime, external_id: str) -> tuple[Any, ...]:
    """The values of ROW_COLUMNS for one reading, exactly as followup.service.record_readings stores it: the value
    and unit as sent beside the canonical value; a pressure keeps its two numbers in systolic/diastolic."""
    if resolved.kind == ReadingKind.blood_pressure:
        systolic, diastolic = resolved.values
        return (patient_id, resolved.kind, resolved.context, resolved.flag, None, str(resolved.unit), int(systolic),
                int(diastolic), None, taken_at, external_id)
    value = resolved.values[0] if resolved.values else None  # a meter flag (HI/LO) has none
    canonical = resolved.canonical[0] if resolved.canonical else None
    return (patient_id, resolved.kind, resolved.context, resolved.flag, value, str(resolved.unit), None, None,
            canonical, taken_at, external_id)


def batch_values(*, clinic_id: int, received_at: datetime) -> tuple[Any, ...]:
    """The values of BATCH_COLUMNS, the same for every reading of an import batch."""
    return (clinic_id, received_at, ReadingSource.import_, "import", "")


def database_rows(session: Session, rows: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Rows of reading_row as insert_new takes them. On PostgreSQL, what COPY sends: each with its position
    first, then the database values as the columns' own bind processors make them (an enum member becomes its
    label: ReadingKind.blood_pressure is stored as "blood_pressure"). Elsewhere the rows as they are."""
    if session.get_bind().dialect.name != "postgresql":
        return list(rows)
    converting = [(index + 1, p) for index, p in enumerate(_processors(session, ROW_COLUMNS)) if p]  # after position
    prepared = []
    for position, row in enumerate(rows):
        values = [position, *row]
        for index, processor in converting:
            values[index] = processor(values[index])
        prepared.append(values)
    return prepared


def insert_new(session: Session, rows: Sequence[Any], *, clinic_id: int, received_at: datetime) -> dict[Key, int]:
    """Store every row (database_rows) whose (patient_id, external_id) is not stored yet, in the given order;
    the keys stored and their new reading ids. Rows must not repeat a key among themselves (the caller keeps
    the first)."""
    if not rows:
        return {}
    session.flush()  # anything the session still holds goes first, as a row-by-row import would have it
    batch = batch_values(clinic_id=clinic_id, received_at=received_at)
    if session.get_bind().dialect.name == "postgresql":
        return _copy_and_insert(session, rows, batch)
    return _insert_many(session, rows, batch)


def _processors(session: Session, names: Sequence[str]) -> list[Callable[[Any], Any] | None]:
    """Each column's own bind processor, for COPY and raw parameters, which take database values (an enum
    member becomes its label: ReadingSource.import_ is stored as "import_"); an enum holds a few values, each
    converted once."""
    table: Table = Reading.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect
    processors: list[Callable[[Any], Any] | None] = []
    for name in names:
        column_type = table.c[name].type
        processor = column_type.dialect_impl(dialect).bind_processor(dialect)
        processors.append(functools.cache(processor) if processor and isinstance(column_type, Enum) else processor)
    return processors


def _copy_and_insert(session: Session, rows: Sequence[Any], batch: tuple[Any, ...]) -> dict[Key, int]:
    table: Table = Reading.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect
    # Only what varies goes through COPY; the batch's own values are parameters of the INSERT, cast to the
    # columns' types (the enum's among them), so they are stored exactly as if each row had carried them.
    constants = ", ".join(f"CAST(%s AS {table.c[name].type.compile(dialect=dialect)})" for name in BATCH_COLUMNS)
    params = [p(v) if p else v for p, v in zip(_processors(session, BATCH_COLUMNS), batch, strict=True)]
    columns = ", ".join(ROW_COLUMNS)
    driver = session.connection().connection.driver_connection  # psycopg, inside the session's transaction
    assert driver is not None
    with driver.cursor() as cursor:
        # The staging table has reading's own column types (so COPY checks them) and vanishes with the batch.
        cursor.execute(f"CREATE TEMPORARY TABLE {STAGE} ON COMMIT DROP AS "
                       f"SELECT 0 AS position, {columns} FROM reading WITH NO DATA")
        with cursor.copy(f"COPY {STAGE} (position, {columns}) FROM STDIN") as copy:
            for values in rows:
                copy.write_row(values)
        cursor.execute(f"INSERT INTO reading ({columns}, {', '.join(BATCH_COLUMNS)}) SELECT {columns}, {constants} "
                       f"FROM {STAGE} ORDER BY position "
                       "ON CONFLICT (patient_id, external_id) DO NOTHING RETURNING patient_id, external_id, id", params)
        stored = {(patient_id, external_id): id_ for patient_id, external_id, id_ in cursor.fetchall()}
        cursor.execute(f"DROP TABLE {STAGE}")  # a second batch in the same transaction makes its own
    return stored


def _insert_many(session: Session, rows: Sequence[tuple[Any, ...]], batch: tuple[Any, ...]) -> dict[Key, int]:
    table: Table = Reading.__table__  # type: ignore[attr-defined]
    statement = (sqlite.insert(table).on_conflict_do_nothing(index_elements=["patient_id", "external_id"])
                 .returning(table.c.patient_id, table.c.external_id, table.c.id))
    # One statement with many parameter sets: SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues").
    result = session.execute(statement, [dict(zip(COLUMNS, row + batch, strict=True)) for row in rows])
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
