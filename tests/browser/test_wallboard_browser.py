"""The wallboard in a real Chromium: the test writes calls through the call log's writer (what
the AMI listener does on each event) and agent states; the manager's wallboard follows within
1 s over server-sent events, without a reload, and a firing alert lights its row and pops."""
from __future__ import annotations

import time

import pytest

from models.dialer import campaigns as rules
from models.dialer.agent_states import set_state
from models.dialer.wallboard import add_alert
from models.schema import AgentState

from tests.browser.chromium import log_in, shot
from tests.browser.test_browser_widths import OVERFLOW
from tests.call_helpers import hang_up, open_manual_call

WITHIN_MS = 5000


@pytest.fixture(autouse=True)
def live_updates(app):
    app.config.update(SSE_MAX_SECONDS=120, SSE_POLL_SECONDS=0.2)   # the default tick: 0.5 s
    return app


@pytest.fixture
def floor(session, users, clock, make_customer):
    users["tm"].extension, users["tm2"].extension = "8001", "8002"
    c = rules.create_campaign(session, users["mgr"], clock=clock, name="冬季促销外呼",
                              agent_ids=[users["tm"].id])
    rules.change_status(session, users["mgr"], c.id, "start", clock=clock)
    rules.create_campaign(session, users["admin"], clock=clock, name="别人的活动",
                          agent_ids=[users["tm2"].id])
    session.commit()
    set_state(session, users["tm"], "ready", campaign_id=c.id, clock=clock)
    session.commit()
    make_customer("宁波港务物流有限公司", phone="13877778888")
    return c


SEEN_AT = """(selector) => {
  window.seenAt = null;
  new MutationObserver(() => {
    if (window.seenAt === null && document.querySelector(selector)) { window.seenAt = Date.now(); }
  }).observe(document.getElementById("wallboard"), {subtree: true, childList: true, attributes: true});
}"""


def row(user):
    return f"#agent-{user.id}"


def test_the_wallboard_follows_an_agent_onto_a_call(live_server, browser_page, session, users,
                                                    clock, floor):
    tm = users["tm"]
    page = browser_page
    log_in(page, live_server, "mgr", "pw-mgr")
    page.goto(f"{live_server}/wallboard")
    page.wait_for_selector("#wallboard-live.text-bg-success")
    page.wait_for_selector(f'{row(tm)}[data-state="ready"]')
    assert page.query_selector(row(users["tm2"])) is None          # not his team
    assert page.inner_text(f'#wallboard-campaigns tr[data-campaign="{floor.id}"] td:last-child') == "1"

    # tm dials the customer by hand; the call log's writer records it, as the listener would.
    # The page notes when the row turns on_call: Playwright's waits look again only every
    # 0.5 s after the first 0.3 s, so timing the wait itself would measure its polling.
    page.evaluate(SEEN_AT, f'{row(tm)}[data-state="on_call"]')
    linkedid = open_manual_call(session, "8001", "+8613877778888", start=clock.now())
    committed = time.time()
    page.wait_for_selector(f'{row(tm)}[data-state="on_call"]', timeout=WITHIN_MS)
    latency = page.evaluate("window.seenAt") / 1000.0 - committed
    text = page.inner_text(row(tm))
    assert "通话中" in text and "宁波港务物流有限公司" in text and "+8613877778888" in text
    assert page.inner_text(f'#wallboard-campaigns tr[data-campaign="{floor.id}"] td:last-child') == "0"
    print(f"wallboard: call written -> row on_call in {latency * 1000:.0f} ms")
    assert latency < 1.0, latency
    assert page.evaluate(OVERFLOW) == []
    shot(page, "wallboard")

    # An alert on calls over 2 minutes: 3 minutes later the row lights up and the manager gets a pop.
    add_alert(session, users["mgr"], "long_call", "2", now=clock.now())
    session.commit()
    clock.advance(minutes=3)
    page.wait_for_selector(f'{row(tm)}[data-alert="long_call"]', timeout=WITHIN_MS)
    page.wait_for_selector("#toasts .toast:has-text('通话过长')", timeout=WITHIN_MS)
    assert "李红光" in page.inner_text("#toasts")
    time.sleep(1.5)
    assert len(page.query_selector_all("#toasts .toast")) == 1      # popped once, not every tick

    # The call ends: the agent goes back to the dialer's state, today's figures count the call.
    hang_up(session, linkedid, clock.now())
    page.wait_for_selector(f'{row(tm)}[data-state="ready"]', timeout=WITHIN_MS)
    assert page.inner_text(f"{row(tm)} td:nth-child(9)") == "1"
    assert page.inner_text(f"{row(tm)} td:nth-child(10)") == "2:55"   # answered 5 s after the dial
    assert session.get(AgentState, tm.id).state == "ready"
