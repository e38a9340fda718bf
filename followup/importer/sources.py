"""Reading an import file into numbered rows: CSV (UTF-8, with or without BOM) and FHIR R4 JSON (a Bundle, a
lone Observation, or NDJSON as FHIR bulk export writes it). Parsing only: nothing here touches the database."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any

from core.errors import FieldError, FieldErrors, ValidationFailed
from core.i18n import N_
from followup import fhir
from followup.enums import GlucoseContext, MeterFlag, ReadingKind
from followup.submission import EXAMPLE_TIME, Submission, fit_external_id

CSV_COLUMNS = ("patient_id", "phone", "kind", "value", "systolic", "diastolic", "pulse", "unit", "context",
               "taken_at", "external_id")
KIND_ALIASES = {"bp": ReadingKind.blood_pressure, "blood pressure": ReadingKind.blood_pressure,
                "hr": ReadingKind.heart_rate, "heart rate": ReadingKind.heart_rate, "pulse": ReadingKind.heart_rate}
# Every row looks its kind and context up: a dict is several times quicker than calling the enum.
KINDS = {k.value: k for k in ReadingKind}
CONTEXTS = {c.value: c for c in GlucoseContext}
# Spreadsheets in China write 2026/11/20 7:30; ISO 8601 is tried first.
ISO_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}.*")
LOCAL_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


class ImportFileInvalid(ValidationFailed):
    """The file as a whole cannot be read (not UTF-8, not JSON, missing columns): no row is imported."""


@dataclass(frozen=True)
class PatientKey:
    """Whose reading a row is: our patient id, a phone number, or (FHIR) the Observation's subject."""

    patient_id: int | None = None
    phone: str | None = None
    reference: str | None = None


@dataclass
class SourceRow:
    number: int  # CSV: the spreadsheet row (the header is row 1); FHIR: the position in Bundle.entry, from 1
    label: str  # "row" or "entry"
    patient: PatientKey
    submission: Submission | None
    errors: list[FieldError] = field(default_factory=list)


@dataclass
class Source:
    format: str  # "csv" or "fhir"
    rows: list[SourceRow]
    ignored_columns: list[str] = field(default_factory=list)
    skipped_resources: int = 0  # Patient, Provenance… resources beside the Observations

    @property
    def subjects(self) -> set[str]:
        return {r.patient.reference for r in self.rows if r.patient.reference}


def detect_format(name: str, data: bytes) -> str:
    lowered = name.lower()
    if lowered.endswith((".json", ".ndjson")):
        return "fhir"
    if lowered.endswith((".csv", ".txt")):
        return "csv"
    return "fhir" if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{" else "csv"


def read_source(data: bytes, *, fmt: str = "auto", name: str = "") -> Source:
    """Every row of the file, each with its submission or its field errors; ImportFileInvalid otherwise."""
    source, rows = open_source(data, fmt=fmt, name=name)
    source.rows = list(rows)
    return source


def open_source(data: bytes, *, fmt: str = "auto", name: str = "") -> tuple[Source, Iterator[SourceRow]]:
    """The file's description now (ImportFileInvalid when it cannot be read at all) and its rows as they are
    parsed: a CSV file's rows are read while earlier ones are being stored. A FHIR file is parsed whole first;
    its Source carries every row. A CSV Source's `rows` stays empty (the iterator holds them)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileInvalid(N_('The file is not UTF-8 text. Save it as "CSV UTF-8" and try again.')) from exc
    chosen = detect_format(name, data) if fmt == "auto" else fmt
    if chosen == "fhir":
        source = _read_fhir(text)
        return source, iter(source.rows)
    return _open_csv(text)


# --- CSV ----------------------------------------------------------------------------------------------------


def _open_csv(text: str) -> tuple[Source, Iterator[SourceRow]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise ImportFileInvalid(N_("The file is empty."))
    columns = [_clean(h).lower().replace(" ", "_") for h in header]
    missing = [c for c in ("kind", "taken_at") if c not in columns]
    if "patient_id" not in columns and "phone" not in columns:
        missing.append("patient_id or phone")
    if missing:
        raise ImportFileInvalid(N_("Missing columns: %(columns)s. The first row must name the columns: %(expected)s."),
                                columns=", ".join(missing), expected=", ".join(CSV_COLUMNS))
    wanted = [(i, c) for i, c in enumerate(columns) if c in CSV_COLUMNS]
    source = Source("csv", [], ignored_columns=[c for c in columns if c and c not in CSV_COLUMNS])
    return source, _csv_rows(reader, wanted)


def _csv_rows(reader: Iterator[list[str]], wanted: list[tuple[int, str]]) -> Iterator[SourceRow]:
    keys: dict[tuple[int | None, str | None], PatientKey] = {}  # a file names each patient many times
    last = {c: i for i, c in wanted}  # a column named twice: its last cell counts
    # Each row's cells in CSV_COLUMNS order, picked in one step; a column the file lacks reads as empty (index
    # -1: the "" appended to the row), which every field treats as not given.
    pick = itemgetter(*(last.get(c, -1) for c in CSV_COLUMNS))
    full = max(last.values()) + 1
    for index, cells in enumerate(reader, start=2):
        if len(cells) >= full:
            cells.append("")
            picked: Sequence[str] = pick(cells)
        else:  # a short row lacks its last columns, which read as empty too
            record = {c: cells[i] for i, c in wanted if i < len(cells)}
            picked = [record.get(c, "") for c in CSV_COLUMNS]
        values = [v.strip() if v.isascii() else _clean(v) for v in picked]
        if not any(values):
            continue  # blank lines at the end of a spreadsheet are not rows
        yield _csv_row(index, values, keys)


def _clean(cell: str) -> str:
    # Full-width digits and letters (１１．２) from Chinese input methods read as ASCII. ASCII text is its own NFKC
    # form, which is why _read_csv only strips ASCII cells.
    return unicodedata.normalize("NFKC", cell or "").strip()


def _csv_row(number: int, values: Sequence[str], keys: dict[tuple[int | None, str | None], PatientKey]) -> SourceRow:
    """One row from its cells in CSV_COLUMNS order, each stripped (an empty cell: not given)."""
    (patient_text, phone_text, kind_text, value_text, systolic_text, diastolic_text, pulse_text, unit, context_text,
     taken_text, external_text) = values
    errors = FieldErrors()
    patient_id = _whole(patient_text, "patient_id", errors)
    phone = phone_text or None
    if patient_id is None and not phone and not any(e.field == "patient_id" for e in errors.errors):
        errors.add("patient_id", "Give patient_id or phone.")
    kind = _kind(kind_text, errors)
    if kind == ReadingKind.blood_pressure and "/" in value_text and not (systolic_text or diastolic_text):
        systolic_text, _, diastolic_text = value_text.partition("/")  # "150/95" in one cell
        value_text = ""
    flag = None
    if kind == ReadingKind.glucose and value_text.upper() in ("HI", "LO"):
        flag, value_text = MeterFlag(value_text.lower()), ""
    value = _number(value_text, "value", errors)
    systolic = _whole(systolic_text, "systolic", errors)
    diastolic = _whole(diastolic_text, "diastolic", errors)
    pulse = _whole(pulse_text, "pulse", errors)
    context = _context(context_text, errors)
    taken_at = _taken_at(taken_text, errors)
    external_id = fit_external_id(external_text) if external_text else None
    key = keys.get((patient_id, phone))
    if key is None:  # frozen, so one instance serves every row of the patient
        key = keys[(patient_id, phone)] = PatientKey(patient_id=patient_id, phone=phone)
    if errors.errors or kind is None or taken_at is None:
        return SourceRow(number, "row", key, None, errors.errors)
    submission = Submission(kind=kind, taken_at=taken_at, value=value, systolic=systolic, diastolic=diastolic,
                            pulse=pulse, unit=unit or None,
                            context=context if kind == ReadingKind.glucose else None, meter_flag=flag,
                            external_id=external_id)
    return SourceRow(number, "row", key, submission)


def _kind(raw: str, errors: FieldErrors) -> ReadingKind | None:
    text = raw.strip().lower().replace("-", "_")
    if not text:
        errors.add("kind", "This field is required.")
        return None
    kind = KINDS.get(text) or KIND_ALIASES.get(text.replace("_", " "))
    if kind is not None:
        return kind
    errors.add("kind", "Choose one of: %(choices)s.", choices=", ".join(k.value for k in ReadingKind))
    return None


def _context(raw: str, errors: FieldErrors) -> GlucoseContext | None:
    text = raw.strip().lower().replace("-", "_").replace(" ", "_")
    if not text:
        return None
    context = CONTEXTS.get(text)
    if context is None:
        errors.add("context", "Choose one of: %(choices)s.", choices=", ".join(c.value for c in GlucoseContext))
    return context


def _number(raw: str | None, name: str, errors: FieldErrors) -> Decimal | None:
    if not raw:
        return None
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        errors.add(name, "Enter a number.")
        return None
    return value


def _whole(raw: str | None, name: str, errors: FieldErrors) -> int | None:
    if not raw:
        return None
    if raw.isdigit() and raw.isascii() and len(raw) < 19:  # plain digits, as nearly every cell: the same number
        return int(raw)
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value != value.to_integral_value():
        errors.add(name, "Enter a whole number.")
        return None
    return int(value)


def _taken_at(raw: str, errors: FieldErrors) -> datetime | None:
    """ISO 8601 with an offset, or a local time (naive here; the importer places it in the patient's zone)."""
    text = raw.strip()
    if not text:
        errors.add("taken_at", "This field is required.")
        return None
    parsed: datetime | None = None
    if ISO_LIKE.fullmatch(text):
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
    for pattern in LOCAL_FORMATS:
        if parsed is not None:
            break
        try:
            parsed = datetime.strptime(text, pattern)
        except ValueError:
            continue
    if parsed is None:
        errors.add("taken_at", "Give the date and time, e.g. %(example)s, or a local time such as "
                               "2026-11-20 07:30.", example=EXAMPLE_TIME)
    return parsed


# --- FHIR ---------------------------------------------------------------------------------------------------


def _read_fhir(text: str) -> Source:
    stripped = text.strip()
    if not stripped:
        raise ImportFileInvalid(N_("The file is empty."))
    try:
        documents: list[Any] = [json.loads(stripped, parse_float=Decimal)]
    except json.JSONDecodeError as exc:
        documents = _ndjson(stripped, exc)
    resources: list[dict[str, Any]] = []
    phones: dict[str, str] = {}
    for document in documents:
        try:
            resources.extend(fhir.resources_in(document))
        except ValueError as exc:
            raise ImportFileInvalid(N_("The file is not a FHIR Bundle or Observation.")) from exc
        phones.update(fhir.patient_phones(document))
    source = Source("fhir", [])
    for number, resource in enumerate(resources, start=1):
        if resource.get("resourceType") != "Observation":
            source.skipped_resources += 1
            continue
        reference = fhir.subject_reference(resource)
        key = PatientKey(phone=phones.get(reference or ""), reference=reference)
        try:
            source.rows.append(SourceRow(number, "entry", key, fhir.submission(resource)))
        except ValidationFailed as exc:
            source.rows.append(SourceRow(number, "entry", key, None, exc.field_errors))
    return source


def _ndjson(text: str, error: json.JSONDecodeError) -> list[Any]:
    """One resource per line, as FHIR bulk data export writes; otherwise the first JSON error is the answer."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or not all(line.lstrip().startswith("{") for line in lines):
        raise ImportFileInvalid(N_("The file is not valid JSON (line %(line)s: %(error)s)."), line=error.lineno,
                                error=error.msg) from error
    documents = []
    for number, line in enumerate(lines, start=1):
        try:
            documents.append(json.loads(line, parse_float=Decimal))
        except json.JSONDecodeError as exc:
            raise ImportFileInvalid(N_("The file is not valid JSON (line %(line)s: %(error)s)."), line=number,
                                    error=exc.msg) from exc
    return documents
