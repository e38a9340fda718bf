"""The analysis's history rows: every change to an RCA or anything in it is written here, with who made it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from core.db import utcnow
from core.i18n import N_
from core.security import Principal
from rca.models import RcaHistory, RootCauseAnalysis

# How each kind of row reads on the page.
KIND_LABELS: dict[str, str] = {
    "created": N_("Analysis opened"), "updated": N_("Details changed"), "status": N_("Status changed"),
    "linked": N_("Items linked"), "team_added": N_("Team member added"), "team_removed": N_("Team member removed"),
    "timeline_added": N_("Timeline entry added"), "timeline_removed": N_("Timeline entry removed"),
    "chain_added": N_("5-whys chain added"), "chain_removed": N_("5-whys chain removed"),
    "step_added": N_("Why added"), "step_removed": N_("Why removed"),
    "cause_added": N_("Cause added"), "cause_removed": N_("Cause removed"),
    "root_selected": N_("Selected as a root cause"), "root_cleared": N_("No longer a root cause"),
    "statement_added": N_("Causal statement added"), "statement_removed": N_("Causal statement removed"),
    "action_added": N_("Action added"), "action_updated": N_("Action updated"),
    "pdca_linked": N_("PDCA project started from an action"),
    "start_overdue": N_("Not started within the start deadline: escalated"),
    "finish_overdue": N_("Not finished by the target date: escalated"),
    "action_overdue": N_("Action overdue: escalated"),
}


def add_history(*, session: Session, analysis: RootCauseAnalysis, kind: str, principal: Principal | None = None,
                detail: dict[str, Any] | None = None, touch: bool = True) -> RcaHistory:
    """Write one history row; `touch` also marks the analysis as changed now (the list sorts by it)."""
    row = RcaHistory(
        analysis_id=analysis.id, kind=kind,
        actor_kind=principal.kind if principal else "system",
        actor_id=principal.user_id if principal else None,
        actor_name=principal.name if principal else "",
        detail=detail or {},
    )
    session.add(row)
    if touch:
        analysis.updated_at = utcnow()
    session.flush()
    return row


def history_of(*, session: Session, analysis_id: int, limit: int = 200) -> list[RcaHistory]:
    return list(session.scalars(select(RcaHistory).where(RcaHistory.analysis_id == analysis_id)
                                .order_by(RcaHistory.at.desc(), RcaHistory.id.desc()).limit(limit)))
