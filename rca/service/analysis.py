"""The analytic work inside an RCA: team, timeline, 5-whys chains, fishbone causes and causal statements."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import Session

from clinic.models import Clinic, StaffUser
from core.db import utcnow
from core.errors import Conflict, FieldErrors, NotFound
from core.security import Principal
from rca import validate
from rca.enums import CAUSATION_RULES, CausalDirection, FishboneCategory, RcaTeamRole
from rca.history import add_history
from rca.models import (
    LABEL_MAX,
    TEXT_MAX,
    CausalStatement,
    Cause,
    RcaAction,
    RootCauseAnalysis,
    TeamMember,
    TimelineEntry,
    WhyChain,
    WhyStep,
)
from rca.service.records import ensure_editable

MAX_WHYS = 10
MAX_CAUSES = 120  # far more than a readable diagram holds; stops a runaway form, not a real analysis

# Rule 2 of causation: vague or blaming words hide what actually happened. Whole English words; Chinese phrases.
_VAGUE_EN = re.compile(r"\b(poor|poorly|inadequate|inadequately|careless|carelessly|negligent|negligence|"
                       r"sloppy|improper|improperly)\b", re.IGNORECASE)
_VAGUE_ZH = ("粗心", "马虎", "不认真", "不负责", "疏忽", "不当", "不到位", "不规范", "不够重视")


class ItemNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("This item is no longer part of the analysis.")


def vague_words(text: str) -> list[str]:
    """The vague or blaming words in `text` (RCA² rule 2), so the form can name them."""
    found = [m.group(0) for m in _VAGUE_EN.finditer(text)]
    found += [word for word in _VAGUE_ZH if word in text]
    return found


def _child(session: Session, model: Any, analysis: RootCauseAnalysis, item_id: Any) -> Any:
    row = session.get(model, item_id) if str(item_id).isdigit() else None
    if row is None or row.analysis_id != analysis.id:
        raise ItemNotFound()
    return row


# --- team ------------------------------------------------------------------------------------------------


def team_of(*, session: Session, analysis_id: int) -> list[tuple[TeamMember, StaffUser]]:
    rows = session.execute(select(TeamMember, StaffUser).join(StaffUser, StaffUser.id == TeamMember.staff_id)
                           .where(TeamMember.analysis_id == analysis_id)
                           .order_by(TeamMember.role != RcaTeamRole.facilitator, TeamMember.id)).all()
    return [(row[0], row[1]) for row in rows]


def add_team_member(*, session: Session, analysis: RootCauseAnalysis, principal: Principal, staff_id: Any,
                    role: Any) -> TeamMember:
    ensure_editable(analysis)
    errors = FieldErrors()
    staff = validate.staff_member(session, errors, "staff_id", staff_id, clinic_id=analysis.clinic_id,
                                  required="Choose a staff member.")
    team_role = validate.choice(errors, "role", role, RcaTeamRole, required="Choose a role.")
    if staff is not None and session.scalar(select(TeamMember.id).where(
            TeamMember.analysis_id == analysis.id, TeamMember.staff_id == staff.id)):
        errors.add("staff_id", "%(name)s is already on the team.", name=staff.display_name)
    if team_role == RcaTeamRole.facilitator and session.scalar(select(TeamMember.id).where(
            TeamMember.analysis_id == analysis.id, TeamMember.role == RcaTeamRole.facilitator)):
        errors.add("role", "The team already has a facilitator. Remove them first to choose another.")
    errors.raise_if_any()
    assert staff is not None and team_role is not None
    member = TeamMember(analysis_id=analysis.id, staff_id=staff.id, role=team_role)
    session.add(member)
    session.flush()
    add_history(session=session, analysis=analysis, kind="team_added", principal=principal,
                detail={"staff_id": staff.id, "name": staff.display_name, "role": str(team_role)})
    return member


def remove_team_member(*, session: Session, analysis: RootCauseAnalysis, principal: Principal,
                       member_id: Any) -> None:
    ensure_editable(analysis)
    member = _child(session, TeamMember, analysis, member_id)
    staff = session.get(StaffUser, member.staff_id)
    session.delete(member)
    session.flush()
    add_history(session=session, analysis=analysis, kind="team_removed", principal=principal, detail={
        "staff_id": member.staff_id, "name": staff.display_name if staff else "", "role": str(member.role)})


# --- timeline --------------------------------------------------------------------------------------------


def timeline_of(*, session: Session, analysis_id: int) -> list[TimelineEntry]:
    return list(session.scalars(select(TimelineEntry).where(TimelineEntry.analysis_id == analysis_id)
                                .order_by(TimelineEntry.occurred_at, TimelineEntry.id)))


def add_timeline_entry(*, session: Session, analysis: RootCauseAnalysis, clinic: Clinic, principal: Principal | None,
                       occurred_at: Any, description: Any, actor: Any = "", source: Any = "",
                       now: datetime | None = None) -> TimelineEntry:
    ensure_editable(analysis)
    errors = FieldErrors()
    when = validate.moment(errors, "occurred_at", occurred_at, tz=ZoneInfo(clinic.timezone), now=now or utcnow(),
                           required="Enter when it happened.")
    what = validate.text(errors, "description", description, max_length=TEXT_MAX, required="Say what happened.")
    who = validate.text(errors, "actor", actor, max_length=120)
    where_from = validate.text(errors, "source", source, max_length=120)
    errors.raise_if_any()
    assert when is not None
    entry = TimelineEntry(analysis_id=analysis.id, occurred_at=when, description=what, actor=who, source=where_from)
    session.add(entry)
    session.flush()
    add_history(session=session, analysis=analysis, kind="timeline_added", principal=principal,
                detail={"entry_id": entry.id, "text": what[:200]})
    return entry


def remove_timeline_entry(*, session: Session, analysis: RootCauseAnalysis, principal: Principal,
                          entry_id: Any) -> None:
    ensure_editable(analysis)
    entry = _child(session, TimelineEntry, analysis, entry_id)
    session.delete(entry)
    session.flush()
    add_history(session=session, analysis=analysis, kind="timeline_removed", principal=principal,
                detail={"entry_id": entry.id, "text": entry.description[:200]})


# --- 5 whys ----------------------------------------------------------------------------------------------


def chains_of(*, session: Session, analysis_id: int) -> list[tuple[WhyChain, list[WhyStep]]]:
    chains = list(session.scalars(select(WhyChain).where(WhyChain.analysis_id == analysis_id).order_by(WhyChain.id)))
    steps: dict[int, list[WhyStep]] = {c.id: [] for c in chains if c.id is not None}
    if steps:
        for step in session.scalars(select(WhyStep).where(WhyStep.chain_id.in_(list(steps)))
                                    .order_by(WhyStep.chain_id, WhyStep.position)):
            steps[step.chain_id].append(step)
    return [(chain, steps[chain.id]) for chain in chains if chain.id is not None]


def add_why_chain(*, session: Session, analysis: RootCauseAnalysis, principal: Principal, problem: Any) -> WhyChain:
    ensure_editable(analysis)
    errors = FieldErrors()
    text = validate.text(errors, "problem", problem, max_length=LABEL_MAX,
                         required="Say which problem this chain starts from.")
    errors.raise_if_any()
    chain = WhyChain(analysis_id=analysis.id, problem=text)
    session.add(chain)
    session.flush()
    add_history(session=session, analysis=analysis, kind="chain_added", principal=principal,
                detail={"chain_id": chain.id, "text": text})
    return chain


def remove_why_chain(*, session: Session, analysis: RootCauseAnalysis, principal: Principal, chain_id: Any) -> None:
    ensure_editable(analysis)
    chain = _child(session, WhyChain, analysis, chain_id)
    for step in session.scalars(select(WhyStep).where(WhyStep.chain_id == chain.id)):
        session.delete(step)
    session.flush()
    session.delete(chain)
    session.flush()
    add_history(session=session, analysis=analysis, kind="chain_removed", principal=principal,
                detail={"chain_id": chain.id, "text": chain.problem})


def add_why_step(*, session: Session, analysis: RootCauseAnalysis, principal: Principal, chain_id: Any,
                 question: Any, answer: Any, evidence: Any = "") -> WhyStep:
    """Append the next why → answer to a chain (the question may be left as a plain "Why?")."""
    ensure_editable(analysis)
    chain = _child(session, WhyChain, analysis, chain_id)
    errors = FieldErrors()
    asked = validate.text(errors, "question", question, max_length=LABEL_MAX)
    answered = validate.text(errors, "answer", answer, max_length=LABEL_MAX, required="Write the answer to this why.")
    proof = validate.text(errors, "evidence", evidence, max_length=LABEL_MAX)
    last = session.scalar(select(func.max(WhyStep.position)).where(WhyStep.chain_id == chain.id)) or 0
    if last >= MAX_WHYS:
        errors.add("answer", "A chain holds at most %(max)s whys. Start another chain for a new branch.",
                   max=MAX_WHYS)
    errors.raise_if_any()
    step = WhyStep(chain_id=chain.id, position=last + 1, question=asked, answer=answered, evidence=proof)
    session.add(step)
    session.flush()
    add_history(session=session, analysis=analysis, kind="step_added", principal=principal,
                detail={"chain_id": chain.id, "position": step.position, "text": answered})
    return step


def remove_why_step(*, session: Session, analysis: RootCauseAnalysis, principal: Principal, step_id: Any) -> None:
    """Remove one why; the later ones move up so the chain stays numbered 1, 2, 3…"""
    ensure_editable(analysis)
    step = session.get(WhyStep, int(step_id)) if str(step_id).isdigit() else None
    chain = session.get(WhyChain, step.chain_id) if step is not None else None
    if step is None or chain is None or chain.analysis_id != analysis.id:
        raise ItemNotFound()
    position = step.position
    session.delete(step)
    session.flush()
    for later in session.scalars(select(WhyStep).where(WhyStep.chain_id == chain.id, WhyStep.position > position)
                                 .order_by(WhyStep.position)):
        later.position -= 1
        session.flush()  # one at a time, so (chain, position) stays unique at every step
    add_history(session=session, analysis=analysis, kind="step_removed", principal=principal,
                detail={"chain_id": chain.id, "position": position, "text": step.answer})


# --- fishbone causes -------------------------------------------------------------------------------------


def causes_of(*, session: Session, analysis_id: int) -> list[Cause]:
    return list(session.scalars(select(Cause).where(Cause.analysis_id == analysis_id).order_by(Cause.id)))


def add_cause(*, session: Session, analysis: RootCauseAnalysis, principal: Principal, category: Any,
              text: Any, is_root: bool = False) -> Cause:
    ensure_editable(analysis)
    errors = FieldErrors()
    bone = validate.choice(errors, "category", category, FishboneCategory,
                           required="Choose a category (people, machines, materials, methods, environment or "
                                    "measurement).")
    label = validate.text(errors, "text", text, max_length=LABEL_MAX, required="Describe the cause.")
    count = session.scalar(select(func.count()).select_from(Cause).where(Cause.analysis_id == analysis.id)) or 0
    if count >= MAX_CAUSES:
        errors.add("text", "This diagram already holds %(max)s causes.", max=MAX_CAUSES)
    errors.raise_if_any()
    assert bone is not None
    cause = Cause(analysis_id=analysis.id, category=bone, text=label, is_root=is_root)
    session.add(cause)
    session.flush()
    add_history(session=session, analysis=analysis, kind="cause_added", principal=principal,
                detail={"cause_id": cause.id, "category": str(bone), "text": label})
    return cause


def cause_from_why(*, session: Session, analysis: RootCauseAnalysis, principal: Principal, step_id: Any,
                   category: Any) -> Cause:
    """Put the answer of a why on the fishbone: the last answer of a chain is usually a system cause."""
    step = session.get(WhyStep, int(step_id)) if str(step_id).isdigit() else None
    chain = session.get(WhyChain, step.chain_id) if step is not None else None
    if step is None or chain is None or chain.analysis_id != analysis.id:
        raise ItemNotFound()
    return add_cause(session=session, analysis=analysis, principal=principal, category=category, text=step.answer)


def set_root_cause(*, session: Session, analysis: RootCauseAnalysis, principal: Principal, cause_id: Any,
                   is_root: bool) -> Cause:
    ensure_editable(analysis)
    cause = _child(session, Cause, analysis, cause_id)
    if cause.is_root != is_root:
        cause.is_root = is_root
        session.flush()
        add_history(session=session, analysis=analysis, kind="root_selected" if is_root else "root_cleared",
                    principal=principal, detail={"cause_id": cause.id, "text": cause.text})
    return cause


def remove_cause(*, session: Session, analysis: RootCauseAnalysis, principal: Principal, cause_id: Any) -> None:
    ensure_editable(analysis)
    cause = _child(session, Cause, analysis, cause_id)
    if session.scalar(select(RcaAction.id).where(RcaAction.cause_id == cause.id)):
        raise Conflict("An action addresses this cause. Point the action at another cause first.")
    for statement in session.scalars(select(CausalStatement).where(CausalStatement.cause_id == cause.id)):
        statement.cause_id = None  # the statement keeps its own words
    session.flush()
    session.delete(cause)
    session.flush()
    add_history(session=session, analysis=analysis, kind="cause_removed", principal=principal,
                detail={"cause_id": cause.id, "category": str(cause.category), "text": cause.text})


# --- causal statements -----------------------------------------------------------------------------------


def statements_of(*, session: Session, analysis_id: int) -> list[CausalStatement]:
    return list(session.scalars(select(CausalStatement).where(CausalStatement.analysis_id == analysis_id)
                                .order_by(CausalStatement.id)))


def add_causal_statement(*, session: Session, analysis: RootCauseAnalysis, principal: Principal, cause_text: Any,
                         direction: Any, effect: Any, event: Any, rules: list[Any],
                         cause_id: Any = None) -> CausalStatement:
    """"<cause> increased the likelihood of <effect>, which led to <event>", checked against the five rules."""
    ensure_editable(analysis)
    errors = FieldErrors()
    cause = None
    if validate.int_or_none(cause_id) is not None:
        cause = session.get(Cause, validate.int_or_none(cause_id))
        if cause is None or cause.analysis_id != analysis.id:
            errors.add("cause_id", "Choose one of this analysis's causes.")
            cause = None
    x = validate.text(errors, "cause_text", cause_text or (cause.text if cause else ""), max_length=LABEL_MAX,
                      required="Name the cause (X).")
    verb = validate.choice(errors, "direction", direction or CausalDirection.increased.value, CausalDirection)
    y = validate.text(errors, "effect", effect, max_length=LABEL_MAX,
                      required="Name what it made more or less likely (Y).")
    z = validate.text(errors, "event", event, max_length=LABEL_MAX, required="Name the outcome it led to (Z).")
    for field, value in (("cause_text", x), ("effect", y), ("event", z)):
        words = vague_words(value)
        if words:
            errors.add(field, "Replace vague words (%(words)s) with what actually happened (rule 2).",
                       words=", ".join(words))
    confirmed = sorted({n for n in (validate.int_or_none(r) for r in rules) if n and 1 <= n <= len(CAUSATION_RULES)})
    if len(confirmed) < len(CAUSATION_RULES):
        errors.add("rules", "Check the statement against all five rules of causation before saving it.")
    errors.raise_if_any()
    assert verb is not None
    statement = CausalStatement(analysis_id=analysis.id, cause_id=cause.id if cause else None, cause_text=x,
                                direction=verb, effect=y, event=z, rules_confirmed=confirmed)
    session.add(statement)
    session.flush()
    add_history(session=session, analysis=analysis, kind="statement_added", principal=principal,
                detail={"statement_id": statement.id, "text": x})
    return statement


def remove_causal_statement(*, session: Session, analysis: RootCauseAnalysis, principal: Principal,
                            statement_id: Any) -> None:
    ensure_editable(analysis)
    statement = _child(session, CausalStatement, analysis, statement_id)
    session.delete(statement)
    session.flush()
    add_history(session=session, analysis=analysis, kind="statement_removed", principal=principal,
                detail={"statement_id": statement.id, "text": statement.cause_text})
