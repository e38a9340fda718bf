"""Journey 5 of issue 8, in a real browser and in both languages: an admin edits a rule, previews what it
would have fired on the clinic's recent readings, saves it; adds a doctor; reads the audit log."""

from __future__ import annotations

import pytest

from tests.e2e.steps import DEMO, LANGUAGES, patient_with_three_high_days, sign_in_staff, switch_language

pytestmark = pytest.mark.e2e

RULE = "DES-GLU-3D"  # high glucose on three consecutive days; the admin makes it two
WORDS = {
    "zh-CN": {"saved": "已保存为第 2 版", "audit": "审计日志", "name": "赵医生", "created": "创建"},
    "en": {"saved": "Saved as version 2", "audit": "Audit log", "name": "Dr. Jordan Reyes", "created": "Created"},
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_admin_edits_a_rule_after_a_preview_adds_a_doctor_and_reads_the_audit_log(
        live_server, visit, sms_reader, language):
    patient = patient_with_three_high_days(live_server, visit, sms_reader, language)
    words = WORDS[language]
    tab = visit(name=f"admin-{language}", language=language)
    page = tab.page
    sign_in_staff(page, live_server, language, "admin", tab=tab)

    page.locator("header nav a[href='/admin/rules']").click()
    page.wait_for_load_state()
    tab.shot("rules")
    page.locator(f"a[href='/admin/rules/{RULE}']").click()
    page.wait_for_load_state()
    assert page.locator("#days").input_value() == "3"
    page.fill("#days", "2")
    tab.shot("rule-edit")
    with page.expect_navigation():
        page.click(f"form[action='/admin/rules/{RULE}/preview'] button[type=submit]")
    tab.shot("rule-preview")
    assert patient in page.locator("main").inner_text()  # it would have fired for journey 1's patient
    with page.expect_navigation():
        page.click(f"form[action='/admin/rules/{RULE}/save'] button[type=submit]")
    assert words["saved"] in page.locator("main").inner_text()
    assert page.locator("#days").input_value() == "2"
    tab.shot("rule-saved")

    page.locator("header nav a[href='/admin/staff']").click()
    page.wait_for_load_state()
    tab.shot("staff")
    username = DEMO[language].prefix + "doctor3"
    page.fill("#display_name", words["name"])
    page.fill("#username", username)
    page.fill("#password", "a-long-initial-password-2026")
    page.select_option("#role", "doctor")
    page.select_option("#language", language)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert username in page.locator("main .notice").inner_text()
    assert words["name"] in page.locator("table.list").inner_text()
    tab.shot("staff-added")

    page.locator("header nav a[href='/admin/audit']").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == words["audit"]
    log = page.locator("table.list").inner_text()
    assert username in log and f"{RULE} v2" in log  # the new account and the new rule version are on record
    assert words["created"] in log
    tab.shot("audit")
    switch_language(page, live_server, "en" if language == "zh-CN" else "zh-CN")
    assert page.locator("h1").inner_text() == ("Audit log" if language == "zh-CN" else "审计日志")
    tab.shot("audit-other-language")
    tab.check()
