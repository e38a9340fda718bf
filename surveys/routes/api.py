"""The survey results API: `GET /api/v1/surveys/results?template=&from=&to=&granularity=` (bearer tokens,
clinic-scoped; a doctor's token sees their own patients' answers only)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from sqlmodel import Session

from clinic.models import Clinic
from core.audit import record_audit
from core.errors import FieldErrors
from core.models import AuditAction
from core.web import client_address, principal_of, requires
from surveys.models import (
    BoxRead,
    DimensionResultRead,
    DoctorResultRead,
    NpsRead,
    PeriodResultRead,
    QuestionResultRead,
    SurveyResultsRead,
)
from surveys.results import GroupResult, SurveyResults, compute_results
from surveys.routes.helpers import results_filter, scope_doctor
from surveys.routes.pages import RESULT_ROLES
from surveys.scoring import BoxSummary, Composite, NpsSummary
from surveys.service import template_codes


def _box(box: BoxSummary | Composite) -> BoxRead:
    return BoxRead(n=box.n, top_box_pct=box.top_pct, bottom_box_pct=box.bottom_pct, mean_0_100=box.mean)


def _nps(nps: NpsSummary) -> NpsRead:
    return NpsRead(n=nps.n, promoters_pct=nps.promoter_pct, detractors_pct=nps.detractor_pct, nps=nps.score,
                   standard_error=nps.standard_error)


def _period(g: GroupResult) -> PeriodResultRead:
    return PeriodResultRead(period=g.key, responses=g.responses, invitations=g.invitations,
                            response_rate_pct=g.rate, nps=_nps(g.nps), box=_box(g.box))


def to_read(results: SurveyResults, language: str) -> SurveyResultsRead:
    q = results.query
    return SurveyResultsRead(
        template=q.template_code, date_from=q.date_from, date_to=q.date_to, granularity=q.granularity,
        invitations_sent=results.invitations, responses=results.responses, response_rate_pct=results.rate,
        nps=_nps(results.nps),
        questions=[QuestionResultRead(key=r.question.key, type=r.question.type.value,
                                      dimension=r.question.dimension.value, text=r.question.text(language),
                                      box=_box(r.box), nps=_nps(r.nps) if r.nps else None)
                   for r in results.questions],
        dimensions=[DimensionResultRead(dimension=d.value, items=c.items, box=_box(c)) for d, c in results.dimensions],
        doctors=[DoctorResultRead(doctor_id=g.doctor_id, name=g.label, responses=g.responses,
                                  invitations=g.invitations, response_rate_pct=g.rate, nps=_nps(g.nps),
                                  box=_box(g.box)) for g in results.doctors],
        periods=[_period(g) for g in results.periods],
    )


class SurveyApiController(Controller):
    path = "/api/v1/surveys"
    tags = ["surveys"]

    @get("/results", guards=[requires(*RESULT_ROLES)], sync_to_thread=True,
         summary="Survey scores for a template and period: top/bottom box, linear mean, NPS, response rate")
    def results(self, request: Request[Any, Any, Any], db: Session) -> SurveyResultsRead:
        principal = principal_of(request)
        clinic = db.get(Clinic, principal.clinic_id)
        assert clinic is not None
        params = dict(request.query_params)
        chosen = results_filter(clinic_id=clinic.id, timezone=clinic.timezone,
                                codes=template_codes(session=db, clinic_id=clinic.id), params=params,
                                doctor_id=scope_doctor(request, params))
        if chosen.errors:  # the API says what is wrong instead of quietly using defaults
            errors = FieldErrors()
            for name, message in chosen.errors.items():
                errors.add(name, message)
            errors.raise_if_any("Some of the values are not valid.")
        results = compute_results(session=db, query=chosen.query)
        record_audit(session=db, action=AuditAction.view, object_type="survey_results", principal=principal,
                     client_address=client_address(request), detail=f"api {chosen.querystring}")
        return to_read(results, principal.language)

