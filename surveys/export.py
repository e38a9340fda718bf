"""CSV export of survey responses: one row per response, one column per question key; no phone numbers
or names (the internal patient number links a row to the record for those allowed to look it up)."""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from clinic.models import StaffUser
from surveys.enums import QuestionType
from surveys.models import SurveyAnswer, SurveyResponse, SurveyTemplate
from surveys.results import ResultsQuery, question_catalogue, response_filter

MAX_ROWS = 50_000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """Spreadsheets run a cell starting with = + - @ as a formula; a leading apostrophe keeps it text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def export_responses_csv(*, session: Session, query: ResultsQuery, timezone: str) -> tuple[str, int]:
    """The CSV text (UTF-8 with BOM, so spreadsheet programs read Chinese correctly) and its row count."""
    tz = ZoneInfo(timezone)
    questions = question_catalogue(session=session, clinic_id=query.clinic_id, code=query.template_code)
    responses = list(session.scalars(select(SurveyResponse).where(*response_filter(query))
                                     .order_by(SurveyResponse.submitted_at, SurveyResponse.id).limit(MAX_ROWS)))
    ids = [r.id for r in responses]
    answers: dict[int, dict[str, SurveyAnswer]] = {}
    for start in range(0, len(ids), 500):
        for a in session.scalars(select(SurveyAnswer).where(SurveyAnswer.response_id.in_(ids[start:start + 500]))):
            answers.setdefault(a.response_id, {})[a.question_key] = a
    versions = dict(session.execute(select(SurveyTemplate.id, SurveyTemplate.version)
                                    .where(SurveyTemplate.clinic_id == query.clinic_id)).all())
    doctor_ids = {r.doctor_id for r in responses if r.doctor_id}
    doctors = dict(session.execute(select(StaffUser.id, StaffUser.display_name)
                                   .where(StaffUser.id.in_(doctor_ids))).all()) if doctor_ids else {}
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["response_id", "submitted_at", "local_date", "template", "version", "trigger", "language",
                     "doctor", "patient_id", "low_score", *[q.key for q in questions]])
    for r in responses:
        row: list[object] = [r.id, r.submitted_at.astimezone(tz).isoformat(timespec="minutes"), r.local_date,
                             r.template_code, versions.get(r.template_id, ""), r.trigger.value, r.language,
                             doctors.get(r.doctor_id, ""), r.patient_id, "yes" if r.low_score else "no"]
        given = answers.get(r.id, {})
        for q in questions:
            a = given.get(q.key)
            if a is None:
                row.append("")
            elif q.type is QuestionType.text:
                row.append(a.text)
            else:
                row.append(a.choice or ("" if a.value is None else a.value))
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue(), len(responses)
