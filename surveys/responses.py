"""Answering a survey: validation against the version the patient was sent, storing each answer with its
score, once per invitation, and announcing low answers (`survey.low_score`) to the feedback domain."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session

from clinic.models import Clinic
from core.db import utcnow
from core.errors import Conflict, FieldErrors
from core.events import record_event
from surveys.enums import InvitationStatus, LowReason, QuestionType
from surveys.models import SurveyAnswer, SurveyInvitation, SurveyResponse, SurveyTemplate
from surveys.questions import Answer, QuestionDef
from surveys.scoring import Scored, complaint_words, month_key, week_key

LOW_SCORE_EVENT = "survey.low_score"
# Most telling first: the headline item of the event is a detractor score, then a bottom box, then words.
_REASON_ORDER = {LowReason.nps_detractor: 0, LowReason.bottom_box: 1, LowReason.complaint_words: 2}


class SurveyAlreadyAnswered(Conflict):
    def __init__(self) -> None:
        super().__init__("This survey has already been answered. Thank you.")


class SurveyClosed(Conflict):
    def __init__(self) -> None:
        super().__init__("This survey link has expired.")


def field_name(question: QuestionDef) -> str:
    return f"q_{question.key}"


def read_answers(questions: list[QuestionDef], form: Mapping[str, Any]) -> dict[str, Answer]:
    """The submitted answers by question key; every missing or impossible answer becomes a field error."""
    errors = FieldErrors()
    answers: dict[str, Answer] = {}
    for q in questions:
        raw = form.get(field_name(q))
        if isinstance(raw, list):  # a doctored form sending one field twice
            raw = raw[0] if raw else None
        try:
            answer = q.read(None if raw is None else str(raw))
        except ValueError:
            errors.add(field_name(q), "Choose one of the answers shown.")
            continue
        if answer is None:
            if q.required:
                errors.add(field_name(q), "Please answer this question.")
            continue
        answers[q.key] = answer
    errors.raise_if_any("Please answer the questions marked below.")
    return answers


def judge_answers(questions: list[QuestionDef], answers: Mapping[str, Answer]
                  ) -> list[tuple[QuestionDef, Answer, Scored, LowReason | None, list[str]]]:
    """Each given answer in question order with its score and why it is low (None when it is not): what a
    response stores (also what the benchmark's generated responses store)."""
    judged = []
    for question in questions:
        answer = answers.get(question.key)
        if answer is not None:
            scored = question.score(answer)
            judged.append((question, answer, scored, *low_reasons(question, answer, scored)))
    return judged


def low_reasons(question: QuestionDef, answer: Answer, scored: Scored) -> tuple[LowReason | None, list[str]]:
    """Why an answer is low (qi-methods.md §7.4): an NPS detractor, a rating in the bottom box, or free text
    with complaint words. Yes/no and single-choice answers are reported but never routed on their own."""
    if question.type is QuestionType.nps and scored.bottom:
        return LowReason.nps_detractor, []
    if question.type is QuestionType.likert and scored.bottom:
        return LowReason.bottom_box, []
    if question.type is QuestionType.text and answer.text:
        words = complaint_words(answer.text)
        if words:
            return LowReason.complaint_words, words
    return None, []


def submit_response(*, session: Session, invitation: SurveyInvitation, form: Mapping[str, Any],
                    now: datetime | None = None) -> SurveyResponse:
    """Store the answers of an open invitation. Validation comes first (nothing is stored when a required
    answer is missing); the invitation is then claimed with a conditional update, so of two submissions
    racing each other exactly one is stored and the other gets SurveyAlreadyAnswered."""
    now = now or utcnow()
    template = session.get(SurveyTemplate, invitation.template_id)
    assert template is not None
    questions = template.question_defs()
    answers = read_answers(questions, form)
    claimed = session.execute(update(SurveyInvitation).where(
        SurveyInvitation.id == invitation.id, SurveyInvitation.status == InvitationStatus.sent,
        SurveyInvitation.expires_at > now,
    ).values(status=InvitationStatus.answered, answered_at=now).execution_options(synchronize_session=False))
    if not claimed.rowcount:
        session.refresh(invitation)
        if invitation.status == InvitationStatus.answered:
            raise SurveyAlreadyAnswered()
        raise SurveyClosed()
    session.refresh(invitation)
    clinic = session.get(Clinic, invitation.clinic_id)
    assert clinic is not None
    local_day = now.astimezone(ZoneInfo(clinic.timezone)).date()
    response = SurveyResponse(
        invitation_id=invitation.id, clinic_id=invitation.clinic_id, patient_id=invitation.patient_id,
        template_id=template.id, template_code=template.code, doctor_id=invitation.doctor_id,
        trigger=invitation.trigger, language=invitation.language, submitted_at=now, local_date=local_day,
        month=month_key(local_day), week=week_key(local_day),
    )
    session.add(response)
    session.flush()
    low_items: list[dict[str, Any]] = []
    comments: list[str] = []
    for q, answer, scored, reason, words in judge_answers(questions, answers):
        session.add(SurveyAnswer(
            response_id=response.id, question_key=q.key, qtype=q.type.value, dimension=q.dimension.value,
            value=answer.value, choice=answer.choice, text=answer.text, top_box=scored.top,
            bottom_box=scored.bottom, score=scored.score, low=reason is not None,
        ))
        if answer.text:
            comments.append(answer.text)
        if reason is not None:
            low_items.append({"question": q.key, "type": q.type.value, "dimension": q.dimension.value,
                              "text_zh": q.zh, "text_en": q.en, "score": answer.value,
                              "points": 10 if q.type is QuestionType.nps else q.points or None,
                              "reason": reason.value, "words": words,
                              "answer": answer.text or q.label_of(answer, invitation.language)})
    response.low_score = bool(low_items)
    session.flush()
    if low_items:
        _announce_low_score(session=session, response=response, template=template, items=low_items,
                            comment="\n".join(comments), invitation=invitation)
    return response


def _announce_low_score(*, session: Session, response: SurveyResponse, template: SurveyTemplate,
                        items: list[dict[str, Any]], comment: str, invitation: SurveyInvitation) -> None:
    """One event per response; `question`/`score` name the most telling low item, `items` lists them all."""
    items.sort(key=lambda i: _REASON_ORDER[LowReason(i["reason"])])
    headline = items[0]
    record_event(session=session, name=LOW_SCORE_EVENT, clinic_id=response.clinic_id, payload={
        "response_id": response.id, "patient_id": response.patient_id, "clinic_id": response.clinic_id,
        "template_code": template.code, "question": headline["question"], "score": headline["score"],
        "comment": comment, "doctor_id": response.doctor_id,
        "items": items, "template_version": template.version, "language": response.language,
        "trigger": response.trigger.value, "callback_id": invitation.callback_id,
    })
