"""Feedback that other domains announce: an SMS starting with 投诉/complaint, and a low survey answer.

Both run as outbox jobs (at-least-once), so each is idempotent: one item per SMS message, one concern per survey
response (a second low answer on the same response is added to the concern, not opened as another)."""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from clinic.models import Clinic, Patient, StaffUser
from feedback.enums import Category, Channel, FeedbackKind, Severity, guess_category, guess_severity
from feedback.history import add_history
from feedback.models import DESCRIPTION_MAX, FeedbackItem
from feedback.service import create_item

log = logging.getLogger(__name__)
_KEYWORD = re.compile(r"^\s*(投诉|complaints?|complain)\s*[:：,，。.\-—–\s]*", re.IGNORECASE)


def complaint_text(body: str) -> str:
    """The message without its leading keyword: '投诉：等了两个小时' → '等了两个小时'."""
    return _KEYWORD.sub("", body, count=1).strip()


def _clinic_patient(session: Session, clinic_id: int, patient_id: int | None) -> tuple[Clinic, Patient | None] | None:
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        return None
    patient = session.get(Patient, patient_id) if patient_id is not None else None
    if patient is not None and patient.clinic_id != clinic.id:
        return None
    return clinic, patient


def open_from_sms(*, session: Session, patient_id: int, clinic_id: int, sms_message_id: int,
                  body: str) -> FeedbackItem | None:
    existing = session.scalar(select(FeedbackItem).where(FeedbackItem.sms_message_id == sms_message_id))
    if existing is not None:
        return existing
    found = _clinic_patient(session, clinic_id, patient_id)
    if found is None or found[1] is None:
        log.warning("complaint SMS %s names an unknown patient or clinic; ignored", sms_message_id)
        return None
    clinic, patient = found
    text = complaint_text(body)[:DESCRIPTION_MAX] or body.strip()[:DESCRIPTION_MAX]
    try:
        return create_item(
            session=session, clinic=clinic, kind=FeedbackKind.complaint, category=guess_category(text),
            channel=Channel.sms, description=text, severity=guess_severity(text), submitted_by_kind="sms",
            submitted_by_id=patient.id, patient=patient, sms_message_id=sms_message_id,
            source_detail={"sms": {"body": body[:1600]}},
        )
    except IntegrityError:  # a concurrent delivery of the same event stored it first
        return session.scalar(select(FeedbackItem).where(FeedbackItem.sms_message_id == sms_message_id))


# What a survey dimension suggests when the comment does not say more.
_DIMENSION_CATEGORY = {"waiting": Category.waiting_time, "communication": Category.communication}


def _answers(question: str, score: Any, comment: str, items: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Every low answer of the response, with the question's text in both languages for the item page."""
    if not items:
        return [{"question": str(question)[:200], "score": score, "comment": comment}]
    return [{"question": str(i.get("question", ""))[:200], "score": i.get("score"),
             "comment": str(i.get("answer") or "")[:500] if i.get("type") == "text" else "",
             "text_zh": str(i.get("text_zh") or "")[:300], "text_en": str(i.get("text_en") or "")[:300],
             "dimension": str(i.get("dimension") or ""), "reason": str(i.get("reason") or ""),
             # The chosen answer's words ("Sometimes") and the scale's top, so staff need not decode "2".
             "label": str(i.get("answer") or "")[:100] if i.get("type") != "text" else "",
             "points": i.get("points")} for i in items]


def open_from_survey(*, session: Session, response_id: int, patient_id: int | None, clinic_id: int,
                     template_code: str = "", question: str = "", score: Any = None, comment: str | None = "",
                     doctor_id: int | None = None, items: list[dict[str, Any]] | None = None,
                     language: str | None = None, callback_id: int | None = None) -> FeedbackItem | None:
    comment_text = str(comment or "")[:DESCRIPTION_MAX]
    answers = _answers(question, score, comment_text, items)
    existing = _concern_for(session, clinic_id, response_id)
    if existing is not None:
        for answer in answers:
            _add_answer(session, existing, answer)
        return existing
    found = _clinic_patient(session, clinic_id, patient_id)
    if found is None:
        log.warning("low survey score on response %s names an unknown patient or clinic; ignored", response_id)
        return None
    clinic, patient = found
    doctor = session.get(StaffUser, doctor_id) if doctor_id is not None else None
    headline = answers[0]
    label = "text_zh" if clinic.language == "zh-CN" else "text_en"
    text = comment_text.strip() or "; ".join(
        f"{a.get(label) or a['question']}: {a['score']}" for a in answers)[:DESCRIPTION_MAX]
    category = guess_category(comment_text)
    if category == Category.other:
        category = _DIMENSION_CATEGORY.get(str(headline.get("dimension")), Category.other)
    severity = Severity.high if guess_severity(comment_text) == Severity.high else Severity.low
    try:
        return create_item(
            session=session, clinic=clinic, kind=FeedbackKind.concern, category=category, channel=Channel.survey,
            description=text, severity=severity, submitted_by_kind="survey", patient=patient,
            contact_language=language if language in ("zh-CN", "en") else None,
            subject_staff_id=doctor.id if doctor is not None and doctor.clinic_id == clinic.id else None,
            survey_response_id=response_id,
            source_detail={"survey": {"response_id": response_id, "template_code": str(template_code)[:40],
                                      "callback_id": callback_id, "answers": answers}},
        )
    except IntegrityError:
        concern = _concern_for(session, clinic_id, response_id)
        if concern is not None:
            for answer in answers:
                _add_answer(session, concern, answer)
        return concern


def _concern_for(session: Session, clinic_id: int, response_id: int) -> FeedbackItem | None:
    return session.scalar(select(FeedbackItem).where(FeedbackItem.clinic_id == clinic_id,
                                                     FeedbackItem.survey_response_id == response_id))


def _add_answer(session: Session, item: FeedbackItem, answer: dict[str, Any]) -> None:
    survey = dict(item.source_detail.get("survey") or {})
    answers = list(survey.get("answers") or [])
    if any(a.get("question") == answer["question"] for a in answers):
        return  # the same answer delivered again
    survey["answers"] = [*answers, answer]
    item.source_detail = {**item.source_detail, "survey": survey}
    add_history(session=session, item=item, kind="survey_answer", actor_kind="survey", detail=answer)
    session.flush()
