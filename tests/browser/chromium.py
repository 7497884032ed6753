"""Browser-test plumbing: the app on a real port, Debian's Chromium driven by Playwright."""
from __future__ import annotations

import pathlib
import socket
import threading
import time

import pytest

from tests.repo_paths import ROOT

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class _InFlight:
    """WSGI wrapper that knows the responses not yet closed and their sockets: an event stream
    stays open until a write finds the browser gone, which under load can take a while."""

    def __init__(self, app):
        self.app, self.lock, self.open = app, threading.Lock(), {}

    def __call__(self, environ, start_response):
        key = object()
        with self.lock:
            self.open[key] = (environ.get("werkzeug.socket"), environ.get("PATH_INFO"))
        try:
            body = self.app(environ, start_response)
        except BaseException:
            self._done(key)
            raise
        return _Counted(body, lambda: self._done(key))

    def _done(self, key):
        with self.lock:
            self.open.pop(key, None)

    def close_all(self, seconds: float) -> list[str]:
        """Cut every open connection (a stream's next write then fails and its generator is
        closed; a reader waiting for the browser gets EOF), again for any request that came in
        meanwhile, and wait for the responses to end; the paths of those that did not."""
        deadline = time.monotonic() + seconds
        while True:
            with self.lock:
                sockets = [s for s, _path in self.open.values() if s is not None]
                if not sockets or time.monotonic() > deadline:
                    return sorted(path for _s, path in self.open.values())
            for sock in sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            time.sleep(0.05)


class _Counted:
    """A response body that says when it is over: when it is exhausted (werkzeug may then wait
    on the socket a while, holding nothing of the app: Flask ended the request's context before
    it handed the body over, a streamed body's context ends with the stream) or closed."""

    def __init__(self, body, done):
        self.body, self.done = body, done

    def __iter__(self):
        yield from self.body
        self.done()

    def close(self):
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self.done()


@pytest.fixture
def live_server(app, request):
    """The app on a real port. On teardown it cuts the open connections and waits for every
    response to end: a stream still polling would hold table locks against the next test's
    TRUNCATE (PostgreSQL deadlock)."""
    from werkzeug.serving import make_server
    app.config["SSE_KEEPALIVE_SECONDS"] = 0.5   # a closed browser is noticed within a second
    counted = _InFlight(app)
    server = make_server("127.0.0.1", 0, counted, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    if "session" in request.fixturenames:
        # The test's own transaction would keep a request waiting for its lock (SQLite's write
        # lock, PostgreSQL's row locks): it is over, end it first.
        request.getfixturevalue("session").rollback()
    left = counted.close_all(10)
    assert not left, f"responses still open 10 s after their connections were cut: {left}"


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
