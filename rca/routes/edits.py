"""The overview's forms: each posts one change, answered by a redirect with a confirmation or by the page again
with the form's values and its field-level messages. Only the committee and administrators may post."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from sqlmodel import Session

from core.web import requires
from rca import service
from rca.routes.common import EDITORS, Form, apply_edit, as_list


class RcaEditController(Controller):
    path = "/rca/{analysis_id:int}"
    include_in_schema = False
    guards = [requires(*EDITORS)]

    @post("/details", name="rca:update", sync_to_thread=True)
    def update_details(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, data: Form) -> Any:
        return apply_edit(request, db, analysis_id, "details", data, lambda a, c, p: service.update_analysis(
            session=db, analysis=a, clinic=c, principal=p, values=data))

    @post("/status", name="rca:status", sync_to_thread=True)
    def change_status(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, data: Form) -> Any:
        return apply_edit(request, db, analysis_id, "status", data, lambda a, c, p: service.change_status(
            session=db, analysis=a, principal=p, transition=data.get("transition"),
            note=str(data.get("note", ""))))

    @post("/team", name="rca:team-add", sync_to_thread=True)
    def add_member(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, data: Form) -> Any:
        return apply_edit(request, db, analysis_id, "team", data, lambda a, c, p: service.add_team_member(
            session=db, analysis=a, principal=p, staff_id=data.get("staff_id"), role=data.get("role")))

    @post("/team/{member_id:int}/remove", name="rca:team-remove", sync_to_thread=True)
    def remove_member(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, member_id: int,
                      data: Form) -> Any:
        return apply_edit(request, db, analysis_id, "team", data, lambda a, c, p: service.remove_team_member(
            session=db, analysis=a, principal=p, member_id=member_id))

    @post("/timeline", name="rca:timeline-add", sync_to_thread=True)
    def add_timeline(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, data: Form) -> Any:
        return apply_edit(request, db, analysis_id, "timeline", data, lambda a, c, p: service.add_timeline_entry(
            session=db, analysis=a, clinic=c, principal=p, occurred_at=data.get("occurred_at"),
            description=data.get("description"), actor=data.get("actor", ""), source=data.get("source", "")))

    @post("/timeline/{entry_id:int}/remove", name="rca:timeline-remove", sync_to_thread=True)
    def remove_timeline(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, entry_id: int,
                        data: Form) -> Any:
        return apply_edit(request, db, analysis_id, "timeline", data, lambda a, c, p: service.remove_timeline_entry(
            session=db, analysis=a, principal=p, entry_id=entry_id))

    @post("/whys", name="rca:chain-add", sync_to_thread=True)
    def add_chain(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, data: Form) -> Any:
        return apply_edit(request, db, analysis_id, "whys", data, lambda a, c, p: service.add_why_chain(
            session=db, analysis=a, principal=p, problem=data.get("problem")))

    @post("/whys/{chain_id:int}/remove", name="rca:chain-remove", sync_to_thread=True)
    def remove_chain(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, chain_id: int,
                     data: Form) -> Any:
        return apply_edit(request, db, analysis_id, "whys", data, lambda a, c, p: service.remove_why_chain(
            session=db, analysis=a, principal=p, chain_id=chain_id))

    @post("/whys/{chain_id:int}/steps", name="rca:step-add", sync_to_thread=True)
    def add_step(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, chain_id: int,
                 data: Form) -> Any:
        data = {**data, "chain_id": str(chain_id)}  # tells the page which chain's form failed
        return apply_edit(request, db, analysis_id, "whys", data, lambda a, c, p: service.add_why_step(
            session=db, analysis=a, principal=p, chain_id=chain_id, question=data.get("question"),
            answer=data.get("answer"), evidence=data.get("evidence", "")))

    @post("/steps/{step_id:int}/remove", name="rca:step-remove", sync_to_thread=True)
    def remove_step(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, step_id: int,
                    data: Form) -> Any:
        return apply_edit(request, db, analysis_id, "whys", data, lambda a, c, p: service.remove_why_step(
            session=db, analysis=a, principal=p, step_id=step_id))

    @post("/steps/{step_id:int}/cause", name="rca:step-to-cause", sync_to_thread=True)
    def step_to_cause(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, step_id: int,
                      data: Form) -> Any:
        return apply_edit(request, db, analysis_id, "causes", data, lambda a, c, p: service.cause_from_why(
            session=db, analysis=a, principal=p, step_id=step_id, category=data.get("category")))

    @post("/causes", name="rca:cause-add", sync_to_thread=True)
    def add_cause(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, data: Form) -> Any:
        return apply_edit(request, db, analysis_id, "causes", data, lambda a, c, p: service.add_cause(
            session=db, analysis=a, principal=p, category=data.get("category"), text=data.get("text"),
            is_root=str(data.get("is_root", "")) in ("1", "on", "true")))

    @post("/causes/{cause_id:int}/root", name="rca:cause-root", sync_to_thread=True)
    def set_root(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, cause_id: int,
                 data: Form) -> Any:
        return apply_edit(request, db, analysis_id, "causes", data, lambda a, c, p: service.set_root_cause(
            session=db, analysis=a, principal=p, cause_id=cause_id, is_root=str(data.get("root", "")) == "1"))

    @post("/causes/{cause_id:int}/remove", name="rca:cause-remove", sync_to_thread=True)
    def remove_cause(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, cause_id: int,
                     data: Form) -> Any:
        return apply_edit(request, db, analysis_id, "causes", data, lambda a, c, p: service.remove_cause(
            session=db, analysis=a, principal=p, cause_id=cause_id))

    @post("/statements", name="rca:statement-add", sync_to_thread=True)
    def add_statement(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, data: Form) -> Any:
        data = {**data, "rules": as_list(data.get("rules"))}  # one ticked box arrives as a string, several as a list
        return apply_edit(request, db, analysis_id, "statements", data, lambda a, c, p: service.add_causal_statement(
            session=db, analysis=a, principal=p, cause_text=data.get("cause_text"), direction=data.get("direction"),
            effect=data.get("effect"), event=data.get("event"), rules=as_list(data.get("rules")),
            cause_id=data.get("cause_id")))

    @post("/statements/{statement_id:int}/remove", name="rca:statement-remove", sync_to_thread=True)
    def remove_statement(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, statement_id: int,
                         data: Form) -> Any:
        return apply_edit(request, db, analysis_id, "statements", data,
                          lambda a, c, p: service.remove_causal_statement(session=db, analysis=a, principal=p,
                                                                          statement_id=statement_id))

    @post("/actions", name="rca:action-add", sync_to_thread=True)
    def add_action(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, data: Form) -> Any:
        return apply_edit(request, db, analysis_id, "actions", data, lambda a, c, p: service.add_action(
            session=db, analysis=a, clinic=c, principal=p, description=data.get("description"),
            strength=data.get("strength"), owner_id=data.get("owner_id"), due_date=data.get("due_date"),
            measure=data.get("measure"), cause_id=data.get("cause_id")))

    @post("/actions/{action_id:int}", name="rca:action-update", sync_to_thread=True)
    def update_action(self, request: Request[Any, Any, Any], db: Session, analysis_id: int, action_id: int,
                      data: Form) -> Any:
        data = {**data, "action_id": str(action_id)}  # tells the page which action's form failed
        return apply_edit(request, db, analysis_id, "actions", data, lambda a, c, p: service.update_action(
            session=db, analysis=a, clinic=c, principal=p, action_id=action_id, values=data))
