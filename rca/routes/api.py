"""The RCA JSON API under /api/v1 (bearer tokens, clinic-scoped): read an analysis with its actions, or one action."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from sqlmodel import Session

from core.db import utcnow
from core.models import AuditAction
from core.security import STAFF_ROLES
from core.web import principal_of, requires
from rca import service
from rca.models import ActionRead, AnalysisRead
from rca.routes.common import audit
from rca.timers import clocks


class RcaApiController(Controller):
    path = "/api/v1/rca"
    tags = ["rca"]
    guards = [requires(*STAFF_ROLES)]

    @get("/{analysis_id:int}", sync_to_thread=True, summary="One root-cause analysis with its actions")
    def read(self, request: Request[Any, Any, Any], db: Session, analysis_id: int) -> AnalysisRead:
        principal = principal_of(request)
        analysis = service.get_analysis(session=db, clinic_id=principal.clinic_id, analysis_id=analysis_id)
        audit(db, request, analysis, AuditAction.view, detail="api")
        now = utcnow()
        state = clocks(status=analysis.status, start_due_at=analysis.start_due_at, due_at=analysis.due_at,
                       started_at=analysis.started_at, completed_at=analysis.completed_at, now=now)
        actions = [service.action_summary(session=db, clinic_id=principal.clinic_id, action_id=a.id, now=now)
                   for a in service.actions_of(session=db, analysis_id=analysis.id)]
        return AnalysisRead(
            id=analysis.id, reference=analysis.reference, title=analysis.title,
            problem_statement=analysis.problem_statement, source=analysis.source, status=analysis.status,
            severity=analysis.severity, probability=analysis.probability, sac_score=analysis.sac_score,
            triggered_at=analysis.triggered_at, start_due_at=analysis.start_due_at, due_at=analysis.due_at,
            started_at=analysis.started_at, completed_at=analysis.completed_at, start_overdue=state.start_overdue,
            finish_overdue=state.finish_overdue, actions=actions)

    @get("/actions/{action_id:int}", sync_to_thread=True, summary="One RCA action (e.g. to start a PDCA project)")
    def read_action(self, request: Request[Any, Any, Any], db: Session, action_id: int) -> ActionRead:
        principal = principal_of(request)
        return service.action_summary(session=db, clinic_id=principal.clinic_id, action_id=action_id)
