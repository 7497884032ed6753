"""Why the dialer calls nobody (issue 11): outside calling hours, no leads left, everyone
waiting for a retry, every number capped, nobody ready — said on the live view and on the
agent's dialer panel instead of a silent 进行中 / 就绪."""
from __future__ import annotations

import datetime as dt

import pytest

from models.dialer.agent_states import set_state
from models.dialer.campaign_stats import live_stats, why_idle
from models.dialer.dialing import finish_attempt
from models.dialer.dnc import add_number
from models.schema import Campaign

from tests.models.dialer.test_dialing import past_attempt, pick, running  # noqa: F401  (fixture)
from tests.web_helpers import committing

UTC = dt.timezone.utc


def idle(session, campaign, clock):
    session.expire_all()
    return why_idle(session, campaign.id, clock=clock)


def test_each_reason_in_the_order_a_manager_asks(session, users, clock, running,  # noqa: F811
                                                 make_customer):
    make_customer(mobile="13800138000")
    c = running()
    assert idle(session, c, clock) == {"reason": "no_agent_ready"}
    set_state(session, users["tm"], "ready", campaign_id=c.id, clock=clock)
    session.commit()
    assert idle(session, c, clock) is None                       # it may dial now
    clock.set(dt.datetime(2026, 11, 26, 14, 0, tzinfo=UTC))      # 22:00 in Shanghai
    assert idle(session, c, clock) == {"reason": "outside_hours",
                                       "at": dt.datetime(2026, 11, 27, 0, 0, tzinfo=UTC)}
    clock.set(dt.datetime(2026, 11, 26, 2, 0, tzinfo=UTC))
    for hours in range(1, 6):                                    # the 24 h cap: 5 calls
        past_attempt(session, c, "+8613800138000", clock.now() - dt.timedelta(hours=hours))
    assert idle(session, c, clock) == {"reason": "all_capped"}
    add_number(session, users["mgr"], "13800138000", clock=clock)   # do-not-call: no lead left
    session.commit()
    assert idle(session, c, clock) == {"reason": "no_leads"}
    session.get(Campaign, c.id).schedule_end_at = clock.now()
    session.commit()
    assert idle(session, c, clock) == {"reason": "schedule_over"}
    session.get(Campaign, c.id).status = "paused"
    session.commit()
    assert idle(session, c, clock) == {"reason": "not_running"}


def test_no_leads_and_waiting_retries(session, users, clock, running, make_customer):  # noqa: F811
    c = running()
    assert idle(session, c, clock) == {"reason": "no_leads"}
    make_customer(mobile="13800138000")
    c2 = running()
    set_state(session, users["tm"], "ready", campaign_id=c2.id, clock=clock)
    session.commit()
    attempt = pick(session, c2, clock)[0]
    finish_attempt(session, attempt.channel_id, reason=5, cause=17, clock=clock)   # busy
    session.commit()
    assert idle(session, c2, clock) == {"reason": "waiting_retries",
                                        "at": clock.now() + dt.timedelta(minutes=10)}


def test_outside_hours_skips_a_holiday(session, users, clock, running, make_customer):  # noqa: F811
    make_customer(mobile="13800138000")
    c = running()
    clock.set(dt.datetime(2026, 9, 30, 14, 0, tzinfo=UTC))        # 22:00 on the eve of 国庆
    found = idle(session, c, clock)
    assert found["reason"] == "outside_hours" and found["at"] >= dt.datetime(2026, 10, 7, 0, 0, tzinfo=UTC)


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


def test_the_live_view_and_the_agents_panel_say_why(as_user, session, users, clock, running,  # noqa: F811
                                                    make_customer):
    make_customer(mobile="13800138000")
    c = running()
    page = as_user("mgr").get(f"/campaigns/{c.id}").get_data(as_text=True)
    assert "没有就绪的坐席" in page
    clock.set(dt.datetime(2026, 11, 26, 14, 0, tzinfo=UTC))      # 22:00 in Shanghai
    set_state(session, users["tm"], "ready", campaign_id=c.id, clock=clock)
    session.commit()
    stats = live_stats(session, c.id, clock=clock)
    assert stats["idle"] == {"reason": "outside_hours", "at": "2026-11-27T00:00:00+00:00"}
    page = as_user("mgr").get(f"/campaigns/{c.id}").get_data(as_text=True)
    assert "不在呼叫时间" in page and "2026-11-27 08:00" in page
    panel = as_user("tm").get("/dialer/panel").get_data(as_text=True)
    assert 'id="idle-reason"' in panel and "不在呼叫时间" in panel and "2026-11-27 08:00" in panel
    clock.set(dt.datetime(2026, 11, 27, 1, 0, tzinfo=UTC))       # 09:00: calls go out again
    panel = as_user("tm").get("/dialer/panel").get_data(as_text=True)
    assert 'id="idle-reason"' not in panel
