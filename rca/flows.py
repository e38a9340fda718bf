"""Opening an analysis from upstream work — a common-problem suggestion of the feedback domain (its complaints
and concerns attached), a callback, or one complaint that breached its deadline — and showing those links."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlmodel import Session

from clinic.models import Clinic, Patient
from core.db import utcnow
from core.errors import Conflict, NotFound
from core.i18n import format_date, gettext
from core.security import Principal
from feedback.enums import LABELS as FEEDBACK_LABELS
from feedback.enums import SuggestionStatus
from feedback.models import FeedbackItem, RcaSuggestion
from followup.models import Callback
from rca.enums import RcaLinkKind, RcaSource
from rca.history import add_history
from rca.models import RcaLink, RootCauseAnalysis, TimelineEntry
from rca.service import create_analysis

SUMMARY_CHARS = 160


class SuggestionTaken(Conflict):
    """The suggestion was taken up (or dismissed) already; `analysis_id` names the analysis when there is one."""

    def __init__(self, analysis_id: int | None) -> None:
        super().__init__("This suggestion has already been taken up or dismissed.")
        self.analysis_id = analysis_id


class SourceNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("The item this analysis should start from was not found.")


@dataclass(frozen=True)
class LinkedItem:
    kind: RcaLinkKind
    object_id: int
    reference: str
    summary: str
    at: datetime | None
    patient_id: int | None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Prefill:
    """What the "open an analysis" form starts with for a given source."""

    source: RcaSource
    title: str = ""
    problem_statement: str = ""
    triggered_at: datetime | None = None
    patient_id: int | None = None
    items: list[LinkedItem] = field(default_factory=list)
    source_id: int | None = None


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def _feedback_item(item: FeedbackItem) -> LinkedItem:
    return LinkedItem(RcaLinkKind.feedback_item, item.id, item.reference, _short(item.description), item.received_at,
                      item.patient_id, {"kind": str(item.kind), "category": str(item.category),
                                        "status": str(item.status)})


def _callback_item(callback: Callback, language: str) -> LinkedItem:
    reason = callback.reason_zh if language == "zh-CN" and callback.reason_zh else callback.reason_en
    return LinkedItem(RcaLinkKind.callback, callback.id, f"CB-{callback.id}", _short(reason or callback.rule_code),
                      callback.opened_at, callback.patient_id, {
                          "rule_code": callback.rule_code, "status": str(callback.status),
                          "due_at": callback.due_at, "closed_at": callback.closed_at, "outcome": callback.outcome})


def _suggestion(session: Session, clinic_id: int, suggestion_id: int) -> RcaSuggestion:
    suggestion = session.get(RcaSuggestion, suggestion_id)
    if suggestion is None or suggestion.clinic_id != clinic_id:
        raise SourceNotFound()
    return suggestion


def _items(session: Session, clinic_id: int, ids: list[int]) -> list[FeedbackItem]:
    if not ids:
        return []
    return list(session.scalars(select(FeedbackItem).where(FeedbackItem.id.in_(ids), FeedbackItem.clinic_id ==
                                                            clinic_id).order_by(FeedbackItem.received_at)))


def open_suggestions(*, session: Session, clinic_id: int) -> list[RcaSuggestion]:
    return list(session.scalars(select(RcaSuggestion).where(
        RcaSuggestion.clinic_id == clinic_id, RcaSuggestion.status == SuggestionStatus.open)
        .order_by(RcaSuggestion.created_at.desc())))


def category_label(category: str, language: str) -> str:
    return gettext(language, FEEDBACK_LABELS.get(str(category), str(category)))


def prefill(*, session: Session, clinic: Clinic, language: str, suggestion_id: int | None = None,
            callback_id: int | None = None, feedback_item_id: int | None = None, patient_id: int | None = None,
            now: datetime | None = None) -> Prefill:
    """A first draft of title and problem statement from the source, in the user's language; they edit it."""
    now = now or utcnow()
    tz = ZoneInfo(clinic.timezone)
    if suggestion_id is not None:
        suggestion = _suggestion(session, clinic.id, suggestion_id)
        if suggestion.status != SuggestionStatus.open:
            raise SuggestionTaken(suggestion.analysis_id)
        items = _items(session, clinic.id, list(suggestion.item_ids))
        category = category_label(suggestion.category, language)
        lines = [gettext(language, "%(count)s complaints or concerns about %(category)s were received between "
                                   "%(first)s and %(last)s:", count=len(items), category=category,
                         first=format_date(suggestion.first_received_at, language, tz),
                         last=format_date(suggestion.last_received_at, language, tz))]
        lines += [f"- {item.reference}: {_short(item.description)}" for item in items]
        return Prefill(
            source=RcaSource.suggestion, source_id=suggestion.id, triggered_at=suggestion.created_at,
            title=gettext(language, "%(category)s: %(count)s complaints or concerns in %(days)s days",
                          category=category, count=len(items), days=suggestion.window_days),
            problem_statement="\n".join(lines), items=[_feedback_item(item) for item in items])
    if callback_id is not None:
        callback = session.get(Callback, callback_id)
        if callback is None or callback.clinic_id != clinic.id:
            raise SourceNotFound()
        breached = (callback.closed_at or now) > callback.due_at
        item = _callback_item(callback, language)
        title = (gettext(language, "Callback %(ref)s missed its deadline", ref=item.reference) if breached
                 else gettext(language, "Review of callback %(ref)s", ref=item.reference))
        return Prefill(source=RcaSource.callback, source_id=callback.id, title=title, patient_id=callback.patient_id,
                       problem_statement=item.summary, triggered_at=callback.due_at if breached else now,
                       items=[item])
    if feedback_item_id is not None:
        row = session.get(FeedbackItem, feedback_item_id)
        if row is None or row.clinic_id != clinic.id:
            raise SourceNotFound()
        breach = row.resolve_breached_at or row.ack_breached_at
        title = (gettext(language, "%(ref)s missed its response deadline", ref=row.reference) if breach
                 else gettext(language, "Review of %(ref)s", ref=row.reference))
        return Prefill(source=RcaSource.feedback, source_id=row.id, title=title, patient_id=row.patient_id,
                       problem_statement=row.description, triggered_at=breach or now, items=[_feedback_item(row)])
    if patient_id is not None:  # opened by hand about one patient (a fall in the waiting room, a missed dose…)
        patient = session.get(Patient, patient_id)
        if patient is None or patient.clinic_id != clinic.id:
            raise SourceNotFound()
        return Prefill(source=RcaSource.manual, triggered_at=now, patient_id=patient.id)
    return Prefill(source=RcaSource.manual, triggered_at=now)


def open_analysis(*, session: Session, clinic: Clinic, principal: Principal, values: dict[str, Any],
                  suggestion_id: int | None = None, callback_id: int | None = None,
                  feedback_item_id: int | None = None, patient_id: int | None = None,
                  now: datetime | None = None) -> RootCauseAnalysis:
    """Open an analysis from the form; a suggestion is marked taken (compare-and-set) and its items attached."""
    now = now or utcnow()
    draft = prefill(session=session, clinic=clinic, language=principal.language, suggestion_id=suggestion_id,
                    callback_id=callback_id, feedback_item_id=feedback_item_id, patient_id=patient_id, now=now)
    if draft.source == RcaSource.suggestion:
        taken = session.execute(
            update(RcaSuggestion).where(RcaSuggestion.id == draft.source_id,
                                        RcaSuggestion.status == SuggestionStatus.open)
            .values(status=SuggestionStatus.converted, decided_at=now, decided_by=principal.user_id)
            .execution_options(synchronize_session=False)).rowcount
        if not taken:
            raise SuggestionTaken(session.scalar(select(RcaSuggestion.analysis_id)
                                                 .where(RcaSuggestion.id == draft.source_id)))
    analysis = create_analysis(
        session=session, clinic=clinic, principal=principal, source=draft.source,
        title=values.get("title"), problem_statement=values.get("problem_statement"),
        triggered_at=values.get("triggered_at") or draft.triggered_at, event_at=values.get("event_at"),
        location=values.get("location", ""), severity=values.get("severity"),
        probability=values.get("probability"), patient_id=draft.patient_id,
        suggestion_id=draft.source_id if draft.source == RcaSource.suggestion else None, now=now)
    if draft.source == RcaSource.suggestion:
        session.execute(update(RcaSuggestion).where(RcaSuggestion.id == draft.source_id)
                        .values(analysis_id=analysis.id).execution_options(synchronize_session=False))
    attach(session=session, analysis=analysis, principal=principal, items=draft.items)
    return analysis


def attach(*, session: Session, analysis: RootCauseAnalysis, principal: Principal | None,
           items: list[LinkedItem]) -> None:
    """Link the items and seed the timeline with when each came in; the team adds the rest."""
    if not items:
        return
    language = principal.language if principal else "zh-CN"
    for item in items:
        session.add(RcaLink(analysis_id=analysis.id, kind=item.kind, object_id=item.object_id,
                            patient_id=item.patient_id))
        if item.at is not None:
            what = (gettext(language, "%(ref)s received: %(summary)s", ref=item.reference, summary=item.summary)
                    if item.kind == RcaLinkKind.feedback_item
                    else gettext(language, "%(ref)s opened: %(summary)s", ref=item.reference, summary=item.summary))
            session.add(TimelineEntry(analysis_id=analysis.id, occurred_at=item.at, description=what,
                                      source=item.reference))
    session.flush()
    add_history(session=session, analysis=analysis, kind="linked", principal=principal,
                detail={"items": [f"{item.kind}:{item.object_id}" for item in items],
                        "text": ", ".join(item.reference for item in items)})


def linked_items(*, session: Session, analysis: RootCauseAnalysis, language: str) -> list[LinkedItem]:
    links = list(session.scalars(select(RcaLink).where(RcaLink.analysis_id == analysis.id).order_by(RcaLink.id)))
    feedback_ids = [link.object_id for link in links if link.kind == RcaLinkKind.feedback_item]
    callback_ids = [link.object_id for link in links if link.kind == RcaLinkKind.callback]
    found: list[LinkedItem] = [_feedback_item(item) for item in _items(session, analysis.clinic_id, feedback_ids)]
    if callback_ids:
        found += [_callback_item(cb, language) for cb in session.scalars(select(Callback).where(
            Callback.id.in_(callback_ids), Callback.clinic_id == analysis.clinic_id))]
    return found


def patients_by_id(*, session: Session, clinic_id: int, ids: list[int]) -> dict[int, Patient]:
    if not ids:
        return {}
    return {p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_(ids),
                                                                   Patient.clinic_id == clinic_id))}
