"""The call bar in a real Chromium page: the agent is on a click-to-call the PBX simulator plays
over real AMI TCP; the bar shows the call, the agent holds it with the keyboard (Alt+O) and
resumes it with the button, the dialer process's console runner runs each over AMI, and the
call log counts the hold."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from agi.ami.client import AMIClient
from agi.ami.listener import ScreenPopListener
from agi.console.commands import CommandRunner, run_forever
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock as SimClock
from models.schema.calls import Call

from tests.browser.chromium import log_in, shot

SECRET = "dialfunnel-secret"
T0 = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def web(app):
    app.config.update(SSE_MAX_SECONDS=300, SSE_POLL_SECONDS=0.25)
    return app


@pytest.fixture
def pbx():
    scenario = Scenario(seed=3, timing={"click": {"agent_ring": 1.0, "ring_time": 2.0, "talk_time": 900.0}})
    server = AMIServer(scenario=scenario, clock=SimClock(T0), auth_fail_delay=0,
                       timestamp_events=True).start()
    yield server
    server.stop()


@pytest.fixture
def console(Session, pbx, users, session):
    users["tm"].extension = "8001"
    session.commit()
    listener = ScreenPopListener(Session, host="127.0.0.1", port=pbx.port, username="dialfunnel",
                                 secret=SECRET, client_options=dict(backoff_initial=0.05, backoff_max=0.2)).start()
    assert listener.wait_connected(5)
    client = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET, events=False)
    client.connect()
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(CommandRunner(Session, client, runner_id="b"), stop),
                              kwargs=dict(interval=0.05), daemon=True)
    thread.start()
    yield listener
    stop.set()
    thread.join(5)
    client.close()
    listener.stop()


def advance(pbx, seconds):
    for _ in range(int(seconds / 0.5)):
        pbx.clock.advance(seconds=0.5)
        assert pbx.scheduler.settle()


def test_hold_by_keyboard_and_resume_by_button(live_server, browser_page, Session, pbx, console):
    page = browser_page
    log_in(page, live_server, "tm", "pw-tm")
    page.wait_for_selector("#call-bar")
    page.wait_for_function("document.documentElement.dataset.liveStream === 'open'")
    assert page.inner_text("#call-bar-call").strip() == "无通话"
    phone = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET, events=False)
    phone.connect()
    try:
        handle = phone.originate("Local/8001@cap-phones", context="cap-out", exten="13800000004",
                                 timeout_ms=30000)
        advance(pbx, 4)
        page.wait_for_selector("#call-bar .call-bar-number", timeout=5_000)   # the call log's event
        assert page.inner_text("#call-bar .call-bar-number") == "+8613800000004"
        assert page.is_enabled('#call-bar button[data-action="hold"]')
        assert page.is_disabled('#call-bar button[data-action="resume"]')
        page.keyboard.press("Alt+o")
        page.wait_for_function("!!document.querySelector('#call-bar-call .text-bg-warning')")
        assert "保持中" in page.inner_text("#call-bar-call")
        assert [m["Context"] for m in pbx.actions("Redirect")] == ["dialfunnel-hold"]
        shot(page, "call-bar-on-hold")
        advance(pbx, 5)
        page.click('#call-bar button[data-action="resume"]')
        page.wait_for_function("!document.querySelector('#call-bar-call .text-bg-warning')")
        assert len(pbx.actions("Bridge")) == 1
        page.keyboard.press("?")
        assert page.is_visible("#call-bar-help") and "快捷键" in page.inner_text("#call-bar-help")
        phone.hangup(pbx.calls[handle.channel_id].legs["c1"]["Channel"])
        assert pbx.wait_handled()
        advance(pbx, 0.5)

        def ended():
            with Session() as s:
                return s.scalar(select(Call).where(Call.linkedid == handle.channel_id,
                                                   Call.state == "ended"))
        page.wait_for_function("document.querySelector('#call-bar-call').textContent.trim() === '无通话'",
                               timeout=5_000)
        call = ended()
        assert call is not None and call.hold_seconds == pytest.approx(5.0, abs=0.01)
    finally:
        phone.close()
