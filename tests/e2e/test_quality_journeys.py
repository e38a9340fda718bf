"""Journey 3 in a real browser, in both languages: a callback that reached the patient sends the post-callback survey
by SMS; the patient answers it on a phone with a low score; the quality committee finds the concern in its inbox
with its deadline, acknowledges it and resolves it on time.

Journey 4 (the committee's improvement work after three waiting-time complaints) is in test_improvement_journey.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from core.i18n import gettext
from tests.e2e.steps import LANGUAGES, new_staff_page, sign_in_staff

pytestmark = pytest.mark.e2e

# Demo patient number 8 of each clinic: hypertensive, agreed to SMS, and not the patient of the other journeys.
SURVEY_PATIENT = {"zh-CN": "+8613700000008", "en": "+13125550008"}
COMMENT = {"zh-CN": "电话里没有告诉我下次什么时候复查。", "en": "Nobody told me on the call when to come back."}
FINDING = {"zh-CN": "医生结束随访电话时没有约定复查时间；已在通话记录中加入“下次复查”一项。",
           "en": "Doctors did not agree the next check-up at the end of calls; the call log now asks for it."}
REPLY = {"zh-CN": "您好，以后医生会在每次随访电话结束时告诉您下次复查的时间。",
         "en": "Hello, from now on the doctor will tell you on every call when to come back."}
_SURVEY_LINK = re.compile(r"https?://\S+/s/[\w-]+")


def eventually(page: Any, found: Callable[[], Any], *, what: str, seconds: float = 30) -> Any:
    """Reload until `found()` returns something: for what an in-process job does after a request returns."""
    deadline = time.monotonic() + seconds
    while True:
        result = found()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds:.0f} s")
        page.wait_for_timeout(500)
        page.reload()


def masked(phone: str) -> str:
    """How staff pages and the SMS log show a number before anyone claims the patient."""
    return phone[:-8] + "****" + phone[-4:]


def survey_link(staff_page: Any, base: str, phone: str) -> str | None:
    """The newest survey link texted to `phone`, from the development SMS log (/dev/sms), if there is one yet."""
    staff_page.goto(f"{base}/dev/sms")
    for row in staff_page.locator("table.list tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        if len(cells) >= 4 and cells[2].strip() == masked(phone):
            link = _SURVEY_LINK.search(cells[3])
            if link:
                return link[0]
    return None


def send_surveys_at_once(tab: Any, base: str, language: str) -> None:
    """The clinic's admin lets the post-callback survey go out straight away, at any hour (the demo clinics keep
    the reference 24-hour delay and daytime window, which a test run cannot wait for)."""
    page = tab.page
    sign_in_staff(page, base, language, "admin")
    tab.open("/surveys/settings", "survey-settings")
    page.fill("#delay_hours", "0")
    page.fill("#window_start_hour", "0")
    page.fill("#window_end_hour", "24")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.locator("main p.notice").inner_text() == gettext(language, "Settings saved.")
    tab.shot("survey-settings-saved")


def doctor_reaches_patient(page: Any, base: str, language: str, phone: str) -> None:
    """A doctor records a dangerous blood pressure for the patient, which opens a callback, calls the patient,
    reaches them and gives advice: the callback closes. These are journey 2's pages (checked there), so this
    tab is a plain one: here the callback is only what sends the survey."""
    page.goto(f"{base}/patients?q={phone[-11:]}")
    page.click("main table.list tbody tr a")
    name = page.locator("main h1").inner_text().strip()
    page.goto(re.sub(r"[?#].*$", "", page.url) + "/readings/new?kind=blood_pressure")
    page.fill("#systolic", "186")
    page.fill("#diastolic", "112")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    page.goto(f"{base}/callbacks?scope=all&status=open")
    page.locator("main article.callback h2 a", has_text=name).first.click()
    page.wait_for_load_state()
    page.check("input[name=outcome][value=reached]")
    page.check("input[name=result][value=advice_given]")
    with page.expect_navigation():
        page.click("main form[action$='/attempts'] button[type=submit]")
    assert gettext(language, "Closed") in page.locator("main").inner_text()
    page.context.close()


def patient_answers_survey(tab: Any, link: str, language: str) -> None:
    """On a phone: 'Sometimes' to the three questions about the call, 3 out of 10 for recommending the service."""
    page = tab.page
    page.goto(link)
    tab.shot("survey")
    for question in ("q_explained", "q_listened", "q_timely"):
        page.check(f"input[name={question}][value='2']")
    page.check("input[name=q_recommend][value='3']")
    page.fill("#q_comment", COMMENT[language])
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    tab.shot("survey-thanks")
    assert gettext(language, "Thank you for your answers.") in page.locator("main").inner_text()


def committee_resolves_concern(tab: Any, base: str, language: str) -> None:
    page = tab.page
    sign_in_staff(page, base, language, "committee")
    tab.open("/feedback", "inbox")
    row = eventually(page, lambda: _row_with(page, COMMENT[language]), what="the survey concern reaching the inbox")
    deadline = row.locator("td").nth(1).inner_text()
    assert gettext(language, "Acknowledge by") in deadline
    assert gettext(language, "Overdue") not in deadline
    row.locator("a[href^='/feedback/']").first.click()
    page.wait_for_load_state()
    tab.shot("concern")
    item_path = re.sub(r"^https?://[^/]+", "", page.url).split("?")[0]
    facts = page.locator("main").inner_text()
    assert gettext(language, "Concern") in facts and gettext(language, "Survey") in facts
    assert "3/10" in facts  # the recommendation score, out of the scale's 10

    tab.open(f"{item_path}/act/acknowledge", "acknowledge")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    tab.shot("acknowledged")
    assert page.locator("main span.tag").first.inner_text() == gettext(language, "Acknowledged")

    tab.open(f"{item_path}/act/resolve", "resolve")
    page.fill("#resolution", FINDING[language])
    page.fill("#patient_response", REPLY[language])
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    tab.shot("resolved")
    assert page.locator("main span.tag").first.inner_text() == gettext(language, "Resolved")
    text = page.locator("main").inner_text()
    assert gettext(language, "Missed") not in text and gettext(language, "Overdue") not in text  # on time

    tab.open("/feedback?status=resolved", "inbox-resolved")
    assert _row_with(page, COMMENT[language]) is not None


def _row_with(page: Any, text: str) -> Any:
    rows = page.locator("main table.list tbody tr").filter(has_text=text)
    return rows.first if rows.count() else None


@pytest.mark.parametrize("language", LANGUAGES)
def test_low_survey_score_becomes_a_concern_the_committee_resolves_on_time(live_server, browser, visit, sms_reader,
                                                                           language):
    phone = SURVEY_PATIENT[language]
    send_surveys_at_once(visit(name=f"j3-{language}-admin"), live_server, language)
    doctor_reaches_patient(new_staff_page(browser, live_server, language, "doctor"), live_server, language, phone)

    staff = sms_reader(language)
    link = eventually(staff, lambda: survey_link(staff, live_server, phone), what="the survey SMS")
    patient_answers_survey(visit(name=f"j3-{language}-patient", phone=True, language=language), link, language)

    committee_resolves_concern(visit(name=f"j3-{language}-committee"), live_server, language)
