"""The live campaign view and the agent's dialer panel in a real Chromium: the test changes
agent states and closes attempts in the database (as the dialer would); the pages follow over
server-sent events without a reload. The test's session commits after every change (SQLite:
an open transaction would hold the write lock the web app needs)."""
from __future__ import annotations

import time

import pytest

from models.dialer import campaigns as rules
from models.dialer.agent_states import call_ended, set_state, take_ready_agent

from tests.browser.chromium import log_in, shot
from tests.models.dialer.test_agent_states import make_attempt

POLL = 0.2
WITHIN_MS = 5000


@pytest.fixture(autouse=True)
def live_updates(app):
    app.config.update(SSE_MAX_SECONDS=120, SSE_POLL_SECONDS=POLL, CAMPAIGN_LIVE_POLL_SECONDS=POLL)
    return app


@pytest.fixture
def campaign(session, users, clock):
    c = rules.create_campaign(session, users["mgr"], clock=clock, name="冬季促销外呼",
                              agent_ids=[users["tm"].id, users["tm2"].id])
    rules.change_status(session, users["mgr"], c.id, "start", clock=clock)
    session.commit()
    return c


def stat(page, key):
    return page.inner_text(f'#live [data-stat="{key}"]').strip()


def wait_stat(page, key, value):
    started = time.monotonic()
    page.wait_for_function(
        "([k, v]) => document.querySelector(`#live [data-stat=\"${k}\"]`).textContent.trim() === v",
        arg=[key, value], timeout=WITHIN_MS)
    return time.monotonic() - started


def agent_state(page, user):
    return page.get_attribute(f'#agents tr[data-agent="{user.id}"] td[data-state]', "data-state")


def wait_agent(page, user, state):
    page.wait_for_selector(f'#agents tr[data-agent="{user.id}"] td[data-state="{state}"]',
                           timeout=WITHIN_MS)


def test_the_live_view_follows_the_database(live_server, browser_page, session, users, clock,
                                            campaign, make_customer):
    tm, tm2 = users["tm"], users["tm2"]
    customer = make_customer("宁波港务物流有限公司", phone="13877778888")
    set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)
    session.commit()
    first = make_attempt(session, clock, campaign, customer=customer, number="+8613877778888")
    page = browser_page
    log_in(page, live_server, "mgr", "pw-mgr")
    page.goto(f"{live_server}/campaigns/{campaign.id}")
    page.wait_for_function("document.getElementById('live').dataset.streamState === 'open'")
    assert stat(page, "lines_in_flight") == "1" and stat(page, "answer_rate") == "—"
    assert agent_state(page, tm) == "ready" and agent_state(page, tm2) == "logged_out"

    # The dialer puts the call through to tm; tm2 joins, paused.
    take_ready_agent(session, first, clock=clock)
    set_state(session, tm2, "paused", reason="meeting", campaign_id=campaign.id, clock=clock)
    session.commit()
    wait_agent(page, tm, "on_call")
    wait_agent(page, tm2, "paused")
    assert "开会" in page.inner_text(f'#agents tr[data-agent="{tm2.id}"]')
    assert page.inner_text('[data-count="on_call"]') == "1"

    # The call ends after 3 minutes of talk; a second call is abandoned.
    clock.advance(minutes=3)
    first.outcome, first.ended_at, first.talk_seconds = "answered", clock.now(), 180.0
    call_ended(session, first, clock=clock)
    make_attempt(session, clock, campaign, outcome="abandoned", ended=True)
    session.commit()
    latency = wait_stat(page, "lines_in_flight", "0")
    wait_stat(page, "answered", "1")
    wait_stat(page, "abandoned", "1")
    assert stat(page, "answer_rate") == "100.0%"
    assert stat(page, "abandon_rate_24h") == "50.0%" and stat(page, "abandon_rate") == "50.0%"
    assert stat(page, "cap_state") == "超过上限（每位就绪坐席只拨一线）"
    assert "border-danger" in page.get_attribute("#abandon-card", "class")
    assert stat(page, "talk_minutes") == "3"
    assert page.inner_text('#outcomes tr[data-outcome="answered"] td.text-end') == "1"
    wait_agent(page, tm, "wrap_up")
    assert latency < 3.0
    shot(page, "campaign-live-view")

    # Three more answered calls bring the 24 h abandon rate to 20 %.
    for _ in range(3):
        make_attempt(session, clock, campaign, outcome="answered", ended=True, talk=60,
                     agent=tm)
    session.commit()
    wait_stat(page, "abandon_rate_24h", "20.0%")
    assert stat(page, "calls_per_hour") == "5"
    set_state(session, tm, "logged_out", clock=clock)
    session.commit()
    wait_agent(page, tm, "logged_out")

    # The dialer finds nothing left to dial: the badge says so without a reload.
    assert page.get_attribute("#campaign-status", "data-status") == "running"
    campaign.status = "finished"
    session.commit()
    page.wait_for_function(
        "document.getElementById('campaign-status').dataset.status === 'finished'",
        timeout=WITHIN_MS)
    assert page.inner_text("#campaign-status") == "已完成"
    assert "text-bg-dark" in page.get_attribute("#campaign-status", "class")


def test_the_agents_panel_follows_the_dialer(live_server, browser_page, session, users, clock,
                                             campaign, make_customer):
    customer = make_customer("温州鞋业有限公司", phone="13766665555")
    page = browser_page
    log_in(page, live_server, "tm", "pw-tm")
    page.goto(f"{live_server}/dialer")
    page.click(f"#join-{campaign.id}")
    page.wait_for_selector('#dialer-state[data-state="ready"]')
    page.select_option("#dialer-state form:has(#pause) select[name=reason]", "break")
    page.click("#pause")
    page.wait_for_selector('#dialer-state[data-state="paused"]')
    assert "休息" in page.inner_text("#dialer-state")
    page.click("#ready")
    page.wait_for_selector('#dialer-state[data-state="ready"]')

    attempt = make_attempt(session, clock, campaign, customer=customer, number="+8613766665555")
    take_ready_agent(session, attempt, clock=clock)
    session.commit()
    page.wait_for_selector('#dialer-state[data-state="on_call"]', timeout=WITHIN_MS)
    assert "温州鞋业有限公司" in page.inner_text("#current-call")
    attempt.outcome, attempt.ended_at = "answered", clock.now()
    call_ended(session, attempt, clock=clock)
    session.commit()
    page.wait_for_selector('#dialer-state[data-state="wrap_up"]', timeout=WITHIN_MS)
    page.check("#disposition-interested")
    shot(page, "dialer-wrap-up")
    page.click("#wrap-ready")
    page.wait_for_selector('#dialer-state[data-state="ready"]')
    session.commit()
    from models.dialer.agent_states import current
    assert current(session, users["tm"].id).state == "ready"
    session.commit()
