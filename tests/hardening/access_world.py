"""The data the access matrix runs against: two clinics ("own" and "other"), each with two patients, a caregiver,
staff of every role, a reading, a callback, a survey invitation and response, complaints, an RCA with one of
everything, a PDCA project and cycle, and a finished report in the archive.

Every text the other clinic stores carries OTHER_MARK (names, complaint, RCA, project, staff), and the second
patient of the own clinic carries NEIGHBOUR_MARK, so a test can prove neither ever reaches a response body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar.testing import TestClient
from sqlalchemy import select
from sqlmodel import Session

from clinic.auth import staff_principal
from clinic.models import Clinic, Patient, StaffUser
from clinic.service import link_caregiver
from core.db import utcnow
from core.reports import request_report
from feedback.enums import Category, Channel, FeedbackKind
from feedback.policy import add_calendar_day
from feedback.service import create_item
from rca import service as rca
from rca.enums import RcaSource
from tests.factories import (
    login_staff,
    make_clinic,
    make_patient,
    make_pdca_cycle,
    make_pdca_project,
    make_staff,
    make_token,
    post_form,
)
from tests.feedback.feedback_builders import login_patient
from tests.hardening.access_table import READING_TOKEN
from tests.rca.rca_builders import make_suggestion
from tests.surveys.survey_builders import GOOD, answer, sent_invitation

OTHER_MARK = "xqother"  # in every text of the other clinic
NEIGHBOUR_MARK = "nbrpatient"  # the own clinic's second patient (whom a patient must never see)
STAFF_ROLE_NAMES = ("admin", "doctor", "nurse", "committee")
ROLES = ("anonymous", "patient", "caregiver", *STAFF_ROLE_NAMES)
RULE_CODE = "CN-DM-01b"
SURVEY_CODE = "post_callback"


@dataclass
class ClinicData:
    """One clinic's objects, by the path parameter name that selects them."""

    clinic: Clinic
    patient: Patient
    neighbour: Patient
    staff: dict[str, StaffUser]
    caregiver_phone: str
    params: dict[str, Any] = field(default_factory=dict)
    markers: tuple[str, ...] = ()  # distinctive texts of this clinic's data


@dataclass
class World:
    own: ClinicData
    other: ClinicData
    clients: dict[str, TestClient[Any]]
    tokens: dict[str, str]  # API bearer tokens of the own clinic's staff, by role
    app: Any = None
    settings: Any = None
    broker: Any = None
    bind: Any = None  # the engine a test reads the database through

    def neighbour_params(self) -> dict[str, Any]:
        return {**self.own.params, "patient_id": self.own.neighbour.id}


def _digits(phone: str) -> str:
    return phone.lstrip("+").removeprefix("86")


def _clinic(session: Session, tag: str, phones: tuple[str, str, str]) -> ClinicData:
    mark = OTHER_MARK if tag == "other" else "ownclinic"
    # Clinic names are public (the complaint form lists them), so they carry no marker.
    clinic = make_clinic(session, name="Riverside Health Centre" if tag == "other" else "Hillside Health Centre",
                         language="en", profile="cn")
    staff = {role: make_staff(session, clinic, role=role, display_name=f"{mark.title()} {role.title()}")
             for role in STAFF_ROLE_NAMES}
    patient_name = f"{mark.title()} Patient" if tag == "other" else "Ada Ownpatient"
    patient = make_patient(session, clinic, name=patient_name, phone=phones[0], language="en")
    neighbour = make_patient(session, clinic, phone=phones[1], language="en",
                             name=f"{mark.title()} Second" if tag == "other" else f"{NEIGHBOUR_MARK.title()} Samecl")
    link_caregiver(session=session, patient=patient, name=f"{mark.title()} Carer", phone=phones[2],
                   relationship="daughter", language="en")
    data = ClinicData(clinic=clinic, patient=patient, neighbour=neighbour, staff=staff, caregiver_phone=phones[2])
    data.markers = (mark, _digits(phones[0]), _digits(phones[1]), _digits(phones[2])) if tag == "other" else ()
    return data


def _objects(session: Session, client: TestClient[Any], data: ClinicData, mark: str) -> None:
    """Everything a path parameter can point at, made through the real services (and the API for readings)."""
    clinic, patient, staff = data.clinic, data.patient, data.staff
    committee = staff_principal(staff["committee"])
    token = make_token(session, staff["doctor"])
    session.commit()
    created = client.post("/api/v1/readings", headers={"Authorization": f"Bearer {token}"}, json={
        "patient_id": patient.id, "kind": "blood_pressure", "systolic": 186, "diastolic": 112,
        "taken_at": utcnow().isoformat()})
    assert created.status_code == 201, created.text
    callback_id = created.json()["alerts"][0]["callback_id"]
    invitation, survey_token = sent_invitation(session, clinic, patient, doctor_id=staff["doctor"].id)
    session.commit()
    assert answer(client, survey_token, GOOD, follow_redirects=False).status_code < 400
    complaint = create_item(session=session, clinic=clinic, kind=FeedbackKind.complaint, category=Category.attitude,
                            channel=Channel.phone, description=f"{mark} complaint: the nurse was rude on the phone",
                            submitted_by_kind="patient", submitted_by_id=patient.id, patient=patient,
                            subject_staff_id=staff["doctor"].id)
    suggestion, _ = make_suggestion(session, clinic)
    day = add_calendar_day(session=session, clinic_id=clinic.id,
                           values={"day": (date.today() + timedelta(days=40)).isoformat(), "name": f"{mark} day"})
    analysis = rca.create_analysis(session=session, clinic=clinic, principal=committee, triggered_at=None,
                                   title=f"{mark} analysis of rude phone calls",
                                   problem_statement=f"{mark}: three complaints about rude calls this month.",
                                   source=RcaSource.manual)
    member = rca.add_team_member(session=session, analysis=analysis, principal=committee,
                                 staff_id=staff["doctor"].id, role="member")
    entry = rca.add_timeline_entry(session=session, analysis=analysis, clinic=clinic, principal=committee,
                                   occurred_at=utcnow() - timedelta(days=2),
                                   description=f"{mark} call made")
    chain = rca.add_why_chain(session=session, analysis=analysis, principal=committee, problem=f"{mark} rude calls")
    step = rca.add_why_step(session=session, analysis=analysis, principal=committee, chain_id=chain.id,
                            question="Why?", answer=f"{mark} nurses call during the busiest hour")
    cause = rca.add_cause(session=session, analysis=analysis, principal=committee, category="methods",
                          text=f"{mark} calls are scheduled at the busiest hour")
    statement = rca.add_causal_statement(
        session=session, analysis=analysis, principal=committee, cause_text="Calls scheduled at the busiest hour",
        direction="increased", effect="hurried calls", event="complaints about rudeness",
        rules=["1", "2", "3", "4", "5"])
    action = rca.add_action(session=session, analysis=analysis, clinic=clinic, principal=committee,
                            description=f"{mark} move calls to the quiet hour", strength="stronger",
                            owner_id=staff["committee"].id,
                            due_date=(date.today() + timedelta(days=30)).isoformat(), measure="Complaints a month")
    project = make_pdca_project(session, clinic, staff["committee"], title=f"{mark} fewer rude calls")
    cycle = make_pdca_cycle(session, project, staff["committee"], change_idea=f"{mark} quiet-hour calls")
    report = request_report(session=session, kind="patient_summary", clinic_id=clinic.id,
                            params={"patient_id": str(patient.id), "days": "90"}, language="en")
    session.commit()
    data.params = {
        "patient_id": patient.id, "callback_id": callback_id, "item_id": complaint.id, "action": "acknowledge",
        "suggestion_id": suggestion.id, "day_id": day.id, "analysis_id": analysis.id, "action_id": action.id,
        "cause_id": cause.id, "statement_id": statement.id, "step_id": step.id, "member_id": member.id,
        "entry_id": entry.id, "chain_id": chain.id, "project_id": project.id, "cycle_id": cycle.id,
        "measure_id": project.aim_measure_id, "ref": str(report.id), "code": RULE_CODE,
        "token": survey_token, "invitation_id": invitation.id,
    }


def _render_reports(session: Session, run_jobs: Any) -> None:
    from core.reports import ReportFile, ReportStatus

    run_jobs()
    session.expire_all()
    statuses = list(session.scalars(select(ReportFile.status)))
    assert statuses and all(s == ReportStatus.done for s in statuses), statuses


def build_world(session: Session, app: Any, run_jobs: Any, make_client: Any) -> World:
    own = _clinic(session, "own", ("+8613711112222", "+8613988776655", "+8613711113333"))
    other = _clinic(session, "other", ("+8613999887766", "+8613999881122", "+8613999883344"))
    session.commit()
    setup = make_client()
    _objects(session, setup, own, "ownclinic")
    _objects(session, setup, other, OTHER_MARK)
    _render_reports(session, run_jobs)
    clients = {role: make_client() for role in ROLES}
    for role in STAFF_ROLE_NAMES:
        assert login_staff(clients[role], own.staff[role].username).status_code in (302, 303)
    login_patient(clients["patient"], session, own.patient.phone)
    login_patient(clients["caregiver"], session, own.caregiver_phone)
    local = (utcnow() - timedelta(minutes=2)).astimezone(ZoneInfo("Asia/Shanghai"))
    saved = post_form(clients["patient"], f"/me/patients/{own.patient.id}/readings", {
        "kind": "glucose", "value": "6.4", "unit": "mmol/L", "context": "fasting", "token": READING_TOKEN,
        "date": local.date().isoformat(), "time": local.strftime("%H:%M")},
        follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith(READING_TOKEN), saved.text
    tokens = {role: make_token(session, own.staff[role]) for role in STAFF_ROLE_NAMES}
    session.commit()
    clients["anonymous"].get("/login")  # a CSRF cookie, so a refused form is refused for its role, not its token
    return World(own=own, other=other, clients=clients, tokens=tokens)
