"""`careloop import readings FILE`: read the file, import it in batches under a progress bar, print a summary
and every rejected row with its number (optionally as a CSV report to hand back to whoever made the file)."""

from __future__ import annotations

import csv
import gc
import getpass
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

import click
from sqlalchemy import Engine, select
from sqlmodel import Session

from clinic.models import Clinic
from core.audit import record_audit
from core.db import get_engine, unit_of_work
from core.errors import DomainError, FieldError
from core.models import AuditAction
from core.settings import get_settings
from followup.fhir import reading_identifier_system
from followup.importer.run import RECENT_WINDOW, CheckedBatch, Importer, ImportReport
from followup.importer.sources import ImportFileInvalid, Source, SourceRow, open_source

# Rows per transaction: big enough that the bulk write runs near COPY speed, small enough that a crash loses
# little and a batch's rows stay a few MB in memory; a re-run adds only what is missing.
BATCH = 20_000


def _text(error: FieldError | DomainError) -> str:
    message, params = error.message, error.params
    return message % params if params else message


def _batches(rows: Iterator[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    while batch := list(islice(rows, size)):
        yield batch


def _import_batches(engine: Engine, importer: Importer, batches: Iterator[list[SourceRow]],
                    done: Callable[[int], None], *, overlap: bool) -> None:
    """Each batch in its own transaction. With `overlap`, batch n+1 is parsed and checked while batch n is
    being written by a second thread with its own connection: Python works while PostgreSQL stores. Batches
    are still written one at a time and in order, and a failed write stops the import (the rows checked in
    the meantime are not written). SQLite has a single writer and gains nothing from it."""
    if not overlap:
        for rows in batches:
            with unit_of_work(engine) as session:  # a dry run only reads
                importer.run(session, rows)
            done(len(rows))
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-store") as writer:
        writing: Future[int] | None = None
        for rows in batches:
            with unit_of_work(engine) as session:
                checked = importer.check(session, rows)
            if writing is not None:
                done(writing.result())
            writing = writer.submit(_store, engine, importer, checked, len(rows))
        if writing is not None:
            done(writing.result())


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The cycle collector paused while batches are read: a batch keeps tens of thousands of new objects alive
    (rows, readings) and the collector would scan them again and again for cycles they do not have; it costs a
    quarter of the parsing time. What cycles a batch leaves (a session's) are collected when it is resumed."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _store(engine: Engine, importer: Importer, checked: CheckedBatch, size: int) -> int:
    with unit_of_work(engine) as session:
        importer.store(session, checked)
    return size


def _clinic(session: Session, code: str | None) -> Clinic:
    if code:
        found = session.scalar(select(Clinic).where(Clinic.code == code))
        if found is None:
            raise click.ClickException(f"no clinic with code {code!r}")
        return found
    clinics = list(session.scalars(select(Clinic).limit(2)))
    if len(clinics) != 1:
        raise click.ClickException("there are several clinics (or none): name one with --clinic CODE")
    return clinics[0]


def run_import_command(path: Path, *, clinic_code: str | None, fmt: str, patient_id: int | None, dry_run: bool,
                       report_path: Path | None, batch: int = BATCH) -> None:
    data = path.read_bytes()
    try:
        source, rows = open_source(data, fmt=fmt, name=path.name)
    except ImportFileInvalid as exc:
        raise click.ClickException(f"{path.name}: {_text(exc)}") from exc
    if patient_id is not None and len(source.subjects) > 1:
        raise click.ClickException(f"{path.name} holds readings of {len(source.subjects)} patients; --patient "
                                   "is for a one-patient file")
    settings = get_settings()
    engine = get_engine(settings)
    with unit_of_work(engine) as session:
        clinic = _clinic(session, clinic_code)
        clinic_id, clinic_label = clinic.id, f"{clinic.code} ({clinic.name})"
    assert clinic_id is not None
    importer = Importer(clinic_id=clinic_id, patient_id=patient_id, dry_run=dry_run, source_name=path.name,
                        identifier_system=reading_identifier_system(settings.public_url),
                        actor_name=f"cli:{getpass.getuser()}")
    # A CSV file is parsed as it is imported: its line count stands in for the row count (blank lines aside).
    expected = len(source.rows) or max(data.count(b"\n"), 1)
    with click.progressbar(length=expected, label=f"Importing {path.name}") as bar, _no_cycle_collection():
        _import_batches(engine, importer, _batches(rows, batch), bar.update,
                        overlap=engine.dialect.name == "postgresql")
    if not dry_run:
        with unit_of_work(engine) as session:
            _audit_summary(session, importer, clinic_id, path.name)
    _summary(importer.report, source, path.name, clinic_label, dry_run)
    if report_path is not None:
        _write_report(report_path, importer.report)
        click.echo(f"rejected rows written to {report_path}")
    if importer.report.rejected_rows:
        raise SystemExit(1)  # good rows are in; a script still learns that some were not


def _audit_summary(session: Session, importer: Importer, clinic_id: int, name: str) -> None:
    r = importer.report
    record_audit(session=session, action=AuditAction.create, object_type="reading_import", object_id=name[:64],
                 clinic_id=clinic_id, actor_kind="import", actor_name=importer.actor_name,
                 detail=f"{r.rows} rows: {r.added_rows} added ({r.readings_added} readings), {r.present_rows} "
                        f"already present, {r.rejected_rows} rejected; {len(r.patients)} patients")


def _summary(report: ImportReport, source: Source, name: str, clinic: str, dry_run: bool) -> None:
    echo = click.echo
    echo(("Dry run, nothing was stored: " if dry_run else "Imported ") + f"{name} ({source.format}) into {clinic}")
    echo(f"  {report.rows} rows read")
    echo(f"  {report.added_rows} added ({report.readings_added} readings"
         f"{'' if dry_run else f', {len(report.patients)} patients'})")
    echo(f"  {report.present_rows} already present")
    echo(f"  {report.rejected_rows} rejected")
    if source.ignored_columns:
        echo(f"  ignored columns: {', '.join(source.ignored_columns)}")
    if source.skipped_resources:
        echo(f"  {source.skipped_resources} resources that are not Observations were skipped")
    if not dry_run:
        hours = int(RECENT_WINDOW.total_seconds() // 3600)
        echo(f"  rules ran on {report.evaluated} readings taken in the last {hours} hours "
             f"({report.callbacks_opened} callbacks opened); older readings are history only")
    if report.problems:
        echo("Rejected:")
        for problem in report.problems:
            for error in problem.errors:
                where = f"{error.field}: " if error.field else ""
                echo(f"  {problem.label} {problem.number}: {where}{_text(error)}")


def _write_report(path: Path, report: ImportReport) -> None:
    # utf-8-sig so that Excel, which most clinics open it with, shows Chinese text correctly.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "field", "message"])
        for problem in report.problems:
            for error in problem.errors:
                writer.writerow([problem.number, error.field, _text(error)])
