"""A staff member signs in, sees the clinic's patients and switches language — in a real browser."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_staff_signs_in_and_sees_patients_in_their_language(live_server, visit, language):
    tab = visit(name=f"staff-{language}")
    page = tab.page
    page.goto(f"{live_server}/lang/{language}?next=/login")
    tab.shot("login")
    page.fill("#username", "doctor")
    page.fill("#password", "demo-doctor-2026")
    page.click("button[type=submit]")
    page.goto(f"{live_server}/patients")
    heading = page.locator("h1").inner_text()
    assert heading == ("患者" if language == "zh-CN" else "Patients")
    assert page.locator("table.list tbody tr").count() == 25  # the first page of 50 demo patients
    tab.shot("patients")
    other = "en" if language == "zh-CN" else "zh-CN"
    page.click(f"a.lang[lang='{other}']")
    assert page.locator("h1").inner_text() == ("Patients" if other == "en" else "患者")
    tab.check()
