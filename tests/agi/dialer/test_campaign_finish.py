"""A running campaign with nothing left to dial ever becomes "finished": by finish_if_done,
which the dialer runs with its campaign refresh. The live view and the report show it; a
manager may start it again once a refresh gives it a lead, or stop it for good."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from agi.ami.client import AMIClient
from agi.dialer.engine import CAMPAIGN_REFRESH_SECONDS, Dialer
from agi.dialer.simulation import Driver, SimulatedAgents
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock
from models.crm.stages import promote
from models.dialer import agent_states, campaigns
from models.dialer.agent_states import set_state
from models.dialer.campaign_stats import live_stats
from models.dialer.campaigns import (
    change_status,
    create_campaign,
    finish_if_done,
    refresh_leads,
    update_campaign,
)
from models.dialer.dialing import finish_attempt, pick_leads
from models.dialer.dnc import add_number
from models.dialer.preview import preview_next
from models.errors import DomainError
from models.schema import Campaign, CampaignLead, Customer, DialAttempt

from tests.web_helpers import committing, post


@pytest.fixture
def running(session, users, clock):
    """running(**fields) -> a started campaign with tm on its team."""
    counter = iter(range(1, 1000))

    def make(**fields):
        fields.setdefault("name", "完成活动%d" % next(counter))
        fields.setdefault("filter_stage", "target")
        c = create_campaign(session, users["mgr"], clock=clock, agent_ids=[users["tm"].id],
                            **fields)
        change_status(session, users["mgr"], c.id, "start", clock=clock)
        session.commit()
        return c
    return make


def status(session, campaign):
    session.expire_all()
    return session.get(Campaign, campaign.id).status


def lead_statuses(session, campaign):
    return dict(session.execute(select(CampaignLead.customer_id, CampaignLead.status)
                                .where(CampaignLead.campaign_id == campaign.id)).all())


def call(session, campaign, clock, *, cause, reason=0):
    """Dial the next due lead and end the call with `cause`."""
    attempt = pick_leads(session, campaign.id, 1, dialer_id="d1", clock=clock)[0]
    session.commit()
    clock.advance(seconds=20)
    finish_attempt(session, attempt.channel_id, reason=reason, cause=cause, clock=clock)
    session.commit()
    return attempt


def finish(session, campaign, clock):
    done = finish_if_done(session, campaign.id, clock=clock)
    session.commit()
    return done


def test_finished_once_every_lead_is_settled(session, users, running, clock, make_customer):
    dead = make_customer(mobile="13800138001")
    retried = make_customer(mobile="13800138002")
    c = running(retry_rules={"noanswer": {"delay_min": 30, "max": 1}})
    assert not finish(session, c, clock)            # two leads to dial
    first = pick_leads(session, c.id, 1, dialer_id="d1", clock=clock)[0]
    session.commit()
    assert first.customer_id == dead.id
    finish_attempt(session, first.channel_id, reason=0, cause=1, clock=clock)   # 空号
    session.commit()
    call(session, c, clock, cause=19, reason=3)     # no answer: a retry in 30 min
    assert not finish(session, c, clock)            # a retry is still to come
    clock.advance(minutes=30)
    attempt = pick_leads(session, c.id, 1, dialer_id="d1", clock=clock)[0]
    session.commit()
    assert not finish(session, c, clock)            # a call in flight
    assert status(session, c) == "running"
    finish_attempt(session, attempt.channel_id, reason=3, cause=19, clock=clock)
    session.commit()
    assert lead_statuses(session, c) == {dead.id: "dead", retried.id: "exhausted"}
    assert finish(session, c, clock)
    assert status(session, c) == "finished"
    assert not finish(session, c, clock)            # once
    assert live_stats(session, c.id, clock=clock)["campaign"]["status"] == "finished"
    assert pick_leads(session, c.id, 5, dialer_id="d1", clock=clock) == []


def test_removed_done_and_blocked_leads_count_as_settled(session, users, running, clock,
                                                         make_customer):
    promoted = make_customer(mobile="13800138011")
    listed = make_customer(mobile="13800138012")
    flagged = make_customer(mobile="13800138013")
    gone = make_customer(mobile="13800138014")
    c = running()
    # after they joined the hopper: put on the list, flagged, number found dead elsewhere
    add_number(session, users["mgr"], "13800138012", clock=clock)
    session.get(Customer, flagged.id).do_not_call = True
    session.get(Customer, gone.id).number_status = "changed"
    promote(session, users["admin"], promoted.id, "potential", clock=clock)
    refresh_leads(session, c, clock=clock)
    session.commit()
    assert lead_statuses(session, c) == {promoted.id: "removed", listed.id: "dnc",
                                         flagged.id: "queued", gone.id: "dead"}
    assert finish(session, c, clock)
    # the queued lead that could never be dialled is settled with the campaign
    assert lead_statuses(session, c)[flagged.id] == "dnc"


def test_a_lead_waiting_for_hours_or_caps_keeps_the_campaign_running(
        session, users, running, clock, make_customer):
    capped = make_customer(mobile="13800138020")
    london = make_customer(mobile="13800138021", time_zone="Europe/London")    # 02:00 there
    c = running(max_attempts_24h=1, max_attempts_5min=1,
                retry_rules={"noanswer": {"delay_min": 1, "max": 3}})
    call(session, c, clock, cause=19, reason=3)     # capped's one call of the day
    clock.advance(minutes=5)
    assert pick_leads(session, c.id, 5, dialer_id="d1", clock=clock) == []
    assert not finish(session, c, clock)
    assert lead_statuses(session, c) == {capped.id: "queued", london.id: "queued"}


def test_a_call_in_flight_keeps_the_campaign_running_even_without_its_lead(
        session, users, running, clock, make_customer):
    """The customer is deleted while the dialer calls it: its lead goes with it, the call
    does not."""
    from models.crm.customers import delete_customer
    customer = make_customer(mobile="13800138025")
    c = running()
    attempt = pick_leads(session, c.id, 1, dialer_id="d1", clock=clock)[0]
    session.commit()
    delete_customer(session, users["admin"], customer.id)
    session.commit()
    assert lead_statuses(session, c) == {}
    assert not finish(session, c, clock)
    finish_attempt(session, attempt.channel_id, reason=4, cause=16, clock=clock)
    session.commit()
    assert finish(session, c, clock)


def test_a_held_preview_keeps_the_campaign_running(session, users, running, clock,
                                                    make_customer):
    make_customer(mobile="13800138031")
    c = running(mode="preview")
    set_state(session, users["tm"], "ready", campaign_id=c.id, clock=clock)
    preview_next(session, users["tm"], c.id, clock=clock)
    session.commit()
    assert not finish(session, c, clock)


def test_only_running_campaigns_finish(session, users, running, clock):
    """A campaign whose filter matches nobody has nothing to dial: it finishes when running."""
    draft = create_campaign(session, users["mgr"], clock=clock, name="草稿",
                            agent_ids=[users["tm"].id])
    paused = running()
    change_status(session, users["mgr"], paused.id, "pause", clock=clock)
    empty = running()
    session.commit()
    assert not finish(session, draft, clock) and not finish(session, paused, clock)
    assert (status(session, draft), status(session, paused)) == ("draft", "paused")
    assert finish(session, empty, clock)


def test_a_finished_campaign_starts_again_only_with_new_leads(session, users, running, clock,
                                                              make_customer):
    mgr = users["mgr"]
    first = make_customer(mobile="13800138041")
    c = running()
    call(session, c, clock, cause=1)
    assert finish(session, c, clock)
    # agents cannot join it meanwhile
    with pytest.raises(DomainError) as refused:
        set_state(session, users["tm"], "ready", campaign_id=c.id, clock=clock)
    assert refused.value.key == "agent_state.campaign_closed"
    session.rollback()
    # nothing new: refused, and nothing changed
    with pytest.raises(DomainError) as refused:
        change_status(session, mgr, c.id, "start", clock=clock)
    assert refused.value.key == "campaign.nothing_to_dial"
    assert "没有可拨打" in refused.value.message()
    session.commit()
    assert status(session, c) == "finished"
    # a new customer matches (its settings may change too): started again, the new lead queued
    update_campaign(session, mgr, c.id, clock=clock, ring_timeout_s=30)
    second = make_customer(mobile="13800138042")
    assert change_status(session, mgr, c.id, "start", clock=clock).status == "running"
    session.commit()
    assert lead_statuses(session, c) == {first.id: "dead", second.id: "queued"}
    assert status(session, c) == "running"
    # and it can be stopped for good once finished again
    call(session, c, clock, cause=1)
    assert finish(session, c, clock)
    assert change_status(session, mgr, c.id, "stop", clock=clock).status == "stopped"
    session.commit()
    for action in ("start", "pause"):
        with pytest.raises(DomainError):
            change_status(session, mgr, c.id, action, clock=clock)
        session.rollback()


# -- the dialer --------------------------------------------------------------------------------

START = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 in Shanghai


def test_the_dialer_finishes_a_campaign_it_dialled_through(Session, users, monkeypatch):
    """Against the PBX simulator: one number answers, one is unallocated; once both are
    settled the dialer marks the campaign finished and places no more calls."""
    clock = FakeClock(START)
    finished_at = []
    real_finish = campaigns.finish_if_done

    def noted(s, campaign_id, **kw):
        done = real_finish(s, campaign_id, **kw)
        if done:
            finished_at.append(clock.now())
        return done
    monkeypatch.setattr(campaigns, "finish_if_done", noted)
    numbers = {"+8613800130007": "answer", "+8613800130003": "unallocated"}
    with Session() as s:
        admin = s.merge(users["admin"])
        for n, number in enumerate(numbers):
            s.add(Customer(name=f"完成客户{n}", ownership="shared", stage="target",
                           mobile=number[3:], mobile_e164=number, created_at=clock.now(),
                           updated_at=clock.now()))
        s.flush()
        team = [s.merge(users["tm"]), s.merge(users["tm2"])]
        campaign = campaigns.create_campaign(s, admin, clock=clock, name="拨完即止",
                                             mode="progressive", filter_stage="target",
                                             agent_ids=[u.id for u in team])
        campaigns.change_status(s, admin, campaign.id, "start", clock=clock)
        for user in team:
            agent_states.set_state(s, user, "ready", campaign_id=campaign.id, clock=clock)
        campaign_id = campaign.id
        s.commit()
    scenario = Scenario(numbers=numbers, timing={"answer": {
        "ring_time": 3.0, "answer_delay": 0.0, "talk_time": 40.0}})
    server = AMIServer(scenario=scenario, clock=clock).start()
    ami = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret",
                    events="call,user", reconnect=False)
    try:
        dialer = Dialer(Session, ami, clock=clock, dialer_id="finisher",
                        trunk="Local/{number}@out", route_answers=True)
        dialer.attach()
        driver = Driver(dialer, server, ami, clock,
                        SimulatedAgents(Session, clock, campaign_id, 20.0))
        ami.connect()
        driver.run_until(START.timestamp() + 30)
        with Session() as s:     # the answered call is still going
            assert s.get(Campaign, campaign_id).status == "running"
        driver.run_until(START.timestamp() + 120)
        with Session() as s:
            assert s.get(Campaign, campaign_id).status == "finished"
            ended = s.scalars(select(DialAttempt.ended_at)
                              .where(DialAttempt.campaign_id == campaign_id)).all()
        assert len(ended) == 2 and None not in ended
        assert campaign_id not in dialer.campaigns
        assert len(server.actions("Originate")) == 2
        # once, within one campaign refresh of the last call's end
        assert len(finished_at) == 1
        assert max(ended) <= finished_at[0] <= \
            max(ended) + dt.timedelta(seconds=CAMPAIGN_REFRESH_SECONDS)
    finally:
        ami.close()
        server.stop()


# -- the pages --------------------------------------------------------------------------------

@pytest.fixture
def client_of(as_user, session):
    return committing(as_user, session)


def test_the_pages_show_a_finished_campaign_and_restart_it(session, users, running, clock,
                                                           make_customer, client_of):
    make_customer(mobile="13800138051")
    c = running()
    call(session, c, clock, cause=1)
    assert finish(session, c, clock)
    mgr = client_of("mgr")
    page = mgr.get(f"/campaigns/{c.id}").get_data(as_text=True)
    assert 'id="campaign-status">已完成<' in page
    assert 'id="campaign-start"' in page and 'id="campaign-stop"' in page
    assert 'id="campaign-pause"' not in page
    report = mgr.get(f"/campaigns/{c.id}/report").get_data(as_text=True)
    assert 'id="campaign-status">已完成<' in report
    listing = mgr.get("/campaigns").get_data(as_text=True)
    assert "已完成" in listing
    # nothing new to dial: refused with the reason, still finished
    response = post(mgr, f"/campaigns/{c.id}/status", {"action": "start"},
                    headers={"Referer": f"/campaigns/{c.id}"})
    assert response.status_code == 302
    assert "没有可拨打的客户" in mgr.get(f"/campaigns/{c.id}").get_data(as_text=True)
    assert status(session, c) == "finished"
    make_customer(mobile="13800138052")
    response = post(mgr, f"/campaigns/{c.id}/status", {"action": "start"})
    assert response.status_code == 302
    assert status(session, c) == "running"
    page = mgr.get(f"/campaigns/{c.id}").get_data(as_text=True)
    assert 'id="campaign-status">进行中<' in page


def test_the_dialers_look_for_a_finished_campaign_stays_within_its_python_budget(
        session, running, clock, make_customer):
    """The dialer asks every few seconds whether each running campaign is done: the question is
    a statement built once (building its NOT EXISTS each time cost three times the answer)."""
    from tests.python_calls import python_calls
    make_customer(mobile="13800138001", stage="target")
    campaign = running()
    refresh_leads(session, campaign, clock=clock)
    session.commit()
    costs = [python_calls(lambda: finish_if_done(session, campaign.id, clock=clock)) for _ in range(3)]
    assert status(session, campaign) == "running"
    assert max(costs[1:]) <= 300, costs   # about 180-210; 1,550-1,600 built each time
