"""Steps the browser journeys share: who signs in where, reading SMS codes from the development SMS log,
switching language. Each step drives the real pages, so a broken sign-in fails every journey that needs it.

The demo (clinic/demo.py) has a Chinese clinic (logins `doctor`, `admin`, …) and an English one (`us-doctor`,
…); a journey in language L uses the clinic of L, so the people and data on the pages speak L too."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

LANGUAGES = ["zh-CN", "en"]
_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


@dataclass(frozen=True)
class DemoClinic:
    language: str
    prefix: str  # of staff usernames
    timezone: str
    patient_phone: str  # demo patient number 1, who has a caregiver
    caregiver_phone: str

    def login(self, role: str) -> tuple[str, str]:
        """Username and password of a demo staff member: role is admin, doctor, doctor2, nurse or committee."""
        return self.prefix + role, f"demo-{role}-2026"


DEMO = {
    "zh-CN": DemoClinic("zh-CN", "", "Asia/Shanghai", "+8613700000001", "+8613900000001"),
    "en": DemoClinic("en", "us-", "America/Chicago", "+13125550001", "+13125550999"),
}


def switch_language(page: Any, base: str, language: str, *, next_path: str | None = None) -> None:
    """Choose the language the way a user does it: the /lang link (remembered in a cookie)."""
    path = next_path if next_path is not None else (re.sub(r"^https?://[^/]+", "", page.url) or "/")
    page.goto(f"{base}/lang/{language}?next={quote(path, safe='')}")


def sign_in_staff(page: Any, base: str, language: str, role: str = "doctor", *, tab: Any = None) -> None:
    """Sign in on the staff page of the demo clinic of `language` (the page shown in that language).
    With `tab` (a conftest Visit) the sign-in page is screenshotted and checked."""
    username, password = DEMO[language].login(role)
    switch_language(page, base, language, next_path="/login")
    if tab is not None:
        tab.shot("sign-in")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    if page.url.rstrip("/").endswith("/login"):
        raise AssertionError(f"{username} could not sign in: {page.locator('main').inner_text()}")


def read_sms_code(staff_page: Any, base: str, phone: str) -> str:
    """The newest sign-in code sent to `phone`, read from the development SMS log (/dev/sms) by a staff member
    of the patient's clinic. The log masks the number, so rows match on its visible head and last four digits."""
    staff_page.goto(f"{base}/dev/sms")
    masked = phone[:-8] + "****" + phone[-4:]
    for row in staff_page.locator("table.list tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        if len(cells) >= 4 and cells[2].strip() == masked:
            found = _CODE.search(cells[3])
            if found:
                return found[1]
    raise AssertionError(f"no sign-in code for {masked} on /dev/sms")


def sign_in_patient(page: Any, base: str, phone: str, *, staff_page: Any, language: str | None = None,
                    tab: Any = None) -> None:
    """Sign in as a patient or caregiver with an SMS code (read by `staff_page` from /dev/sms).
    With `language` the code page is first switched to it; with `tab` each step is screenshotted and checked."""
    if language:
        switch_language(page, base, language, next_path="/login/code")
    else:
        page.goto(f"{base}/login/code")
    if tab is not None:
        tab.shot("phone")
    page.fill("#phone", phone)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    if tab is not None:
        tab.shot("code")
    page.fill("#code", read_sms_code(staff_page, base, phone))
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    if not page.url.endswith("/me"):
        raise AssertionError(f"{phone} could not sign in: {page.locator('main').inner_text()}")


def new_staff_page(browser: Any, base: str, language: str, role: str = "nurse") -> Any:
    """A separate, unrecorded tab signed in as staff: for reading /dev/sms behind the journey's back."""
    context = browser.new_context()
    page = context.new_page()
    sign_in_staff(page, base, language, role)
    return page


# Above the three-day rule's 10.0 mmol/L (180 mg/dL), below the 13.9 / 250 and danger levels: a same-day callback.
HIGH_FASTING = {"zh-CN": ["11.6", "12.2", "12.8"], "en": ["209", "220", "231"]}
_entered: dict[str, str] = {}  # language → name of journey 1's patient, once their readings are in


def enter_three_days_of_fasting_glucose(tab: Any, language: str, *, for_whom: str | None = None) -> None:
    """From the person's /me page: the day before yesterday, yesterday and today, fasting, each above the line."""
    page = tab.page
    today = datetime.now(ZoneInfo(DEMO[language].timezone)).date()
    for back, value in zip((2, 1, 0), HIGH_FASTING[language], strict=True):
        page.locator("a.button[href$='/readings/new']").first.click()
        page.wait_for_load_state()
        if back == 2:
            tab.shot("what-did-you-measure")
        page.locator("a.kind-glucose").click()
        page.fill("#value", value)
        page.check("input[name=context][value=fasting]")
        page.check(f"input[name=date][value='{(today - timedelta(days=back)).isoformat()}']")
        if back:  # today's reading keeps the form's own time: now
            page.fill("#time", "07:10")
        if back == 2:
            tab.shot("glucose-form")
        with page.expect_navigation():
            page.click("form.reading-form button[type=submit]")
        assert "/saved/" in page.url, page.locator("main").inner_text()
        assert value in page.locator(".saved-readings").inner_text()
        if for_whom:  # a caregiver is told whose reading it was
            assert for_whom in page.locator(".for-whom").inner_text()
        tab.shot(f"saved-{3 - back}")
        page.goto(f"{tab.base}/me")


def see_them_on_the_chart(tab: Any, language: str) -> None:
    page = tab.page
    page.locator("a.button[href$='/readings']").first.click()
    page.wait_for_load_state()
    chart = page.locator("#chart-glucose svg")
    assert chart.count() == 1
    values = page.locator("table.readings tbody td.value").all_inner_texts()
    for value in HIGH_FASTING[language]:
        assert any(text.startswith(value) for text in values), (value, values)
    tab.shot("chart")


def remember_glucose_patient(language: str, name: str) -> None:
    _entered[language] = name


def patient_with_three_high_days(live_server: str, visit: Any, sms_reader: Any, language: str) -> str:
    """The name of the demo patient with three high fasting days: journey 1 entered them, or this does now."""
    if language not in _entered:
        tab = visit(name=f"setup-{language}", phone=True, language=language)
        sign_in_patient(tab.page, live_server, DEMO[language].patient_phone, staff_page=sms_reader(language))
        enter_three_days_of_fasting_glucose(tab, language)
        _entered[language] = tab.page.locator(".who").inner_text()
    return _entered[language]
