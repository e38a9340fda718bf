"""Browser journeys: a real CareLoop server (the embedded default, as `make run` starts it) driven by
Playwright in Debian's chromium. Screenshots of every page visited go to test-artifacts/e2e/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import REPO_ROOT

CHROMIUM = os.environ.get("CARELOOP_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


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
        deadline = time.monotonic() + 90
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


class Visit:
    """A browser tab that fails the test on console errors and server errors, and screenshots each page."""

    def __init__(self, page: Any, name: str) -> None:
        self.page = page
        self.name = name
        self.errors: list[str] = []
        self.shots = 0
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("response", lambda r: r.status >= 500 and self.errors.append(f"{r.status} {r.url}"))

    def shot(self, label: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        self.page.screenshot(path=str(ARTIFACTS / f"{self.name}-{self.shots:02d}-{label}.png"), full_page=True)

    def check(self) -> None:
        assert self.errors == [], self.errors


@pytest.fixture
def visit(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    def open_tab(viewport: dict[str, int] | None = None, name: str | None = None) -> Visit:
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
        opened.append(context)
        return Visit(context.new_page(), name or request.node.name.replace("/", "_"))

    opened: list[Any] = []
    yield open_tab
    for context in opened:
        context.close()
