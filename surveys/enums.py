"""Enumerations of the surveys domain: question types, dimensions, triggers and invitation states."""

from enum import StrEnum

from core.i18n import N_


class QuestionType(StrEnum):
    likert = "likert"  # a labelled 4- or 5-point scale, values 1..k (k = most favourable)
    nps = "nps"  # 0–10 likelihood to recommend
    yes_no = "yes_no"
    choice = "choice"  # one of a list; descriptive, not scored
    text = "text"  # free text; never scored, read for complaint words


class Dimension(StrEnum):
    """What a question measures; results are reported per dimension (HCAHPS-style composites)."""

    access = "access"
    communication = "communication"
    waiting = "waiting"
    overall = "overall"


DIMENSION_LABELS = {
    Dimension.access: N_("Access"),
    Dimension.communication: N_("Communication"),
    Dimension.waiting: N_("Waiting"),
    Dimension.overall: N_("Overall"),
}


class LikertScale(StrEnum):
    """Answer scales with their labels in surveys/defaults.py (qi-methods.md §7.1, §7.3)."""

    frequency4 = "frequency4"  # 从未/有时/经常/总是 — Never/Sometimes/Usually/Always
    satisfaction4 = "satisfaction4"  # 非常不满意/比较不满意/比较满意/非常满意
    satisfaction5 = "satisfaction5"  # 非常不满意 … 非常满意
    agreement5 = "agreement5"  # 非常不同意 … 非常同意


SCALE_LABELS = {
    LikertScale.frequency4: N_("Never … Always (4 points)"),
    LikertScale.satisfaction4: N_("Very dissatisfied … Very satisfied (4 points)"),
    LikertScale.satisfaction5: N_("Very dissatisfied … Very satisfied (5 points)"),
    LikertScale.agreement5: N_("Strongly disagree … Strongly agree (5 points)"),
}

QUESTION_TYPE_LABELS = {
    QuestionType.likert: N_("Rating scale"),
    QuestionType.nps: N_("0–10 (would recommend)"),
    QuestionType.yes_no: N_("Yes / no"),
    QuestionType.choice: N_("Single choice"),
    QuestionType.text: N_("Free text"),
}


class SurveyTrigger(StrEnum):
    callback = "callback"  # a completed callback where the patient was reached
    visit = "visit"  # staff invited the patient after a visit
    sample = "sample"  # the monthly random sample of the panel


TRIGGER_LABELS = {
    SurveyTrigger.callback: N_("After a callback"),
    SurveyTrigger.visit: N_("After a visit"),
    SurveyTrigger.sample: N_("Monthly sample"),
}


class InvitationStatus(StrEnum):
    scheduled = "scheduled"  # waiting for its send time
    sent = "sent"  # SMS queued with a live link
    answered = "answered"
    expired = "expired"  # the link ran out unanswered
    cancelled = "cancelled"  # never sent: the patient cannot receive SMS any more, or another was sent


INVITATION_STATUS_LABELS = {
    InvitationStatus.scheduled: N_("Scheduled"),
    InvitationStatus.sent: N_("Sent"),
    InvitationStatus.answered: N_("Answered"),
    InvitationStatus.expired: N_("Expired"),
    InvitationStatus.cancelled: N_("Cancelled"),
}


class LowReason(StrEnum):
    """Why an answer is routed to the feedback domain (qi-methods.md §7.4)."""

    nps_detractor = "nps_detractor"
    bottom_box = "bottom_box"
    complaint_words = "complaint_words"
