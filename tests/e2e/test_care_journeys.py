"""Journeys 1 and 2 of issue 8, in a real browser and in both languages.

1. A patient signs in with an SMS code on a phone, enters three days of high fasting glucose and sees them on the
   chart; a caregiver does the same for their parent.
2. A doctor opens the callback queue, finds that patient at the top with the reason, logs a call with no answer,
   then one that reached the patient with advice, and the callback closes.

The Chinese run uses the Chinese demo clinic (mmol/L, Asia/Shanghai), the English run the US one (mg/dL,
America/Chicago). Journey 2 needs journey 1's readings; run alone, it enters them first (unrecorded)."""

from __future__ import annotations

import pytest

from tests.e2e.steps import (
    DEMO,
    LANGUAGES,
    enter_three_days_of_fasting_glucose,
    patient_with_three_high_days,
    remember_glucose_patient,
    see_them_on_the_chart,
    sign_in_patient,
    sign_in_staff,
)

pytestmark = pytest.mark.e2e

WORDS = {
    "zh-CN": {"three_days": "连续3天", "closed": "已关闭", "no_answer": "无人接听"},
    "en": {"three_days": "on 3 consecutive days", "closed": "Closed", "no_answer": "No answer"},
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_patient_and_caregiver_enter_three_days_of_high_fasting_glucose_on_a_phone(
        live_server, visit, sms_reader, language):
    demo = DEMO[language]
    tab = visit(name=f"patient-{language}", phone=True, language=language)
    sign_in_patient(tab.page, live_server, demo.patient_phone, staff_page=sms_reader(language), language=language,
                    tab=tab)
    tab.shot("home")
    enter_three_days_of_fasting_glucose(tab, language)
    remember_glucose_patient(language, tab.page.locator(".who").inner_text())
    see_them_on_the_chart(tab, language)
    tab.check()

    family = visit(name=f"caregiver-{language}", phone=True, language=language)
    sign_in_patient(family.page, live_server, demo.caregiver_phone, staff_page=sms_reader(language),
                    language=language)
    family.shot("home")
    assert "/me/patients/" in family.page.locator("main a.button").first.get_attribute("href")
    parent = family.page.locator("main section.card h2").first.inner_text()
    enter_three_days_of_fasting_glucose(family, language, for_whom=parent)
    see_them_on_the_chart(family, language)
    family.check()


@pytest.mark.parametrize("language", LANGUAGES)
def test_doctor_calls_the_patient_at_the_top_of_the_queue_and_the_callback_closes(
        live_server, visit, sms_reader, language):
    name = patient_with_three_high_days(live_server, visit, sms_reader, language)
    words = WORDS[language]
    tab = visit(name=f"doctor-{language}", language=language)
    page = tab.page
    sign_in_staff(page, live_server, language, "doctor", tab=tab)
    page.locator("header nav a[href='/callbacks']").click()
    page.wait_for_load_state()
    top = page.locator("article.callback").first
    assert top.locator("h2").inner_text() == name
    assert words["three_days"] in top.locator(".callback-reason").inner_text()
    # The card's chart is an image of its own (drawn after the page): it must arrive and decode.
    assert top.locator(".mini-chart img").evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    tab.shot("queue")

    with page.expect_navigation():
        top.locator("form[action$='/claim'] button").click()
    top = page.locator("article.callback").first
    assert top.locator("h2").inner_text() == name
    tab.shot("claimed")
    with page.expect_navigation():
        top.locator("form[action$='/attempts'] button").click()
    top = page.locator("article.callback").first
    assert top.locator("h2").inner_text() == name  # still open: nobody answered
    assert words["no_answer"] in top.locator(".attempts").inner_text()
    tab.shot("no-answer")

    top.locator("h2 a").click()
    page.wait_for_load_state()
    callback = page.url.rsplit("/", 1)[-1]
    tab.shot("callback")
    page.check("#log-call input[name=outcome][value=reached]")
    page.check("#log-call input[name=result][value=advice_given]")
    page.fill("#attempt-note", "空腹血糖连续偏高：已嘱控制饮食，三天后复测。" if language == "zh-CN"
              else "Fasting glucose high three days running: advised on diet, re-check in three days.")
    with page.expect_navigation():
        page.click("#log-call button[type=submit]")
    card = page.locator("article.callback")
    assert words["closed"] in card.locator(".callback-tags").inner_text()
    assert page.locator("#log-call").count() == 0
    tab.shot("closed")

    page.goto(f"{live_server}/callbacks")
    assert page.locator(f"#callback-{callback}").count() == 0  # the open queue no longer holds it
    tab.shot("queue-after")
    tab.check()
