"""refresh_leads takes out of the hopper the waiting leads whose customer no longer matches the
campaign's filter (promoted, archived, claimed by a salesperson, moved by a saved query), keeps
every lead that has been or is being dialled as it is, and puts a removed lead back when its
customer matches again."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from models.crm.customers import delete_customer, update_customer
from models.crm.ownership import claim
from models.crm.stages import demote, promote
from models.dialer.campaigns import change_status, create_campaign, refresh_leads
from models.dialer.dialing import finish_attempt, pick_leads
from models.schema import CampaignLead, DialAttempt


@pytest.fixture
def running(session, users, clock):
    """running(**fields) -> a started campaign (tm on its team), leads refreshed."""
    counter = iter(range(1, 1000))

    def make(**fields):
        fields.setdefault("name", "刷新活动%d" % next(counter))
        c = create_campaign(session, users["mgr"], clock=clock, agent_ids=[users["tm"].id],
                            **fields)
        change_status(session, users["mgr"], c.id, "start", clock=clock)
        session.commit()
        return c
    return make


def leads(session, campaign):
    """customer id -> (status, attempts, last outcome, next attempt at)."""
    rows = session.execute(
        select(CampaignLead.customer_id, CampaignLead.status, CampaignLead.attempts,
               CampaignLead.last_outcome, CampaignLead.next_attempt_at)
        .where(CampaignLead.campaign_id == campaign.id)
        .execution_options(populate_existing=True)).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def dial_once(session, campaign, clock, customer, *, cause, amd=None):
    """Pick the customer's lead (it must be the only one due) and end the call with `cause`
    (16: answered)."""
    attempts = pick_leads(session, campaign.id, 1, dialer_id="d1", clock=clock)
    assert [a.customer_id for a in attempts] == [customer.id]
    session.commit()
    clock.advance(seconds=30)
    finish_attempt(session, attempts[0].channel_id, reason=0 if cause != 16 else 4, cause=cause,
                   amd=amd, clock=clock)
    session.commit()
    return attempts[0]


def test_waiting_leads_of_customers_that_left_the_filter_are_removed(
        session, users, running, clock, make_customer):
    admin = users["admin"]
    stays = make_customer(mobile="13800138000", owner=None)
    promoted = make_customer(mobile="13800138001", owner=None)
    archived = make_customer(mobile="13800138002", owner=None)
    claimed = make_customer(mobile="13800138003", owner=None)
    deleted = make_customer(mobile="13800138004", owner=None)
    c = running(filter_stage="target", filter_ownership="shared")
    assert {k: v[0] for k, v in leads(session, c).items()} == dict.fromkeys(
        (stays.id, promoted.id, archived.id, claimed.id, deleted.id), "queued")

    promote(session, admin, promoted.id, "potential", clock=clock)
    demote(session, admin, archived.id, None, clock=clock)
    claim(session, users["rep"], claimed.id, clock=clock)    # now rep's personal customer
    delete_customer(session, admin, deleted.id)
    session.commit()
    assert refresh_leads(session, c, clock=clock) == 0
    session.commit()
    assert {k: v[0] for k, v in leads(session, c).items()} == {
        stays.id: "queued", promoted.id: "removed", archived.id: "removed",
        claimed.id: "removed"}      # a deleted customer's lead goes with it
    # removed leads are never dialled; the one still matching is
    attempts = pick_leads(session, c.id, 10, dialer_id="d1", clock=clock)
    assert [a.customer_id for a in attempts] == [stays.id]
    # a second refresh changes nothing
    session.rollback()
    before = leads(session, c)
    refresh_leads(session, c, clock=clock)
    assert leads(session, c) == before


def test_leads_with_history_keep_it(session, users, running, clock, make_customer):
    admin = users["admin"]
    retry = make_customer(mobile="13800138010", owner=None)
    c = running(filter_stage="target", retry_rules={"busy": {"delay_min": 10, "max": 3}})
    busy = dial_once(session, c, clock, retry, cause=17)
    due = busy.ended_at + dt.timedelta(minutes=10)
    assert leads(session, c)[retry.id] == ("queued", 1, "busy", due)

    machine = make_customer(mobile="13800138011", owner=None)
    dead = make_customer(mobile="13800138012", owner=None)
    refresh_leads(session, c, clock=clock)
    session.commit()
    dial_once(session, c, clock, machine, cause=16, amd="machine")   # message left: done
    dial_once(session, c, clock, dead, cause=1)
    for customer in (retry, machine, dead):
        promote(session, admin, customer.id, "opportunity", clock=clock)
    session.commit()
    refresh_leads(session, c, clock=clock)
    session.commit()
    # the retry no longer waits; the others keep how they ended
    assert leads(session, c) == {retry.id: ("removed", 1, "busy", due),
                                 machine.id: ("done", 1, "machine", None),
                                 dead.id: ("dead", 1, "unallocated", None)}
    assert session.scalar(select(DialAttempt.outcome).where(DialAttempt.id == busy.id)) == "busy"

    # back in the filter: queued again with its history, still due when it was
    demote(session, admin, retry.id, "target", clock=clock)
    session.commit()
    assert refresh_leads(session, c, clock=clock) == 0      # not a new lead
    session.commit()
    assert leads(session, c)[retry.id] == ("queued", 1, "busy", due)
    assert pick_leads(session, c.id, 5, dialer_id="d1", clock=clock) == []   # not due yet
    clock.set(due)
    assert [a.customer_id for a in pick_leads(session, c.id, 5, dialer_id="d1", clock=clock)] \
        == [retry.id]


def test_a_lead_being_dialled_is_left_alone_until_its_call_ends(
        session, users, running, clock, make_customer):
    customer = make_customer(mobile="13800138020", owner=None)
    c = running(filter_stage="target")
    attempt = pick_leads(session, c.id, 1, dialer_id="d1", clock=clock)[0]
    session.commit()
    promote(session, users["admin"], customer.id, "potential", clock=clock)
    session.commit()
    refresh_leads(session, c, clock=clock)
    session.commit()
    assert leads(session, c)[customer.id][0] == "dialling"
    # the call ends busy: the lead waits for a retry, and the next refresh takes it out
    finish_attempt(session, attempt.channel_id, reason=5, cause=17, clock=clock)
    session.commit()
    assert leads(session, c)[customer.id][0] == "queued"
    refresh_leads(session, c, clock=clock)
    session.commit()
    assert leads(session, c)[customer.id][:3] == ("removed", 1, "busy")


def test_a_queued_lead_with_an_open_attempt_is_not_removed(
        session, users, running, clock, make_customer):
    """Belt and braces: the open-attempt rule holds even if a lead's status says queued."""
    customer = make_customer(mobile="13800138021", owner=None)
    c = running(filter_stage="target")
    pick_leads(session, c.id, 1, dialer_id="d1", clock=clock)
    lead = session.scalar(select(CampaignLead).where(CampaignLead.customer_id == customer.id))
    lead.status = "queued"
    promote(session, users["admin"], customer.id, "potential", clock=clock)
    session.commit()
    refresh_leads(session, c, clock=clock)
    session.commit()
    assert leads(session, c)[customer.id][0] == "queued"


def test_the_saved_query_decides_too(session, users, running, clock, make_customer):
    shanghai = make_customer(mobile="13800138030", city="上海")
    moved = make_customer(mobile="13800138031", city="上海")
    c = running(filter_query={"field": "city", "op": "eq", "value": "上海"})
    assert set(leads(session, c)) == {shanghai.id, moved.id}
    update_customer(session, users["admin"], moved.id, {"city": "北京"}, clock=clock)
    session.commit()
    refresh_leads(session, c, clock=clock)
    session.commit()
    assert {k: v[0] for k, v in leads(session, c).items()} == {shanghai.id: "queued",
                                                               moved.id: "removed"}


def test_other_campaigns_leads_are_untouched(session, users, running, clock, make_customer):
    customer = make_customer(mobile="13800138040", owner=None)
    targets = running(filter_stage="target")
    anyone = running()
    promote(session, users["admin"], customer.id, "potential", clock=clock)
    session.commit()
    refresh_leads(session, targets, clock=clock)
    session.commit()
    assert leads(session, targets)[customer.id][0] == "removed"
    assert leads(session, anyone)[customer.id][0] == "queued"
