"""The importer's shortcut for common rows (followup.importer.quick) stores exactly what the general path
stores and leaves every rejection, word for word, to the general path."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.errors import ValidationFailed
from followup.enums import GlucoseContext, MeterFlag, ReadingKind
from followup.importer import Importer, read_source
from followup.importer import run as importer_run
from followup.importer.quick import quick_resolve
from followup.models import Reading
from followup.submission import Submission, resolve
from tests.factories import make_clinic, make_patient

HEADER = "patient_id,phone,kind,value,systolic,diastolic,pulse,unit,context,taken_at,external_id\n"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")

GLUCOSE_VALUES = ["7.2", "7.25", "7.24", "0.95", "0.94", "1.0", "35.0", "35.04", "35.05", "35.1", "17.5", "17.4",
                  "18", "630", "630.4", "630.5", "-0", "0", "1E+1", "99999.96", "100000", "1e10", "NaN", "Infinity",
                  "7,2", "7.2000", "182", "20"]
GLUCOSE_UNITS = ["mmol/L", "mmol/l", "mg/dL", "mg/dl", "MMOL/L", "mmol", "kg", "mmHg", "", None]
BP_UNITS = [None, "", "mmHg", "mm[Hg]", "mmhg", "kPa", "mmol/L"]
NUMBERS = [None, 19, 20, 21, 49, 50, 51, 69, 70, 95, 120, 150, 199, 200, 201, 250, 251, 300, 301, -5, 0, True]


def _random_submission(rng: random.Random) -> tuple[Submission, datetime]:
    kind = rng.choice([ReadingKind.glucose] * 4 + [ReadingKind.blood_pressure] * 4
                      + [ReadingKind.heart_rate, ReadingKind.weight, "glucose"])
    offset = rng.choice([timedelta(hours=-3), timedelta(minutes=4), timedelta(minutes=6), timedelta(days=-9000),
                         timedelta(days=-400)])
    taken_at = rng.choice([(NOW + offset).astimezone(ZoneInfo("Asia/Shanghai")), (NOW + offset).astimezone(NEW_YORK),
                           (NOW + offset).replace(tzinfo=None)])
    value = rng.choice([None, *(Decimal(v.replace(",", ".")) if v != "7,2" else Decimal("7.2") for v in GLUCOSE_VALUES),
                        7, 7.5])
    if kind == ReadingKind.blood_pressure and rng.random() < 0.8:
        value = None
    systolic, diastolic = rng.choice(NUMBERS), rng.choice(NUMBERS)
    if kind != ReadingKind.blood_pressure and rng.random() < 0.8:
        systolic = diastolic = None
    pulse = rng.choice(NUMBERS) if rng.random() < 0.5 else None
    unit = rng.choice(BP_UNITS if kind == ReadingKind.blood_pressure else GLUCOSE_UNITS)
    submission = Submission(kind=kind, taken_at=taken_at, value=value, systolic=systolic,  # type: ignore[arg-type]
                            diastolic=diastolic, pulse=pulse, unit=unit,
                            context=rng.choice([None, GlucoseContext.fasting, GlucoseContext.bedtime, "fasting"]),
                            meter_flag=rng.choice([None] * 6 + [MeterFlag.hi]),
                            external_id=rng.choice([None, "x-1"]))
    return submission, taken_at


def _general(submission: Submission) -> object:
    try:
        return resolve(submission, now=NOW)
    except ValidationFailed as exc:
        return [(e.field, e.message, e.params) for e in exc.field_errors]


def test_the_shortcut_gives_what_resolve_gives_or_leaves_the_row_to_it():
    rng = random.Random(20261120)
    taken = 0
    for _ in range(20_000):
        submission, taken_at = _random_submission(rng)
        quick = quick_resolve(submission, taken_at, NOW)
        if quick is None:
            continue
        taken += 1
        assert repr(quick) == repr(_general(submission)), submission  # repr: 7.2 and 7.20 differ too
    assert taken > 300  # the common rows do take the shortcut (most random ones are refused or unusual)


# --- whole imports, with and without the shortcut -------------------------------------------------------------


def _tricky_rows(p: int, now: datetime) -> str:
    def _ago(hours: float, zone: ZoneInfo | None = None) -> str:
        moment = (now - timedelta(hours=hours)).replace(microsecond=0)
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if zone else moment.isoformat()

    rows = [f"{p},,glucose,7.2,,,,mmol/L,fasting,{_ago(50)},",
            f"{p},,glucose,7.25,,,,mmol/L,,{_ago(49)},g-round",
            f"{p},,glucose,35.04,,,,mmol/L,bedtime,{_ago(48)},g-top",
            f"{p},,glucose,35.05,,,,mmol/L,,{_ago(47)},g-over",                  # rounds to 35.1: refused
            f"{p},,glucose,0.94,,,,mmol/L,,{_ago(46)},g-under",
            f"{p},,glucose,630.4,,,,mg/dL,,{_ago(45)},g-mg",
            f"{p},,glucose,182,,,,mg/dl,random,{_ago(44)},",
            f"{p},,glucose,7,2,,,,mmol/L,,{_ago(43)},g-comma",                   # a comma splits the cell
            f'{p},,glucose,"7,2",,,,mmol/L,,{_ago(43)},g-comma2',
            f"{p},,glucose,１１．２,,,,mmol/L,,{_ago(42)},g-wide",
            f"{p},,glucose,HI,,,,mmol/L,,{_ago(41)},g-hi",
            f"{p},,glucose,7.0,,,,,,{_ago(40)},g-nounit",
            f"{p},,glucose,7.0,,,,MMOL/L,,{_ago(40)},g-caps",
            f"{p},,glucose,7.0,,,,mmol/L,soon,{_ago(40)},g-ctx",
            f"{p},,glucose,7.0,120,,,mmol/L,,{_ago(40)},g-bp",
            f"{p},,glucose,7.0,,,,mmol/L,,{_ago(-0.05)},g-soon",                 # 3 minutes ahead: fine
            f"{p},,glucose,7.0,,,,mmol/L,,{_ago(-0.2)},g-future",
            f"{p},,glucose,7.0,,,,mmol/L,,1999-12-31T23:00:00+00:00,g-old",
            f"{p},,glucose,6.6,,,,mmol/L,,{_ago(30, NEW_YORK)},g-local",
            f"{p},,glucose,6.6,,,,mmol/L,,{_ago(30, NEW_YORK)},",
            f"{p},,blood_pressure,,150,95,72,mmHg,,{_ago(29)},bp-1",
            f"{p},,blood_pressure,,150,95,,mm[Hg],,{_ago(28)},",
            f"{p},,blood_pressure,150/95,,,,,,{_ago(27)},bp-slash",
            f"{p},,blood_pressure,,50,20,20,,,{_ago(26)},bp-low",
            f"{p},,blood_pressure,,300,200,250,mmhg,,{_ago(25)},bp-high",
            f"{p},,blood_pressure,,301,90,,mmHg,,{_ago(24)},bp-over",
            f"{p},,blood_pressure,,120,120,,mmHg,,{_ago(23)},bp-equal",
            f"{p},,blood_pressure,,150,95,251,mmHg,,{_ago(22)},bp-pulse",
            f"{p},,blood_pressure,,150,95,19,mmHg,,{_ago(22)},bp-pulse-low",
            f"{p},,blood_pressure,,150.0,95,,mmHg,,{_ago(21)},bp-decimal",
            f"{p},,blood_pressure,,150,,,mmHg,,{_ago(21)},bp-half",
            f"{p},,blood_pressure,7.2,150,95,,mmHg,,{_ago(21)},bp-value",
            f"{p},,blood_pressure,,150,95,,kPa,,{_ago(21)},bp-kpa",
            f"{p},,blood_pressure,,150,95,72,mmHg,,{_ago(20, NEW_YORK)},bp-local",
            f"{p},,heart_rate,64,,,,,,{_ago(19)},hr",
            f"{p},,weight,130,,,,jin,,{_ago(18)},w",
            f"{p},,glucose,7.2,,,,mmol/L,fasting,{_ago(50)},",                   # the first row again
            f"{p},,blood_pressure,,150,95,72,mmHg,,{_ago(3)},bp-recent",
            f"{p},,glucose,19.5,,,,mmol/L,,{_ago(2)},g-recent",
            f"{p},,glucose,7.2,,,,mmol/L,,{_ago(17)},{'x' * 120}"]
    return HEADER + "".join(row + "\n" for row in rows)


def _stored(session, patient_id: int) -> list[tuple]:
    readings = session.scalars(select(Reading).where(Reading.patient_id == patient_id).order_by(Reading.id)).all()
    return [(r.kind, r.context, r.meter_flag, r.value_original, r.unit_original, r.systolic, r.diastolic,
             r.value_canonical, r.taken_at, r.source, r.entered_by_kind, r.external_id, r.note) for r in readings]


@pytest.mark.parametrize("batch", [7, 1000])
def test_an_import_stores_and_rejects_the_same_with_and_without_the_shortcut(session, monkeypatch, batch):
    clinic = make_clinic(session)
    patients = [make_patient(session, clinic, timezone="America/New_York") for _ in range(2)]
    session.commit()
    results, now = [], datetime.now(UTC)
    for patient, shortcut in zip(patients, (True, False), strict=True):
        if not shortcut:
            monkeypatch.setattr(importer_run, "quick_resolve", lambda *args: None)
        importer = Importer(clinic_id=clinic.id)
        rows = read_source(_tricky_rows(patient.id, now).encode(), name="readings.csv").rows
        for start in range(0, len(rows), batch):
            importer.run(session, rows[start:start + batch])
            session.commit()
        r = importer.report
        problems = [(p.number, [(e.field, e.message, e.params) for e in p.errors]) for p in r.problems]
        results.append(((r.rows, r.added_rows, r.present_rows, r.readings_added, r.evaluated, r.callbacks_opened),
                        problems, _stored(session, patient.id)))
    assert results[0] == results[1]
    counts, problems, stored = results[0]
    assert counts[1] > 15 and len(problems) > 10 and len(stored) > 15  # the mix holds both kinds of row


# --- reading CSV cells ----------------------------------------------------------------------------------------


def test_csv_cells_are_read_by_name_whatever_the_column_order_short_rows_and_repeated_columns():
    text = ("Taken At,kind,value,unit,notes,Patient ID,value\n"            # no phone/context/id; "value" twice
            "2026-11-20 07:30,glucose,99,mmol/L,hello,12,7.4\n"          # the last "value" counts
            "2026-11-20 07:31,Blood-Pressure,150/95\n"                   # short: no patient, no second value
            ",,,,,,\n"                                                   # blank: not a row
            " 2026-11-20 07:32 , glucose ,x,mg/dL,,０１２,１８２\n")       # spaces and full-width digits
    source = read_source(text.encode(), name="readings.csv")
    assert source.ignored_columns == ["notes"]
    first, second, third = source.rows
    assert (first.number, first.patient.patient_id, first.submission.value, first.submission.unit) == (
        2, 12, Decimal("7.4"), "mmol/L")
    assert first.submission.taken_at == datetime(2026, 11, 20, 7, 30) and first.submission.context is None
    assert (second.number, second.submission, [e.field for e in second.errors]) == (3, None, ["patient_id"])
    assert (third.number, third.patient.patient_id, third.submission.value, third.submission.kind) == (
        5, 12, Decimal("182"), ReadingKind.glucose)
    assert first.patient is third.patient  # one key object per patient
