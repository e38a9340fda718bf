"""Demo data for the clinic domain: two clinics, their staff and a panel of patients."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from clinic.enums import GlucoseUnit, Programme, RuleProfile
from clinic.models import Clinic, Patient, PatientCreate, StaffUser
from clinic.service import create_clinic, create_patient, create_staff_user, link_caregiver
from core.security import Role

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["秀英", "桂兰", "建国", "志强", "淑珍", "国华", "玉兰", "德明", "桂英", "文华", "丽华", "永生", "凤英",
         "海燕", "长福", "金花", "明亮", "秀兰", "福生", "素芳"]
EN_NAMES = ["Margaret Lee", "Robert Hughes", "Linda Okafor", "James Carter", "Patricia Nguyen", "Michael Brown",
            "Barbara Singh", "William Davis", "Susan Garcia", "David Wilson", "Nancy Lopez", "Thomas Clark"]


@dataclass
class DemoLogin:
    clinic: str
    username: str
    password: str
    role: str


@dataclass
class DemoClinic:
    clinic: Clinic
    doctors: list[StaffUser] = field(default_factory=list)
    patients: list[Patient] = field(default_factory=list)
    logins: list[DemoLogin] = field(default_factory=list)


def demo_exists(*, session: Session) -> bool:
    return session.scalar(select(Clinic.id).where(Clinic.code == "demo")) is not None


def seed_clinics(*, session: Session, patients_per_clinic: int = 50) -> list[DemoClinic]:
    rng = random.Random(20261123)
    cn = _seed_clinic(session, rng, code="demo", name="阳光社区卫生服务中心", timezone="Asia/Shanghai",
                      profile=RuleProfile.cn, language="zh-CN", prefix="", n_patients=patients_per_clinic)
    us = _seed_clinic(session, rng, code="demo-us", name="Riverside Family Health Center",
                      timezone="America/Chicago", profile=RuleProfile.us, language="en", prefix="us-",
                      n_patients=max(6, patients_per_clinic // 4))
    return [cn, us]


def _seed_clinic(session: Session, rng: random.Random, *, code: str, name: str, timezone: str,
                 profile: RuleProfile, language: str, prefix: str, n_patients: int) -> DemoClinic:
    clinic = create_clinic(session=session, code=code, name=name, timezone=timezone, profile=profile,
                           language=language)
    demo = DemoClinic(clinic)
    chinese = language == "zh-CN"
    staff = [
        ("admin", Role.admin, "管理员 周敏" if chinese else "Alex Morgan (admin)"),
        ("doctor", Role.doctor, "王医生" if chinese else "Dr. Priya Shah"),
        ("doctor2", Role.doctor, "李医生" if chinese else "Dr. Tom Becker"),
        ("nurse", Role.nurse, "护士 陈静" if chinese else "Nurse Ana Ruiz"),
        ("committee", Role.committee, "质控组 刘强" if chinese else "Quality lead Sam Ito"),
    ]
    for username, role, display in staff:
        password = f"demo-{username}-2026"
        user = create_staff_user(session=session, clinic=clinic, username=prefix + username, password=password,
                                 role=role, display_name=display, language=language)
        demo.logins.append(DemoLogin(code, prefix + username, password, role.value))
        if role == Role.doctor:
            demo.doctors.append(user)
    for index in range(n_patients):
        if chinese:
            person = rng.choice(SURNAMES) + rng.choice(GIVEN)
            phone = f"+86137{index + 1:08d}"
        else:
            person = EN_NAMES[index % len(EN_NAMES)] + ("" if index < len(EN_NAMES) else f" {index // 12 + 1}")
            phone = f"+1312555{index + 1:04d}"
        programmes = rng.choice([[Programme.hypertension], [Programme.diabetes],
                                 [Programme.hypertension, Programme.diabetes]])
        if index < 2:  # the patients the walkthrough (and the browser journeys) sign in as: both programmes
            programmes = [Programme.hypertension, Programme.diabetes]
        patient_in = PatientCreate(
            name=person, phone=phone, language=language, programmes=programmes,
            glucose_unit=GlucoseUnit.mmol_l if chinese else GlucoseUnit.mg_dl, sms_consent=rng.random() > 0.1,
            date_of_birth=date(rng.randint(1940, 1975), rng.randint(1, 12), rng.randint(1, 28)),
            family_doctor_id=demo.doctors[index % len(demo.doctors)].id,
        )
        demo.patients.append(create_patient(session=session, clinic=clinic, patient_in=patient_in,
                                            channel="staff"))
    if len(demo.patients) > 1:  # patient 1 signs in for themself; patient 2 has a son who enters readings
        parent = demo.patients[1]
        link_caregiver(session=session, patient=parent,
                       name="家属 " + parent.name[0] + "小明" if chinese else "Chris (son)",
                       phone="+8613900000001" if chinese else "+13125550999", relationship="child")
    return demo
