"""Browser journeys: a real CareLoop server (the embedded default, as `make run` starts it) driven by
Playwright in Debian's chromium. Screenshots of every page visited go to test-artifacts/e2e/.

Every `Visit.shot()` also checks the page it photographs: no console error or server error so far, no
same-origin link that fails, and (on a Chinese page) no English sentence from the message catalog left
untranslated. Sign-in and language helpers for the journeys live in tests/e2e/steps.py."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from core.settings import REPO_ROOT

CHROMIUM = os.environ.get("CARELOOP_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"
CATALOG = REPO_ROOT / "core" / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PHONE = {"width": 390, "height": 844}
# Links a checker must not follow: they change the session (language cookie, sign-out) rather than show a page.
UNFOLLOWED_PATHS = ("/lang/", "/logout")
_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|\{[a-z_]+\}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("live")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CARELOOP_DATABASE_URL": f"sqlite:///{data}/careloop.db", "CARELOOP_DATA_DIR": str(data),
           "CARELOOP_PUBLIC_URL": base, "CARELOOP_BROKER_URL": "", "CARELOOP_SECRET_KEY": "e2e-secret"}
    log = (data / "server.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "core.cli", "serve", "--demo", "--port", str(port)],
                               cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300  # seeding the demo on a busy CI machine can take minutes
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("server exited: " + (data / "server.log").read_text()[-2000:])
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            raise RuntimeError("server did not start: " + (data / "server.log").read_text()[-2000:])
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM} (make install puts Debian's chromium there)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def sms_reader(browser: Any, live_server: str) -> Iterator[Any]:
    """`sms_reader(language)`: an unrecorded staff tab of that language's demo clinic, signed in once per session,
    for steps.read_sms_code / steps.sign_in_patient(staff_page=...)."""
    from tests.e2e.steps import new_staff_page

    pages: dict[str, Any] = {}

    def staff_page(language: str) -> Any:
        if language not in pages:
            pages[language] = new_staff_page(browser, live_server, language)
        return pages[language]

    yield staff_page
    for page in pages.values():
        page.context.close()


@cache
def english_phrases() -> tuple[str, ...]:
    """Catalog English of two words or more that has a different Chinese translation: on a zh-CN page any of
    these, verbatim, is text that escaped translation. Placeholders split a msgid into its literal pieces."""
    from babel.messages.pofile import read_po

    with CATALOG.open("rb") as handle:
        catalog = read_po(handle)
    phrases: set[str] = set()
    for message in catalog:
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        translated = message.string[0] if isinstance(message.string, tuple) else message.string
        if not msgid or translated == msgid:
            continue
        for piece in _PLACEHOLDER.split(msgid):
            piece = piece.strip(" .,:;()·—-")
            words = [word for word in piece.split() if re.search(r"[A-Za-z]{2,}", word)]
            if len(words) >= 2 and not re.search(r"[^\x00-\x7f]", piece):
                phrases.add(piece)
    return tuple(sorted(phrases, key=len, reverse=True))


def untranslated_in(text: str) -> list[str]:
    found = []
    for phrase in english_phrases():
        if re.search(r"(?<![A-Za-z])" + re.escape(phrase) + r"(?![A-Za-z])", text):
            found.append(phrase)
    return found


# A link's outcome depends on who follows it, so the cache is keyed by the signed-in name and the URL.
_LINK_STATUS: dict[tuple[str, str], str] = {}


class Visit:
    """A browser tab that fails the test on console errors, server errors, broken links and (in Chinese)
    untranslated text, and screenshots each page as test-artifacts/e2e/<name>-NN-<label>.png."""

    def __init__(self, page: Any, name: str, base: str = "") -> None:
        self.page = page
        self.name = name
        self.base = base
        self.errors: list[str] = []
        self.shots = 0
        self.seen = 0  # errors already reported by a check
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(
            f"console ({msg.location.get('url', '')}): {msg.text}"))
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("response", lambda r: r.status >= 500 and self.errors.append(f"{r.status} {r.url}"))

    def open(self, path: str, label: str | None = None) -> Any:
        """Go to a path on the server and, with a label, screenshot and check the page."""
        response = self.page.goto(self.base + path)
        if label:
            self.shot(label)
        return response

    def shot(self, label: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        # caret="initial": hiding the caret injects a <style>, which the app's CSP rightly reports as an error.
        self.page.screenshot(path=str(ARTIFACTS / f"{self.name}-{self.shots:02d}-{label}.png"), full_page=True,
                             caret="initial")
        problems = self.page_problems()
        assert problems == [], f"{label} ({self.page.url}): {problems}"

    def page_problems(self) -> list[str]:
        problems, self.seen = list(self.errors), len(self.errors)
        if self.page.evaluate("document.documentElement.lang") == "zh-CN":
            text = self.page.evaluate("document.body.innerText")
            problems += [f"untranslated: {phrase!r}" for phrase in untranslated_in(text)]
        problems += self.broken_links()
        width = (self.page.viewport_size or {}).get("width", 0)
        if width and self.page.evaluate("document.documentElement.scrollWidth") > width:
            problems.append("the page is wider than the screen (sideways scrolling)")
        return problems

    def broken_links(self) -> list[str]:
        origin = urlsplit(self.page.url)._replace(path="", query="", fragment="").geturl()
        who = self.page.evaluate("(document.querySelector('.who') || {}).textContent || ''")
        hrefs = self.page.evaluate("Array.from(document.querySelectorAll('a[href]'), a => a.href)")
        broken = []
        for href in dict.fromkeys(hrefs):
            url = href.split("#", 1)[0]
            parts = urlsplit(url)
            if not url.startswith(origin) or parts.path.startswith(UNFOLLOWED_PATHS) or url == self.page.url:
                continue
            key = (who, url)
            if key not in _LINK_STATUS:
                _LINK_STATUS[key] = self._follow(url, signed_in=bool(who))
            if _LINK_STATUS[key]:
                broken.append(f"link {url}: {_LINK_STATUS[key]}")
        return broken

    def _follow(self, url: str, *, signed_in: bool) -> str:
        """'' when the link works; otherwise what went wrong. Uses the tab's cookies (same user)."""
        response = self.page.request.get(url, max_redirects=5, timeout=60_000)
        if response.status >= 400:
            return f"HTTP {response.status}"
        if signed_in and urlsplit(response.url).path == "/login":
            return "sends a signed-in user to the sign-in page"
        return ""

    def check(self) -> None:
        self.seen = len(self.errors)
        assert self.errors == [], self.errors


@pytest.fixture
def visit(browser: Any, live_server: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Open a checked tab: `visit(name="journey-zh-CN")`, `visit(viewport=..., phone=True, language="en")`."""

    def open_tab(viewport: dict[str, int] | None = None, name: str | None = None, *, phone: bool = False,
                 language: str | None = None) -> Visit:
        options: dict[str, Any] = {"viewport": viewport or (PHONE if phone else {"width": 1280, "height": 900})}
        if phone:
            options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
        if language:
            options["locale"] = language
        context = browser.new_context(**options)
        opened.append(context)
        tab = Visit(context.new_page(), name or request.node.name.replace("/", "_"), live_server)
        tabs.append(tab)
        return tab

    opened: list[Any] = []
    tabs: list[Visit] = []
    yield open_tab
    for context in opened:
        context.close()
    late = [error for tab in tabs for error in tab.errors[tab.seen:]]
    assert late == [], f"errors after the last check: {late}"
