"""Who may use each route, as designed. The access-matrix test fails when the app has a route this table does not
name, so a new route cannot ship without someone deciding who may use it.

Scopes:
- "public": no clinic data behind it; everyone, signed in or not.
- "clinic": the caller's own clinic, implicitly (lists, exports, settings, rulebook codes): another clinic's
  data must never appear in the response.
- "object": the path names an object of one clinic (and, for patient routes, one patient): another clinic's
  object — or for patients and caregivers another patient — is "not found" (404), never "forbidden", so ids
  cannot be probed.
- "link": a survey link; the token is the capability, whoever holds it; a forged token is 404.
- "signed": a provider webhook; refused (403) without a valid signature, whoever calls.

Denials: anonymous → 401 (API) or a redirect to the sign-in page; a signed-in role outside `roles` → 403 (the
API takes only staff bearer tokens, so a patient or caregiver calling it is 401).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EVERYONE = frozenset({"anonymous", "patient", "caregiver", "admin", "doctor", "nurse", "committee"})
PATIENTS = frozenset({"patient", "caregiver"})
STAFF = frozenset({"admin", "doctor", "nurse", "committee"})
CLINICAL = frozenset({"admin", "doctor", "nurse"})  # work callbacks and readings
QUALITY = frozenset({"admin", "committee"})  # run RCA and PDCA, read quality data
READ_QUALITY = frozenset({"admin", "doctor", "committee"})  # indicators, improvement board, survey results
ADMIN = frozenset({"admin"})  # staff, rules, policies, audit
SIGNED_IN = PATIENTS | STAFF
OWN_PATIENT = "ada ownpatient"  # the own clinic's first patient (tests/hardening/access_world.py)
READING_TOKEN = "d" * 32  # the web form's key of the own patient's reading (tests/hardening/access_world.py)
# Doctors and nurses see the complaints they own or that are about them; the world's complaint is about its
# doctor, so the nurse is refused as if it did not exist.
NOT_THEIRS = {"nurse": "scope"}
_THEIRS = "doctors and nurses: only complaints they own or that are about them (others 404)"
# Acting on a complaint: the committee and admins on any; an owner on their own unless it is about them.
NOT_THEIRS_TO_ACT = {"nurse": "scope", "doctor": "role"}
_ACT = "doctors and nurses act only on complaints they own and that are not about them"


@dataclass(frozen=True)
class A:
    """One route's access: who may use it (in their own clinic) and how it is scoped."""

    roles: frozenset[str]
    scope: str
    params: dict[str, Any] = field(default_factory=dict)  # fixed path values (else the world's objects)
    form: dict[str, Any] | None = None  # a valid body, so a refusal proves the guard, not validation
    json: dict[str, Any] | None = None
    suffixes: tuple[str, ...] = ("",)  # extra spellings of the same route (e.g. the report's ".pdf")
    expect_own: int | None = None  # a fixed status for every allowed cell (e.g. a route that only says 404)
    signed_in: bool = True  # False: sign-in/out forms, exercised anonymously only (they end a session)
    # roles that may use the route but not on the world's own object: "scope" (404, as if it did not exist) or
    # "role" (403, they know it but may not act on it)
    object_refusals: dict[str, str] = field(default_factory=dict)
    shows: str = ""  # own data an allowed caller sees here (lowercase), so "no other clinic's data" is not vacuous
    queries: tuple[str, ...] = ()  # query strings naming another clinic's objects ({other_<param>}): never shown
    patient_bound: bool = False  # the object belongs to one patient: under another patient's path it is 404
    note: str = ""


_CB = {"note": "called", "outcome": "reached", "result": "advised", "assigned_to": "", "reason": "resolved"}
_RCA_TEXT = {"text": "Queue too long", "category": "methods", "description": "Called the patient", "why": "x"}

ACCESS: dict[str, A] = {
    "GET /": A(SIGNED_IN, "public", note="each role's start page"),
    "GET /healthz": A(EVERYONE, "public"),
    "GET /readyz": A(EVERYONE, "public"),
    "GET /metrics": A(EVERYONE, "public", note="counts only, no patient data"),
    "GET /lang/{code}": A(EVERYONE, "public", params={"code": "en"}),
    "GET /static/{file_path}": A(EVERYONE, "public", params={"file_path": "careloop.css"}),
    "GET /login": A(EVERYONE, "public"),
    "GET /login/code": A(EVERYONE, "public"),
    "POST /login": A(EVERYONE, "public", signed_in=False, form={"username": "nobody", "password": "wrong"},
                     expect_own=401, note="a wrong password is 401 with the form again"),
    "POST /login/code": A(EVERYONE, "public", signed_in=False, form={"phone": "+8613700000000"}),
    "POST /login/verify": A(EVERYONE, "public", signed_in=False, form={"phone": "+8613700000000", "code": "1"},
                            expect_own=401),
    "POST /logout": A(EVERYONE, "public", signed_in=False, expect_own=302),
    "GET /schema": A(EVERYONE, "public", note="the API's description, no data"),
    "GET /schema/elements": A(EVERYONE, "public"),
    "GET /schema/oauth2-redirect.html": A(EVERYONE, "public"),
    "GET /schema/openapi.json": A(EVERYONE, "public"),
    "GET /schema/openapi.yaml": A(EVERYONE, "public"),
    "GET /schema/openapi.yml": A(EVERYONE, "public"),
    "GET /schema/rapidoc": A(EVERYONE, "public"),
    "GET /schema/redoc": A(EVERYONE, "public"),
    "GET /schema/swagger": A(EVERYONE, "public"),
    "GET /schema/{path}": A(EVERYONE, "public", params={"path": "nothing"}, expect_own=404),
    "GET /feedback/new": A(EVERYONE, "public", note="anyone may complain"),
    "POST /feedback/new": A(EVERYONE, "public", form={"description": "Waited long", "category": "waiting_time"}),
    "GET /s/{token}": A(EVERYONE, "link"),
    "POST /s/{token}": A(EVERYONE, "link", form={"q_explained": "4", "q_listened": "4", "q_timely": "4",
                                                 "q_recommend": "10"}),
    "POST /sms/twilio": A(frozenset(), "signed", form={"From": "+8613700000009", "Body": "120/80",
                                                        "MessageSid": "SM" + "9" * 32}),
    "POST /sms/twilio/status": A(frozenset(), "signed", form={"MessageSid": "SM" + "9" * 32,
                                                               "MessageStatus": "delivered"}),
    # patients and caregivers: their own (or their dependant's) data only
    "GET /me": A(PATIENTS, "clinic", shows=OWN_PATIENT),
    "GET /feedback/mine": A(PATIENTS, "clinic", note="what they sent, or was sent about their patients"),
    "GET /me/patients/{patient_id}/readings": A(PATIENTS, "object"),
    "GET /me/patients/{patient_id}/readings/new": A(PATIENTS, "object"),
    "GET /me/patients/{patient_id}/readings/saved/{token}": A(PATIENTS, "object", params={"token": READING_TOKEN}),
    "POST /me/patients/{patient_id}/readings": A(PATIENTS, "object", form={
        "kind": "glucose", "value": "6.1", "unit": "mmol/L", "context": "fasting", "token": "b" * 32}),
    # patients: all staff read (the committee reads, does not register or enter); clinicians change
    "GET /patients": A(STAFF, "clinic", shows=OWN_PATIENT, queries=("?q=Patient", "?q=139998", "?q=Second")),
    "GET /patients/new": A(CLINICAL, "clinic"),
    "POST /patients/new": A(CLINICAL, "clinic", form={"name": "New Person", "phone": "+8613712340000"}),
    "GET /patients/{patient_id}": A(STAFF, "object"),
    "GET /patients/{patient_id}/readings": A(STAFF, "object"),
    "GET /patients/{patient_id}/readings/new": A(CLINICAL, "object"),
    "GET /patients/{patient_id}/readings/saved/{token}": A(STAFF, "object", params={"token": READING_TOKEN},
                                                           patient_bound=True),
    "POST /patients/{patient_id}/readings": A(CLINICAL, "object", form={
        "kind": "glucose", "value": "6.1", "unit": "mmol/L", "context": "fasting", "token": "c" * 32}),
    "GET /patients/{patient_id}/summary.pdf": A(STAFF, "object", shows="ownpatient"),
    "GET /api/v1/patients": A(STAFF, "clinic", shows=OWN_PATIENT),
    "POST /api/v1/patients": A(CLINICAL, "clinic", json={"name": "New Person", "phone": "+8613712340001"}),
    "GET /api/v1/patients/{patient_id}": A(STAFF, "object"),
    "GET /api/v1/patients/{patient_id}/readings": A(STAFF, "object"),
    "GET /api/v1/patients/{patient_id}/observations": A(CLINICAL, "object", note="FHIR export"),
    "POST /api/v1/readings": A(CLINICAL, "clinic", json={"patient_id": "{other_patient_id}", "kind": "heart_rate",
                                                         "value": 70,
                                                         "taken_at": "2026-01-05T08:00:00+08:00"}),
    # callbacks: clinicians
    "GET /callbacks": A(CLINICAL, "clinic", shows=OWN_PATIENT),
    "GET /callbacks.csv": A(CLINICAL, "clinic", shows=OWN_PATIENT, queries=("?assignee={other_staff_id}",
                                                                            "?status=all&q=Patient")),
    "GET /callbacks/{callback_id}": A(CLINICAL, "object"),
    "GET /callbacks/{callback_id}/chart.svg": A(CLINICAL, "object"),
    "POST /callbacks/{callback_id}/assign": A(CLINICAL, "object", form={"assigned_to": "{other_staff_id}"}),
    "POST /callbacks/{callback_id}/attempts": A(CLINICAL, "object", form=_CB),
    "POST /callbacks/{callback_id}/claim": A(CLINICAL, "object", form=_CB),
    "POST /callbacks/{callback_id}/close": A(CLINICAL, "object", form=_CB),
    "POST /callbacks/{callback_id}/reopen": A(CLINICAL, "object", form=_CB),
    "GET /api/v1/callbacks": A(CLINICAL, "clinic", queries=("?assigned_to={other_staff_id}&status=all",)),
    "GET /api/v1/callbacks/{callback_id}": A(CLINICAL, "object"),
    "POST /api/v1/callbacks/{callback_id}/attempts": A(CLINICAL, "object", json={"outcome": "reached",
                                                                                 "result": "advised"}),
    "POST /api/v1/callbacks/{callback_id}/close": A(CLINICAL, "object", json={"outcome": "reached",
                                                                              "reason": "resolved"}),
    "GET /followups/overdue": A(CLINICAL, "clinic"),
    "GET /followups/overdue.csv": A(CLINICAL, "clinic"),
    "GET /followups/indicators": A(READ_QUALITY, "clinic", note="aggregates"),
    "GET /dev/sms": A(STAFF, "clinic", note="the development transport's outbox"),
    # administration
    "GET /admin/audit": A(ADMIN, "clinic", queries=("?patient_id={other_patient_id}",)),
    "GET /admin/staff": A(ADMIN, "clinic", shows="ownclinic doctor"),
    "POST /admin/staff": A(ADMIN, "clinic", form={"username": "newnurse", "display_name": "New Nurse",
                                                  "role": "nurse", "password": "a long enough password 1"}),
    "GET /admin/followup-policy": A(ADMIN, "clinic"),
    "POST /admin/followup-policy": A(ADMIN, "clinic", form={"service_day_start": "08:00"}),
    "GET /admin/rules": A(ADMIN, "clinic"),
    "GET /admin/rules/new": A(ADMIN, "clinic"),
    "POST /admin/rules/new/edit": A(ADMIN, "clinic", form={"type": "threshold"}),
    "POST /admin/rules/new/preview": A(ADMIN, "clinic", form={"type": "threshold"}),
    "POST /admin/rules/new/save": A(ADMIN, "clinic", form={"type": "threshold"}),
    "GET /admin/rules/{code}": A(ADMIN, "clinic", note="the clinic's version of a rulebook code"),
    "GET /admin/rules/{code}/history": A(ADMIN, "clinic"),
    "POST /admin/rules/{code}/activate": A(ADMIN, "clinic"),
    "POST /admin/rules/{code}/deactivate": A(ADMIN, "clinic"),
    "POST /admin/rules/{code}/edit": A(ADMIN, "clinic", form={}),
    "POST /admin/rules/{code}/preview": A(ADMIN, "clinic", form={}),
    "POST /admin/rules/{code}/save": A(ADMIN, "clinic", form={}),
    # surveys
    "GET /surveys": A(STAFF, "clinic", note="doctors see their own results; nurses may invite"),
    "GET /surveys/export.csv": A(READ_QUALITY, "clinic", queries=("?doctor={other_staff_id}",)),
    "GET /api/v1/surveys/results": A(READ_QUALITY, "clinic", note="aggregates",
                                     queries=("?doctor={other_staff_id}",)),
    "GET /surveys/invite": A(CLINICAL, "clinic", queries=("?q=Patient", "?q=139998", "?q=Second")),
    "POST /surveys/invite": A(CLINICAL, "clinic", form={"patient_id": "{other_patient_id}"}),
    "GET /surveys/settings": A(ADMIN, "clinic"),
    "POST /surveys/settings": A(ADMIN, "clinic", form={"min_days_between": "30"}),
    "GET /surveys/templates": A(QUALITY, "clinic"),
    "GET /surveys/templates/{code}": A(QUALITY, "clinic", params={"code": "post_callback"}),
    "GET /surveys/templates/{code}/edit": A(QUALITY, "clinic", params={"code": "post_callback"}),
    "GET /surveys/templates/{code}/preview": A(QUALITY, "clinic", params={"code": "post_callback"}),
    "POST /surveys/templates/{code}/edit": A(QUALITY, "clinic", params={"code": "post_callback"}, form={}),
    # complaints and concerns: all staff record and work them; the committee and admin see the measures
    "GET /feedback": A(STAFF, "clinic", queries=("?status=all&owner={other_staff_id}",)),
    "GET /feedback/breaches": A(QUALITY, "clinic"),
    "GET /feedback/export.csv": A(QUALITY, "clinic", shows="ownclinic complaint",
                                  queries=("?status=all&owner={other_staff_id}",)),
    "GET /feedback/measures": A(QUALITY, "clinic"),
    "GET /feedback/record": A(STAFF, "clinic", queries=("?patient_id={other_patient_id}",)),
    "POST /feedback/record": A(STAFF, "clinic", form={"description": "Rude call", "category": "attitude",
                                                      "kind": "complaint", "channel": "phone"}),
    "GET /feedback/settings": A(ADMIN, "clinic"),
    "POST /feedback/settings": A(ADMIN, "clinic", form={"complaint_days": "15"}),
    "POST /feedback/settings/calendar": A(ADMIN, "clinic", form={"day": "2030-01-02", "name": "Holiday"}),
    "POST /feedback/settings/calendar/{day_id}/delete": A(ADMIN, "object"),
    "POST /feedback/settings/routes": A(ADMIN, "clinic", form={}),
    "POST /feedback/suggestions/{suggestion_id}/dismiss": A(QUALITY, "object", form={"reason": "dealt with"}),
    "GET /feedback/{item_id}": A(STAFF, "object", object_refusals=NOT_THEIRS, note=_THEIRS),
    "GET /feedback/{item_id}/act/{action}": A(STAFF, "object", object_refusals=NOT_THEIRS_TO_ACT, note=_ACT),
    "POST /feedback/{item_id}/act/{action}": A(STAFF, "object", form={"note": "called back"},
                  object_refusals=NOT_THEIRS_TO_ACT, note=_ACT),
    "GET /feedback/{item_id}/edit": A(STAFF, "object", object_refusals=NOT_THEIRS_TO_ACT, note=_ACT),
    "POST /feedback/{item_id}/edit": A(STAFF, "object", form={"category": "attitude", "severity": "medium"},
                  object_refusals=NOT_THEIRS_TO_ACT, note=_ACT),
    "POST /feedback/{item_id}/note": A(STAFF, "object", form={"note": "called back"},
                  object_refusals=NOT_THEIRS_TO_ACT, note=_ACT),
    "GET /api/v1/complaints": A(STAFF, "clinic", queries=("?status=all&owner={other_staff_id}",)),
    "POST /api/v1/complaints": A(STAFF, "clinic", json={"description": "Rude call", "category": "attitude"}),
    "GET /api/v1/complaints/{item_id}": A(STAFF, "object", object_refusals=NOT_THEIRS, note=_THEIRS),
    "POST /api/v1/complaints/{item_id}/transitions": A(STAFF, "object", json={"action": "acknowledge"},
                  object_refusals=NOT_THEIRS_TO_ACT, note=_ACT),
    # root-cause analyses: clinicians read, the committee (and admin) run them
    "GET /rca": A(STAFF, "clinic", shows="ownclinic analysis"),
    "GET /rca/new": A(QUALITY, "clinic", queries=(
        "?suggestion={other_suggestion_id}", "?callback={other_callback_id}", "?feedback={other_item_id}",
        "?patient={other_patient_id}")),
    "POST /rca/new": A(QUALITY, "clinic", form={"title": "New", "problem_statement": "Long waits"}),
    "GET /rca/settings": A(QUALITY, "clinic"),
    "POST /rca/settings": A(QUALITY, "clinic", form={"start_within_hours": "72", "finish_within_days": "45"}),
    "GET /rca/{analysis_id}": A(STAFF, "object"),
    "GET /rca/{analysis_id}/fishbone": A(STAFF, "object"),
    "GET /rca/{analysis_id}/fishbone.svg": A(STAFF, "object"),
    "GET /api/v1/rca/{analysis_id}": A(STAFF, "object"),
    "GET /api/v1/rca/actions/{action_id}": A(STAFF, "object"),
    "POST /rca/{analysis_id}/details": A(QUALITY, "object", form={"title": "Renamed", "problem_statement": "x"}),
    "POST /rca/{analysis_id}/status": A(QUALITY, "object", form={"transition": "start"}),
    "POST /rca/{analysis_id}/team": A(QUALITY, "object", form={"staff_id": "{other_staff_id}", "role": "member"}),
    "POST /rca/{analysis_id}/team/{member_id}/remove": A(QUALITY, "object"),
    "POST /rca/{analysis_id}/timeline": A(QUALITY, "object", form={"occurred_at": "2026-01-05T08:00",
                                                                   "description": "Called"}),
    "POST /rca/{analysis_id}/timeline/{entry_id}/remove": A(QUALITY, "object"),
    "POST /rca/{analysis_id}/whys": A(QUALITY, "object", form={"problem": "Why late"}),
    "POST /rca/{analysis_id}/whys/{chain_id}/remove": A(QUALITY, "object"),
    "POST /rca/{analysis_id}/whys/{chain_id}/steps": A(QUALITY, "object", form={"question": "Why?",
                                                                                "answer": "Busy"}),
    "POST /rca/{analysis_id}/steps/{step_id}/cause": A(QUALITY, "object", form={"category": "methods"}),
    "POST /rca/{analysis_id}/steps/{step_id}/remove": A(QUALITY, "object"),
    "POST /rca/{analysis_id}/causes": A(QUALITY, "object", form=_RCA_TEXT),
    "POST /rca/{analysis_id}/causes/{cause_id}/remove": A(QUALITY, "object"),
    "POST /rca/{analysis_id}/causes/{cause_id}/root": A(QUALITY, "object", form={"is_root": "1"}),
    "POST /rca/{analysis_id}/statements": A(QUALITY, "object", form={
        "cause_text": "One queue", "direction": "increased", "effect": "waits", "event": "complaints",
        "rules": ["1", "2", "3", "4", "5"]}),
    "POST /rca/{analysis_id}/statements/{statement_id}/remove": A(QUALITY, "object"),
    "POST /rca/{analysis_id}/actions": A(QUALITY, "object", form={
        "description": "Quiet-hour calls", "strength": "stronger", "due_date": "2030-01-01", "measure": "m",
        "owner_id": "{other_staff_id}"}),
    "POST /rca/{analysis_id}/actions/{action_id}": A(QUALITY, "object", form={"status": "done"}),
    # improvement projects (PDCA): the committee runs them; doctors read the board
    "GET /pdca": A(READ_QUALITY, "clinic"),
    "GET /pdca/projects": A(READ_QUALITY, "clinic", shows="ownclinic fewer rude calls"),
    "GET /pdca/projects/new": A(QUALITY, "clinic", queries=("?rca_action={other_action_id}",)),
    "POST /pdca/projects/new": A(QUALITY, "clinic", form={"title": "New project"}),
    "GET /pdca/projects/{project_id}": A(READ_QUALITY, "object"),
    "GET /pdca/projects/{project_id}/edit": A(QUALITY, "object"),
    "POST /pdca/projects/{project_id}/edit": A(QUALITY, "object", form={"title": "Renamed"}),
    "GET /pdca/projects/{project_id}/cycles/new": A(QUALITY, "object"),
    "POST /pdca/projects/{project_id}/cycles/new": A(QUALITY, "object", form={"change_idea": "Idea"}),
    "GET /pdca/projects/{project_id}/measures/new": A(QUALITY, "object"),
    "POST /pdca/projects/{project_id}/measures/new": A(QUALITY, "object", form={"name": "Measure"}),
    "POST /pdca/projects/{project_id}/progress": A(QUALITY, "object", form={"note": "on track"}),
    "GET /pdca/cycles/{cycle_id}": A(READ_QUALITY, "object"),
    "GET /pdca/cycles/{cycle_id}/report.pdf": A(READ_QUALITY, "object"),
    "POST /pdca/cycles/{cycle_id}": A(QUALITY, "object", form={"change_idea": "Changed"}),
    "POST /pdca/cycles/{cycle_id}/advance": A(QUALITY, "object"),
    "POST /pdca/cycles/{cycle_id}/back": A(QUALITY, "object"),
    "POST /pdca/cycles/{cycle_id}/next": A(QUALITY, "object"),
    "GET /pdca/measures/{measure_id}": A(READ_QUALITY, "object"),
    "POST /pdca/measures/{measure_id}/values": A(QUALITY, "object", form={"period": "2026-01", "numerator": "1",
                                                                         "denominator": "2"}),
    "POST /api/v1/spc": A(STAFF, "public", json={"chart": "i", "values": [1, 2, 3]},
                          note="computes a chart from the numbers sent; reads no clinic data"),
    # the report archive: staff; a kind's roles narrow it further
    "GET /reports": A(STAFF, "clinic"),
    "POST /reports": A(STAFF, "clinic", form={"kind": "patient_summary", "patient_id": "{other_patient_id}"}),
    "GET /reports/{ref}": A(STAFF, "object", suffixes=("", ".pdf")),
    "GET /reports/{ref}/status": A(STAFF, "object"),
    "POST /reports/{ref}/retry": A(STAFF, "object"),
}
