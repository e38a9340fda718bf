"""Journey 4 in a real browser, in both languages: three patients complain about waiting on the web form; the
quality committee opens the root-cause analysis the inbox suggests, records the 5 whys and the fishbone, agrees a
stronger action, starts a PDCA project from it (measure: complaints about waiting per 1,000 patients), moves a
cycle across the board from Plan to Done, and downloads the cycle report and the monthly review as PDFs."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from core.i18n import gettext
from tests.e2e.steps import LANGUAGES, sign_in_staff

pytestmark = pytest.mark.e2e

CLINIC_CODE = {"zh-CN": "demo", "en": "demo-us"}
COMMITTEE_NAME = {"zh-CN": "质控组 刘强", "en": "Quality lead Sam Ito"}
WORDS = {
    "zh-CN": {
        "complaints": ["排队挂号等了一个半小时。", "复诊开药也要和初诊一起排队，等了很久。",
                       "预约了下午两点，四点才看上。"],
        "whys": ["复诊和初诊患者排同一个队", "预约时段没有按就诊类型区分"],
        "cause": "高峰时段只开一个收费窗口", "action": "复诊和初诊分开排队，并按就诊类型安排预约时段",
        "measure": "每千名患者中关于等候时间的投诉", "idea": "周一上午为复诊患者开设单独队列",
        "notes": "周一上午开设了第二个队列；两位患者不清楚该排哪一队。", "result": "等候时间投诉少于预期。",
        "decision": "推广到每天上午，并在入口增加指引牌。", "where": "挂号大厅",
    },
    "en": {
        "complaints": ["Waited an hour and a half just to register.",
                       "Repeat prescriptions queue with new patients; the wait was very long.",
                       "My appointment was at 2 pm and I was seen at 4."],
        "whys": ["Returning and new patients share one queue", "Appointment slots are not separated by visit type"],
        "cause": "Only one payment window is open at peak hours",
        "action": "Separate queues and appointment slots for returning and new patients",
        "measure": "Complaints about waiting per 1,000 patients",
        "idea": "A separate queue for returning patients on Monday mornings",
        "notes": "A second queue opened on Monday; two patients were unsure which one to join.",
        "result": "Fewer complaints about waiting than predicted.",
        "decision": "Extend to every morning and add a sign at the entrance.", "where": "Reception",
    },
}
MIN_PDF_BYTES = 5_000


def path_of(page: Any) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url).split("?")[0].split("#")[0]


def submit(page: Any, form: str) -> None:
    with page.expect_navigation():
        page.click(f"{form} button[type=submit]")


def patients_complain(visit: Any, base: str, language: str) -> None:
    """Three patients, each on their own phone, use the public web form without signing in."""
    for number, text in enumerate(WORDS[language]["complaints"], start=1):
        tab = visit(name=f"j4-{language}-patient{number}", phone=True, language=language)
        page = tab.page
        page.goto(f"{base}/lang/{language}?next=/feedback/new")
        page.click(f"main a[href='/feedback/new?clinic={CLINIC_CODE[language]}']")
        page.wait_for_load_state()
        tab.shot("complaint-form")
        page.fill("#name", f"{number}")
        page.fill("#phone", {"zh-CN": f"+861390000{number:04d}", "en": f"+1312555{7000 + number}"}[language])
        page.select_option("#category", "waiting_time")
        page.fill("#description", text)
        page.check("input[name=harm][value=no]")
        submit(page, "main form[action='/feedback/new']")
        tab.shot("complaint-sent")


def open_suggested_rca(tab: Any, base: str, language: str) -> str:
    """The inbox suggests a root-cause analysis for the waiting-time cluster, which includes the new complaints."""
    page = tab.page
    sign_in_staff(page, base, language, "committee", tab=tab)
    tab.open("/feedback?category=waiting_time", "inbox-waiting")
    suggestion = page.locator("main .suggestion").filter(has_text=gettext(language, "Waiting time"))
    assert suggestion.count() == 1
    listed = suggestion.locator("a[href^='/feedback/']").all_inner_texts()
    for text in WORDS[language]["complaints"]:
        row = page.locator("main table.list tbody tr").filter(has_text=text)
        assert row.count() == 1, text
        assert row.locator("a").first.inner_text().strip() in listed, f"{text} is not in the suggested cluster"
    suggestion.locator("a[href^='/rca/new']").click()
    page.wait_for_load_state()
    tab.shot("rca-new")
    page.select_option("#severity", "moderate")
    page.select_option("#probability", "frequent")
    submit(page, "main form[action='/rca/new']")
    tab.shot("rca-opened")
    return path_of(page)


def analyse(tab: Any, rca: str, language: str) -> None:
    """Team, start, a 5-whys chain whose last answer goes on the fishbone as the root cause, one more fishbone
    cause, and a stronger action tied to the root cause."""
    page, words = tab.page, WORDS[language]
    page.select_option(f"form[action='{rca}/team'] select[name=staff_id]", label=COMMITTEE_NAME[language])
    submit(page, f"form[action='{rca}/team']")
    submit(page, f"form[action='{rca}/status']:has(input[value=start])")
    tab.shot("rca-started")
    page.fill("#problem", words["complaints"][1])
    submit(page, f"form[action='{rca}/whys']")
    for answer in words["whys"]:
        page.click("#whys details:has(form[action$='/steps']) > summary")
        page.locator("#whys form[action$='/steps'] input[name=answer]").fill(answer)
        submit(page, "#whys form[action$='/steps']")
    tab.shot("rca-whys")
    page.select_option("#whys form[action$='/cause'] select", "methods")
    submit(page, "#whys form[action$='/cause']")
    submit(page, "#causes form[action$='/root']")
    page.select_option("#category", "environment")
    page.fill("#cause-text", words["cause"])
    submit(page, f"form[action='{rca}/causes']")
    tab.shot("rca-fishbone")
    fishbone = page.locator("#causes").inner_text()
    assert words["whys"][-1] in fishbone and words["cause"] in fishbone

    page.fill("#action-description", words["action"])
    page.check("input[name=strength][value=stronger]")
    page.select_option("#action-cause", label=words["whys"][-1])
    page.select_option("#action-owner", label=COMMITTEE_NAME[language])
    page.fill("#action-due", "2027-03-31")
    page.fill("#action-measure", words["measure"])
    submit(page, f"form[action='{rca}/actions']")
    tab.shot("rca-action")
    assert words["action"] in page.locator("#actions").inner_text()


def start_project(tab: Any, language: str) -> str:
    page = tab.page
    page.click("#actions a[href^='/pdca/projects/new?rca_action=']")
    page.wait_for_load_state()
    tab.shot("project-new")
    assert page.locator("#metric_code").input_value() == "complaint_rate"
    assert page.locator("#option_category").input_value() == "waiting_time"
    page.fill("#population", gettext(language, "Patients"))
    page.fill("#baseline", "12")
    page.fill("#target", "6")
    submit(page, "main form[action='/pdca/projects/new']")
    tab.shot("project")
    assert WORDS[language]["measure"] in page.locator("main").inner_text()
    return path_of(page)


def plan_cycle(tab: Any, project: str, language: str) -> str:
    page, words = tab.page, WORDS[language]
    page.click(f"main a[href='{project}/cycles/new']")
    page.wait_for_load_state()
    tab.shot("cycle-new")
    page.fill("#change_idea", words["idea"])
    page.fill("#prediction", words["result"])
    page.fill("#plan_who", COMMITTEE_NAME[language])
    page.fill("#plan_what", words["action"])
    page.fill("#plan_when", "2026-12-14")
    page.fill("#plan_where", words["where"])
    submit(page, f"main form[action='{project}/cycles/new']")
    tab.shot("cycle-planned")
    return path_of(page)


def advance_on_board(tab: Any, project_id: str, cycle: str, to_stage: str) -> None:
    """Press the card's forward button on the board and find the card in the next column."""
    page = tab.page
    tab.open(f"/pdca?project={project_id}")
    submit(page, f"form[action='{cycle}/advance']")
    column = page.locator(f".board-column[data-stage='{to_stage}']")
    assert column.locator(f"a[href='{cycle}']").count() == 1, f"the card is not in {to_stage}"
    tab.shot(f"board-{to_stage}")


def fill_stage(tab: Any, cycle: str, label: str, fields: dict[str, str], choose: tuple[str, ...] = ()) -> None:
    """Complete the current stage on the cycle page and save it (moving on happens on the board)."""
    page = tab.page
    tab.open(cycle)
    for selector, value in fields.items():
        page.fill(selector, value)
    for selector in choose:
        page.check(selector)
    with page.expect_navigation():
        page.click(f"main form[action='{cycle}'] button.secondary")  # "Save"
    tab.shot(label)


def run_cycle_across_the_board(tab: Any, project: str, cycle: str, language: str) -> None:
    words, project_id = WORDS[language], project.rsplit("/", 1)[-1]
    advance_on_board(tab, project_id, cycle, "do")
    fill_stage(tab, cycle, "cycle-do", {"#do_notes": words["notes"], "#change_started_on": "2026-12-01"})
    advance_on_board(tab, project_id, cycle, "check")
    fill_stage(tab, cycle, "cycle-check", {"#check_result": words["result"]})
    advance_on_board(tab, project_id, cycle, "act")
    fill_stage(tab, cycle, "cycle-act", {"#act_notes": words["decision"]},
               choose=("input[name=act_decision][value=adopt]",))
    advance_on_board(tab, project_id, cycle, "done")


def assert_pdf(response: Any, what: str) -> None:
    assert response.status == 200, f"{what}: HTTP {response.status}"
    assert response.headers["content-type"].startswith("application/pdf"), what
    body = response.body()
    assert body.startswith(b"%PDF") and len(body) > MIN_PDF_BYTES, f"{what}: {len(body)} bytes"


def download_reports(tab: Any, cycle: str, language: str) -> None:
    """The cycle report straight from the cycle page; the monthly review through the report archive, where a job
    renders it while the status page shows its progress."""
    page = tab.page
    tab.open("/reports", "reports")
    review = page.locator("main form[action='/reports']:has(input[name=kind][value=monthly_review])")
    assert review.count() == 1, "the monthly review form is on /reports"
    tab.open(cycle, "cycle-done")
    link = page.locator(f"main a[href^='{cycle}/report.pdf']").get_attribute("href")
    assert_pdf(page.request.get(tab.base + link), "the cycle report")

    tab.open("/reports")
    month = review.locator("input[name=month]")
    month.fill(month.get_attribute("max"))  # this month, which has the journey's complaints
    review.locator("select[name=lang]").select_option(language)
    with page.expect_navigation():
        review.locator("button[type=submit]").click()
    assert re.search(r"/reports/\d+$", page.url), page.url
    assert page.locator("main .report-status[role=status]").count() == 1  # progress bar, then the download
    tab.shot("review-requested")
    deadline = time.monotonic() + 120
    while page.locator("main a[href$='.pdf']").count() == 0:  # the page refreshes itself every few seconds
        assert page.locator("main .report-status .alert").count() == 0, page.locator("main").inner_text()
        assert time.monotonic() < deadline, "the monthly review was not ready within 2 minutes"
        page.wait_for_timeout(1000)
    tab.shot("review-ready")
    href = page.locator("main a[href$='.pdf']").first.get_attribute("href")
    assert_pdf(page.request.get(tab.base + href), "the monthly review")


@pytest.mark.parametrize("language", LANGUAGES)
def test_waiting_complaints_lead_through_rca_to_a_pdca_cycle_and_its_reports(live_server, visit, language):
    patients_complain(visit, live_server, language)
    tab = visit(name=f"j4-{language}-committee")
    rca = open_suggested_rca(tab, live_server, language)
    analyse(tab, rca, language)
    project = start_project(tab, language)
    cycle = plan_cycle(tab, project, language)
    run_cycle_across_the_board(tab, project, cycle, language)
    download_reports(tab, cycle, language)
