"""Survey results for a clinic, template and period: SQL sums the stored answer scores per question,
doctor and week/month; surveys.scoring turns the sums into box percentages, composites and NPS."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session

from clinic.models import StaffUser
from surveys.enums import Dimension, InvitationStatus, QuestionType
from surveys.models import SurveyAnswer, SurveyInvitation, SurveyResponse, SurveyTemplate
from surveys.questions import QuestionDef
from surveys.scoring import (
    NPS_DETRACTOR_MAX,
    NPS_PROMOTER_MIN,
    BoxSummary,
    Composite,
    NpsSummary,
    composite,
    period_keys,
    response_rate,
)

GRANULARITIES = ("month", "week")


@dataclass(frozen=True)
class ResultsQuery:
    clinic_id: int
    template_code: str
    date_from: date
    date_to: date
    granularity: str = "month"
    doctor_id: int | None = None  # a doctor sees only their own patients' answers


@dataclass(frozen=True)
class QuestionResult:
    question: QuestionDef
    box: BoxSummary
    nps: NpsSummary | None


@dataclass(frozen=True)
class GroupResult:
    """One doctor or one period: responses, invitations sent and answered, NPS and pooled boxes."""

    key: str
    label: str
    doctor_id: int | None
    responses: int
    invitations: int
    answered: int
    nps: NpsSummary
    box: BoxSummary

    @property
    def rate(self) -> float | None:
        return response_rate(self.answered, self.invitations)


@dataclass
class SurveyResults:
    query: ResultsQuery
    invitations: int = 0
    answered: int = 0  # of those invitations
    responses: int = 0  # submitted in the period
    nps: NpsSummary = field(default_factory=lambda: NpsSummary(0, 0, 0))
    questions: list[QuestionResult] = field(default_factory=list)
    dimensions: list[tuple[Dimension, Composite]] = field(default_factory=list)
    doctors: list[GroupResult] = field(default_factory=list)
    periods: list[GroupResult] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        return response_rate(self.answered, self.invitations)


def _count(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


_is_nps = SurveyAnswer.qtype == QuestionType.nps.value
_ANSWER_SUMS = (
    func.count(SurveyAnswer.score).label("n"),
    _count(SurveyAnswer.top_box.is_(True)).label("top"),
    _count(SurveyAnswer.bottom_box.is_(True)).label("bottom"),
    func.coalesce(func.sum(SurveyAnswer.score), 0.0).label("score_sum"),
    _count(_is_nps & SurveyAnswer.value.is_not(None)).label("nps_n"),
    _count(_is_nps & (SurveyAnswer.value >= NPS_PROMOTER_MIN)).label("promoters"),
    _count(_is_nps & (SurveyAnswer.value <= NPS_DETRACTOR_MAX)).label("detractors"),
)


def response_filter(query: ResultsQuery) -> list[ColumnElement[bool]]:
    where = [SurveyResponse.clinic_id == query.clinic_id, SurveyResponse.template_code == query.template_code,
             SurveyResponse.local_date >= query.date_from, SurveyResponse.local_date <= query.date_to]
    if query.doctor_id is not None:
        where.append(SurveyResponse.doctor_id == query.doctor_id)
    return where


def _invitation_filter(session: Session, query: ResultsQuery) -> list[ColumnElement[bool]]:
    template_ids = select(SurveyTemplate.id).where(SurveyTemplate.clinic_id == query.clinic_id,
                                                   SurveyTemplate.code == query.template_code)
    where = [SurveyInvitation.clinic_id == query.clinic_id, SurveyInvitation.template_id.in_(template_ids),
             SurveyInvitation.sent_local_date >= query.date_from, SurveyInvitation.sent_local_date <= query.date_to]
    if query.doctor_id is not None:
        where.append(SurveyInvitation.doctor_id == query.doctor_id)
    return where


def _box(row: Any) -> BoxSummary:
    return BoxSummary(n=int(row.n or 0), top=int(row.top or 0), bottom=int(row.bottom or 0),
                      score_sum=float(row.score_sum or 0.0))


def _nps(row: Any) -> NpsSummary:
    return NpsSummary(n=int(row.nps_n or 0), promoters=int(row.promoters or 0), detractors=int(row.detractors or 0))


def question_catalogue(*, session: Session, clinic_id: int, code: str) -> list[QuestionDef]:
    """Every question the template has had, newest wording first, in the newest version's order."""
    versions = session.scalars(select(SurveyTemplate).where(SurveyTemplate.clinic_id == clinic_id,
                                                            SurveyTemplate.code == code)
                               .order_by(SurveyTemplate.version.desc())).all()
    seen: dict[str, QuestionDef] = {}
    for version in versions:
        for q in version.question_defs():
            seen.setdefault(q.key, q)
    return list(seen.values())


def compute_results(*, session: Session, query: ResultsQuery) -> SurveyResults:
    results = SurveyResults(query=query)
    where = response_filter(query)
    joined = select().select_from(SurveyAnswer).join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)

    catalogue = question_catalogue(session=session, clinic_id=query.clinic_id, code=query.template_code)
    by_key = {row.question_key: row for row in session.execute(
        joined.add_columns(SurveyAnswer.question_key, *_ANSWER_SUMS).where(*where)
        .group_by(SurveyAnswer.question_key))}
    for q in catalogue:
        row = by_key.get(q.key)
        box = _box(row) if row is not None else BoxSummary(0, 0, 0, 0.0)
        nps = (_nps(row) if row is not None else NpsSummary(0, 0, 0)) if q.type is QuestionType.nps else None
        results.questions.append(QuestionResult(question=q, box=box, nps=nps))
    for dimension in Dimension:
        items = [r.box for r in results.questions if r.question.dimension is dimension and r.question.scored]
        if items:
            results.dimensions.append((dimension, composite(items)))
    nps_rows = [r.nps for r in results.questions if r.nps is not None]
    results.nps = NpsSummary(n=sum(n.n for n in nps_rows), promoters=sum(n.promoters for n in nps_rows),
                             detractors=sum(n.detractors for n in nps_rows))
    results.responses = session.scalar(select(func.count(SurveyResponse.id)).where(*where)) or 0
    inv_where = _invitation_filter(session, query)
    sent, answered = session.execute(select(
        func.count(SurveyInvitation.id), _count(SurveyInvitation.status == InvitationStatus.answered),
    ).where(*inv_where)).one()
    results.invitations, results.answered = int(sent or 0), int(answered or 0)
    results.doctors = _groups(session, query, joined, where, inv_where, SurveyResponse.doctor_id,
                              SurveyInvitation.doctor_id)
    period_column = SurveyResponse.month if query.granularity == "month" else SurveyResponse.week
    sent_column = SurveyInvitation.sent_month if query.granularity == "month" else SurveyInvitation.sent_week
    found = {g.key: g for g in _groups(session, query, joined, where, inv_where, period_column, sent_column)}
    empty_box, empty_nps = BoxSummary(0, 0, 0, 0.0), NpsSummary(0, 0, 0)
    results.periods = [found.get(k) or GroupResult(k, k, None, 0, 0, 0, empty_nps, empty_box)
                       for k in period_keys(query.date_from, query.date_to, granularity=query.granularity)]
    return results


def _groups(session: Session, query: ResultsQuery, joined: Any, where: list[ColumnElement[bool]],
            inv_where: list[ColumnElement[bool]], response_column: Any, invitation_column: Any) -> list[GroupResult]:
    answers = {row.g: row for row in session.execute(
        joined.add_columns(response_column.label("g"), *_ANSWER_SUMS).where(*where).group_by(response_column))}
    responses = dict(session.execute(select(response_column, func.count(SurveyResponse.id)).where(*where)
                                     .group_by(response_column)).all())
    sent = {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in session.execute(
        select(invitation_column, func.count(SurveyInvitation.id),
               _count(SurveyInvitation.status == InvitationStatus.answered))
        .where(*inv_where).group_by(invitation_column))}
    keys = set(answers) | set(responses) | set(sent)
    is_doctor = response_column is SurveyResponse.doctor_id
    names = _doctor_names(session, [k for k in keys if k is not None]) if is_doctor else {}
    groups = []
    for key in keys:
        row = answers.get(key)
        invitations, answered = sent.get(key, (0, 0))
        groups.append(GroupResult(
            key=str(key), label=names.get(key, "") if is_doctor else str(key),
            doctor_id=key if is_doctor else None, responses=int(responses.get(key, 0)),
            invitations=invitations, answered=answered,
            nps=_nps(row) if row is not None else NpsSummary(0, 0, 0),
            box=_box(row) if row is not None else BoxSummary(0, 0, 0, 0.0),
        ))
    groups.sort(key=lambda g: (g.label == "", g.label, g.key))
    return groups


def _doctor_names(session: Session, ids: list[int]) -> dict[Any, str]:
    if not ids:
        return {}
    return dict(session.execute(select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(ids))).all())


def list_comments(*, session: Session, query: ResultsQuery, page: int = 1,
                  per_page: int = 20) -> tuple[list[tuple[SurveyAnswer, SurveyResponse]], int]:
    """Free-text answers, newest first; no patient identifiers are attached."""
    where = [*response_filter(query), SurveyAnswer.text != ""]
    base = (select(SurveyAnswer, SurveyResponse).join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
            .where(*where))
    total = session.scalar(select(func.count(SurveyAnswer.id)).join(
        SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id).where(*where)) or 0
    rows = session.execute(base.order_by(SurveyResponse.submitted_at.desc(), SurveyAnswer.id.desc())
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return [(a, r) for a, r in rows], total
