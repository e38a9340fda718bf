"""A year of satisfaction surveys for the synthetic population: each clinic's templates and settings seeded by the
app's own service, invitations after reached callbacks and from the monthly 5 % panel sample, and the responses
and scored answers of those answered, copied in bulk.

Every derived field comes from the app's own code, so the rows are those the app would have stored: sending hours
(next_in_window), the clinic-local day, month and ISO week (month_key, week_key), reading and scoring a submitted
form (read_answers, QuestionDef.score) and the low-score rule (low_reasons). What submission does that this does
not: the `survey.low_score` event and the feedback concern it opens, and the invitation and reminder SMS rows.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

from surveys.enums import QuestionType
from surveys.invitations import in_window, issue_token, next_in_window
from surveys.questions import NA, QuestionDef
from surveys.responses import field_name, judge_answers, read_answers
from surveys.scoring import month_key, week_key

EPOCH, NEVER = datetime(2000, 1, 1, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC)
SWEEP = timedelta(minutes=5)  # surveys.dispatch_invitations runs every five minutes ...
SWEEP_LIMIT = 200  # ... and sends at most this many invitations a sweep
SAMPLE_MINUTE = 15  # surveys.sample_panels runs hourly at :15, so a month's draw is at 00:15 on the sample day
ANSWER_RATE = {"callback": 0.50, "sample": 0.36}  # patients just called answer more readily than a cold sample
BEFORE_REMINDER = 0.7  # of the answers, the share given before the reminder
CANCELLED = 0.02  # found unable to receive SMS at sending time (the app's only cancellation)
NA_SHARE, CHOICE_SHARE = 0.08, 0.88  # "does not apply" where allowed; optional single choice answered
MOODS = (("happy", 0.75), ("mixed", 0.18), ("unhappy", 0.07))
COMMENT_SHARE = {"happy": 0.15, "mixed": 0.35, "unhappy": 0.70}
ENGLISH_COMMENTS = 0.15
COMMENTS = {  # the unhappy ones carry words of surveys.defaults.COMPLAINT_WORDS, as such comments do
    ("happy", "zh"): ["医生很耐心，谢谢！", "随访电话很及时，服务很好。", "家庭医生很负责，解释得很清楚。",
                      "没有不满意，谢谢医生。", "服务态度很好，继续保持。"],
    ("happy", "en"): ["Very helpful call, thank you.", "The doctor explained everything clearly.",
                      "No complaints, thanks to the team."],
    ("mixed", "zh"): ["希望周末也能预约。", "电话有时候打不通，希望改进。", "药房取药排队时间有点长。",
                      "希望能多提醒我测血压。"],
    ("mixed", "en"): ["It would help to get the call a bit earlier in the day.", "Parking near the clinic is hard."],
    ("unhappy", "zh"): ["等了很久才接到电话。", "医生态度不好，很不耐烦。", "打了好几次电话都没人接。",
                        "对这次随访很不满意。", "感觉医生在敷衍我。"],
    ("unhappy", "en"): ["The doctor was rude on the phone.", "I waited too long for a call back.",
                        "Nobody called me back after my high reading."],
}


@dataclass(frozen=True)
class ClinicSurveys:
    """What the app seeded for one clinic: its zone, settings and the current version of each template."""

    clinic_id: int
    tz: ZoneInfo
    settings: dict[str, int | bool | str]
    templates: dict[str, tuple[int, list[QuestionDef]]]  # code -> (template id, questions)


@dataclass
class Invitation:
    clinic: ClinicSurveys
    patient_id: int
    template_code: str
    trigger: str
    doctor_id: int | None
    language: str
    created_at: datetime
    send_after: datetime
    cancelled: bool
    callback_id: int | None = None
    sent_at: datetime | None = None  # set when sent inside the sweep's limit (sample days)
    id: int = 0


@dataclass
class SurveyCounts:
    invitations: int = 0
    responses: int = 0
    answers: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


def seed_survey_setup(database_url: str) -> dict[int, ClinicSurveys]:
    """Each clinic's default templates and settings, created by the same service calls as on a clinic's first
    survey page (ensure_default_templates, get_settings)."""
    from sqlmodel import Session, select

    from clinic.models import Clinic
    from core.db import make_engine
    from core.settings import Settings
    from surveys.service import current_template, ensure_default_templates, get_settings

    engine = make_engine(Settings(database_url=database_url, _env_file=None))  # type: ignore[call-arg]
    setups: dict[int, ClinicSurveys] = {}
    try:
        with Session(engine) as session:
            for clinic in session.exec(select(Clinic).order_by(Clinic.id)).all():
                ensure_default_templates(session=session, clinic_id=clinic.id)
                settings = get_settings(session=session, clinic_id=clinic.id).model_dump(
                    exclude={"id", "clinic_id", "updated_by", "updated_at"})
                templates = {}
                for code in {settings["callback_template"], settings["sample_template"]}:
                    template = current_template(session=session, clinic_id=clinic.id, code=code)
                    templates[code] = (template.id, template.question_defs())
                setups[clinic.id] = ClinicSurveys(clinic.id, ZoneInfo(clinic.timezone), settings, templates)
            session.commit()
    finally:
        engine.dispose()
    return setups


def load_surveys(conn: psycopg.Connection, *, database_url: str, now: datetime, days: int,
                 rng: random.Random) -> SurveyCounts:
    setups = seed_survey_setup(database_url)
    invitations, runs = _plan_invitations(conn, setups=setups, now=now, days=days, rng=rng)
    return _store(conn, invitations=invitations, runs=runs, now=now, rng=rng)


# --- who is invited when ---------------------------------------------------------------------------------------


def _plan_invitations(conn: psycopg.Connection, *, setups: dict[int, ClinicSurveys], now: datetime, days: int,
                      rng: random.Random) -> tuple[list[Invitation], list[tuple[int, str, int, int, datetime]]]:
    """Replay the year in order: a reached callback invites its patient a day later, each month's draw invites a
    random 5 % of the panel, and neither invites a patient invited (and not cancelled) in the last 30 days."""
    reachable = {row[0]: row[1:] for row in conn.execute(  # the app's own filter for who may get a survey SMS
        "SELECT id, clinic_id, family_doctor_id, language FROM patient WHERE active AND phone IS NOT NULL"
        " AND sms_consent AND NOT sms_opted_out AND NOT phone_invalid ORDER BY id")}
    panels = dict(conn.execute("SELECT clinic_id, count(*) FROM patient WHERE active GROUP BY clinic_id").fetchall())
    events: list[tuple[datetime, int, tuple]] = []
    start = now - timedelta(days=days)
    for callback_id, clinic_id, patient_id, closed_by, closed_at in conn.execute(
            "SELECT id, clinic_id, patient_id, closed_by, closed_at FROM callback WHERE status = 'closed'"
            " AND outcome = 'reached' AND closed_at BETWEEN %s AND %s", (start, now)):
        if setups[clinic_id].settings["after_callback"]:
            # The callback.completed event reaches the surveys job a few seconds after the close.
            events.append((closed_at + timedelta(seconds=rng.randint(1, 30)), 0,
                           (callback_id, clinic_id, patient_id, closed_by)))
    for setup in setups.values():
        for draw_at in _draw_times(setup, start=start, now=now):
            events.append((draw_at, 1, (setup.clinic_id,)))
    events.sort(key=lambda e: (e[0], e[1]))
    by_clinic: dict[int, list[int]] = {}
    for patient_id, (clinic_id, _, _) in reachable.items():
        by_clinic.setdefault(clinic_id, []).append(patient_id)
    last_invited: dict[int, datetime] = {}  # cancelled invitations do not count, as in latest_invitation

    def invite(setup: ClinicSurveys, patient_id: int, code: str, trigger: str, doctor_id: int | None,
               at: datetime, send_after: datetime, callback_id: int | None = None) -> None:
        settings = setup.settings
        invitation = Invitation(setup, patient_id, code, trigger, doctor_id, reachable[patient_id][2], at,
                                next_in_window(send_after, setup.tz, int(settings["window_start_hour"]),
                                               int(settings["window_end_hour"])),
                                rng.random() < CANCELLED, callback_id)
        invitations.append(invitation)
        if not invitation.cancelled:
            last_invited[patient_id] = at

    invitations: list[Invitation] = []
    runs = []
    for at, kind, payload in events:
        setup = setups[payload[1] if kind == 0 else payload[0]]
        settings = setup.settings
        since = at - timedelta(days=int(settings["min_days_between"]))
        if kind == 0:
            callback_id, _, patient_id, closed_by = payload
            if patient_id in reachable and last_invited.get(patient_id, NEVER) < since:
                invite(setup, patient_id, str(settings["callback_template"]), "callback",
                       closed_by or reachable[patient_id][1], at, at + timedelta(hours=int(settings["delay_hours"])),
                       callback_id)
            continue
        panel = panels.get(setup.clinic_id, 0)
        wanted = math.ceil(panel * int(settings["sample_percent"]) / 100)
        eligible = [p for p in by_clinic.get(setup.clinic_id, []) if last_invited.get(p, NEVER) < since]
        chosen = rng.sample(eligible, min(wanted, len(eligible)))
        runs.append((setup.clinic_id, month_key(at.astimezone(setup.tz).date()), panel, len(chosen), at))
        for patient_id in chosen:
            invite(setup, patient_id, str(settings["sample_template"]), "sample", reachable[patient_id][1], at, at)
    _sweep_sample_days(invitations)
    invitations.sort(key=lambda i: (i.created_at, i.patient_id))
    for number, invitation in enumerate(invitations, start=1):
        invitation.id = number
    return invitations, runs


def _draw_times(setup: ClinicSurveys, *, start: datetime, now: datetime) -> list[datetime]:
    """When the hourly job draws each month's sample: its first run on or after the clinic's sample day."""
    if int(setup.settings["sample_percent"]) <= 0:
        return []
    found = []
    local = start.astimezone(setup.tz).date().replace(day=1)
    while True:
        draw_day = date(local.year, local.month, int(setup.settings["sample_day"]))
        at = datetime.combine(draw_day, time(0, SAMPLE_MINUTE), tzinfo=setup.tz)
        if at > now:
            return found
        if at > start:
            found.append(at)
        local = (local + timedelta(days=32)).replace(day=1)


def _next_sweep(at: datetime) -> datetime:
    return at + (-(at - EPOCH) % SWEEP)


def _swept(due: datetime, hours: tuple[ZoneInfo, int, int]) -> tuple[datetime, datetime]:
    """(due time, time sent) as the five-minute sweep leaves them: a sweep that finds it past the local sending
    hours moves the due time to the next opening instead of sending (send_due_invitations, send_due_reminders)."""
    swept = _next_sweep(due)
    if not in_window(swept, *hours):
        due = next_in_window(swept, *hours)
        swept = _next_sweep(due)
    return due, swept


def _sweep_sample_days(invitations: list[Invitation]) -> None:
    """A sample day's thousands of invitations fall due together; the sweep sends them 200 at a time."""
    due: dict[datetime, int] = {}
    for invitation in sorted(invitations, key=lambda i: (i.send_after, i.patient_id)):
        if invitation.trigger == "sample" and not invitation.cancelled:
            queued = due.get(invitation.send_after, 0)
            due[invitation.send_after] = queued + 1
            invitation.sent_at = _next_sweep(invitation.send_after) + (queued // SWEEP_LIMIT) * SWEEP


# --- what became of each invitation, and the answers -----------------------------------------------------------


def _local(at: datetime, tz: ZoneInfo) -> tuple[date, str, str]:
    day = at.astimezone(tz).date()
    return day, month_key(day), week_key(day)


def _timeline(invitation: Invitation, *, now: datetime, rng: random.Random) -> dict:
    """Status and timestamps as the sweeps (send, remind, expire) and the patient's answer would have left them."""
    row: dict = {"status": "scheduled", "sent_at": None, "expires_at": None, "reminder_due_at": None,
                 "reminded_at": None, "answered_at": None, "token": None, "reminder_token": None,
                 "cancelled_reason": ""}
    settings, tz = invitation.clinic.settings, invitation.clinic.tz
    hours = (tz, int(settings["window_start_hour"]), int(settings["window_end_hour"]))
    if invitation.sent_at is None:
        invitation.send_after, sent_at = _swept(invitation.send_after, hours)
        sent_at += timedelta(seconds=rng.randint(1, 20))
    else:
        sent_at = invitation.sent_at
    if sent_at > now:
        return row
    if invitation.cancelled:
        return {**row, "status": "cancelled", "cancelled_reason": "no_sms"}
    expires_at = sent_at + timedelta(days=int(settings["token_days"]))
    reminder_due, reminder_at = _swept(
        next_in_window(sent_at + timedelta(days=int(settings["reminder_after_days"])), *hours), hours)
    answered_at = None
    if rng.random() < ANSWER_RATE[invitation.trigger]:
        if rng.random() < BEFORE_REMINDER:
            answered_at = min(sent_at + timedelta(hours=rng.expovariate(1 / 5)), reminder_at - timedelta(minutes=1))
        else:
            answered_at = min(reminder_at + timedelta(hours=rng.expovariate(1 / 10)), expires_at - timedelta(minutes=1))
    answered = answered_at is not None and answered_at <= now
    reminded = reminder_at <= now and reminder_at < expires_at and not (answered_at and answered_at < reminder_at)
    status = "answered" if answered else "expired" if expires_at <= now else "sent"
    return {**row, "status": status, "sent_at": sent_at, "expires_at": expires_at, "reminder_due_at": reminder_due,
            "reminded_at": reminder_at if reminded else None, "answered_at": answered_at if answered else None,
            "token": issue_token()[1], "reminder_token": issue_token()[1] if reminded else None}


def _form(questions: list[QuestionDef], rng: random.Random) -> dict[str, str]:
    """What one patient ticks: most are content (top answers), some lukewarm, a few unhappy."""
    mood = rng.choices([m for m, _ in MOODS], weights=[w for _, w in MOODS])[0]
    form: dict[str, str] = {}
    for q in questions:
        if q.allow_na and rng.random() < NA_SHARE:
            form[field_name(q)] = NA
        elif q.type is QuestionType.likert:
            k = q.points
            shape = {"happy": ([k, k - 1], [82, 18]), "mixed": ([k, k - 1, k - 2], [25, 60, 15]),
                     "unhappy": ([1, 2, 3], [30, 45, 25])}[mood]
            form[field_name(q)] = str(rng.choices(*shape)[0])
        elif q.type is QuestionType.nps:
            shape = {"happy": ([10, 9, 8, 7], [50, 30, 15, 5]), "mixed": ([6, 7, 8, 9], [15, 35, 35, 15]),
                     "unhappy": ([0, 2, 3, 4, 5, 6], [10, 10, 15, 20, 25, 20])}[mood]
            form[field_name(q)] = str(rng.choices(*shape)[0])
        elif q.type is QuestionType.yes_no:
            yes = {"happy": 0.97, "mixed": 0.85, "unhappy": 0.5}[mood]
            form[field_name(q)] = "1" if rng.random() < yes else "0"
        elif q.type is QuestionType.choice:
            if rng.random() < CHOICE_SHARE:
                weights = [6, 1.5, 2.5] + [1] * (len(q.options) - 3)
                form[field_name(q)] = rng.choices([o.value for o in q.options], weights=weights[:len(q.options)])[0]
        elif q.type is QuestionType.text and rng.random() < COMMENT_SHARE[mood]:
            form[field_name(q)] = rng.choice(COMMENTS[mood, "en" if rng.random() < ENGLISH_COMMENTS else "zh"])
    return form


def _answer_rows(questions: list[QuestionDef], form: dict[str, str]) -> tuple[list[tuple], bool]:
    """The answers submit_response would store for this form, and whether the response is a low one."""
    rows, low = [], False
    for q, answer, scored, reason, _ in judge_answers(questions, read_answers(questions, form)):
        low = low or reason is not None
        rows.append((q.key, q.type.value, q.dimension.value, answer.value, answer.choice, answer.text, scored.top,
                     scored.bottom, scored.score, reason is not None))
    return rows, low


# --- storing -----------------------------------------------------------------------------------------------------


def _store(conn: psycopg.Connection, *, invitations: list[Invitation], runs: list, now: datetime,
           rng: random.Random) -> SurveyCounts:
    counts = SurveyCounts(invitations=len(invitations))
    answered: list[tuple[Invitation, datetime]] = []
    with conn.cursor() as cur:
        with cur.copy("COPY survey_sample_run (clinic_id, month, panel, invited, created_at) FROM STDIN") as copy:
            for run in runs:
                copy.write_row(run)
        with cur.copy("COPY survey_invitation (id, clinic_id, patient_id, template_id, trigger, callback_id,"
                      " doctor_id, language, status, created_at, send_after, sent_at, sent_local_date, sent_month,"
                      " sent_week, expires_at, token_digest, reminder_token_digest, reminder_due_at, reminded_at,"
                      " answered_at, cancelled_reason) FROM STDIN") as copy:
            for inv in invitations:
                t = _timeline(inv, now=now, rng=rng)
                counts.by_status[t["status"]] = counts.by_status.get(t["status"], 0) + 1
                local = _local(t["sent_at"], inv.clinic.tz) if t["sent_at"] else (None, "", "")
                template_id = inv.clinic.templates[inv.template_code][0]
                copy.write_row((inv.id, inv.clinic.clinic_id, inv.patient_id, template_id, inv.trigger,
                                inv.callback_id, inv.doctor_id, inv.language, t["status"],
                                inv.created_at, inv.send_after, t["sent_at"], *local, t["expires_at"], t["token"],
                                t["reminder_token"], t["reminder_due_at"], t["reminded_at"], t["answered_at"],
                                t["cancelled_reason"]))
                if t["answered_at"]:
                    answered.append((inv, t["answered_at"]))
        answered.sort(key=lambda a: (a[1], a[0].id))
        answers: list[tuple] = []
        with cur.copy("COPY survey_response (id, invitation_id, clinic_id, patient_id, template_id, template_code,"
                      " doctor_id, trigger, language, submitted_at, local_date, month, week, low_score)"
                      " FROM STDIN") as copy:
            for response_id, (inv, at) in enumerate(answered, start=1):
                template_id, questions = inv.clinic.templates[inv.template_code]
                rows, low = _answer_rows(questions, _form(questions, rng))
                answers += [(response_id, *row) for row in rows]
                copy.write_row((response_id, inv.id, inv.clinic.clinic_id, inv.patient_id, template_id,
                                inv.template_code, inv.doctor_id, inv.trigger, inv.language, at,
                                *_local(at, inv.clinic.tz), low))
        with cur.copy("COPY survey_answer (id, response_id, question_key, qtype, dimension, value, choice, text,"
                      " top_box, bottom_box, score, low) FROM STDIN") as copy:
            for answer_id, row in enumerate(answers, start=1):
                copy.write_row((answer_id, *row))
        for table in ("survey_sample_run", "survey_invitation", "survey_response", "survey_answer"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
    counts.responses, counts.answers = len(answered), len(answers)
    return counts
