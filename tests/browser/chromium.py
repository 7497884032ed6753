"""Browser-test plumbing: the app on a real port, Debian's Chromium driven by Playwright."""
from __future__ import annotations

import pathlib
import threading
import time

import pytest

from tests.repo_paths import ROOT

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class _InFlight:
    """WSGI wrapper counting responses not yet closed (an event stream stays open until its
    next write finds the browser gone)."""

    def __init__(self, app):
        self.app, self.count, self.lock = app, 0, threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            self.count += 1
        try:
            body = self.app(environ, start_response)
        except BaseException:
            self._done()
            raise
        return _Counted(body, self._done)

    def _done(self):
        with self.lock:
            self.count -= 1

    def wait_idle(self, seconds: float) -> int:
        deadline = time.monotonic() + seconds
        while self.count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.count


class _Counted:
    def __init__(self, body, done):
        self.body, self.done = body, done

    def __iter__(self):
        return iter(self.body)

    def close(self):
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self.done()


@pytest.fixture
def live_server(app):
    """The app on a real port. On teardown it waits for every open response to end: a stream
    still polling would hold table locks against the next test's TRUNCATE (PostgreSQL
    deadlock)."""
    from werkzeug.serving import make_server
    app.config["SSE_KEEPALIVE_SECONDS"] = 0.5   # a closed browser is noticed within a second
    counted = _InFlight(app)
    server = make_server("127.0.0.1", 0, counted, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    left = counted.wait_idle(10)
    assert left == 0, f"{left} response(s) still open 10 s after the browser closed"


@pytest.fixture(scope="session")
def chromium():
    if not pathlib.Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run scripts/system-deps.sh chromium")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(live_server, chromium, request):
    # Needs live_server so that it closes first: the server then sees its streams end.
    context = chromium.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-final.png"), full_page=True)
    context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page, base: str, username: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
