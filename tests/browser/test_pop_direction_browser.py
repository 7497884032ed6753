"""Outbound screen pops in a real Chromium page: the dialer puts a campaign call through to the
agent (models.dialer.agent_states.take_ready_agent writes the pop), the page's event stream shows it
titled "去电" with the campaign's name; an inbound pop stays "来电". When the panel cannot be
loaded, pops.js's fallback line says the same."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models.dialer.agent_states import call_ended, set_state, take_ready_agent
from models.dialer.dialing import finish_attempt
from models.schema import Event
from models.telephony.popups import create_pop_event

from tests.browser.chromium import log_in, shot
from tests.models.dialer.test_agent_states import make_attempt, make_campaign


@pytest.fixture(autouse=True)
def web(app):
    app.config.update(SSE_MAX_SECONDS=300, SSE_POLL_SECONDS=0.25)
    return app


def open_workspace(page, base):
    log_in(page, base, "tm", "pw-tm")
    page.wait_for_selector("#main-line")
    page.wait_for_function("document.documentElement.dataset.liveStream === 'open'")


def newest_pop(session, page):
    """The agent's newest pop event, once the page shows it on top."""
    session.commit()
    event_id = session.scalar(select(func.max(Event.id)).where(Event.kind == "screen_pop"))
    session.commit()  # no transaction of ours stays open while the page reads (SQLite lock)
    page.wait_for_function(
        "id => { const p = document.querySelector('#screen-pops .screen-pop');"
        " return p && p.dataset.eventId === String(id); }", arg=event_id)
    return page.locator("#screen-pops .screen-pop").first


def test_campaign_call_pops_as_outbound_with_its_campaign(
        live_server, browser_page, session, users, clock, make_customer):
    tm = users["tm"]
    customer = make_customer("宁波活动客户公司", owner="tm", phone="13912345678",
                             contact_person="钱女士")
    campaign = make_campaign(session, clock, [tm], name="双十一回访")
    page = browser_page
    open_workspace(page, live_server)

    set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)
    attempt = make_attempt(session, clock, campaign, customer=customer, number="+8613912345678")
    assert take_ready_agent(session, attempt, clock=clock).id == tm.id
    session.commit()
    pop = newest_pop(session, page)
    pop.locator(".pop-card").wait_for()
    assert pop.locator(".pop-card").get_attribute("data-direction") == "outbound"
    title = pop.locator(".pop-title").inner_text()
    assert title.startswith("去电") and "来电" not in title and "+8613912345678" in title
    assert pop.locator(".pop-campaign").inner_text() == "外呼活动：双十一回访"
    assert pop.locator(".pop-customer-name").first.inner_text() == "宁波活动客户公司"
    shot(page, "screen-pop-outbound-campaign")

    create_pop_event(session, tm, "13912345678", clock=clock)  # a customer calls back
    session.commit()
    pop = newest_pop(session, page)
    pop.locator(".pop-card").wait_for()
    assert pop.locator(".pop-card").get_attribute("data-direction") == "inbound"
    assert pop.locator(".pop-title").inner_text().startswith("来电")
    assert pop.locator(".pop-campaign").count() == 0

    # The panel cannot be loaded: the fallback line says which way the call goes.
    page.route("**/pops/*", lambda route: route.abort())
    call_ended(session, finish_attempt(session, attempt.channel_id, clock=clock), clock=clock)
    set_state(session, tm, "ready", disposition="interested", clock=clock)
    second = make_attempt(session, clock, campaign, customer=customer, number="+8613912345678")
    assert take_ready_agent(session, second, clock=clock).id == tm.id
    session.commit()
    pop = newest_pop(session, page)
    assert pop.locator(".pop-card").inner_text().startswith("去电 · 双十一回访 +8613912345678")
    create_pop_event(session, tm, "13912345678", clock=clock)
    session.commit()
    pop = newest_pop(session, page)
    assert pop.locator(".pop-card").inner_text().startswith("来电 13912345678")
    shot(page, "screen-pop-outbound-fallback")
