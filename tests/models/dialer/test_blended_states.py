"""One state for inbound and outbound (issue 14): queue logins, a pause that holds both the
dialer and the queues, a queue call that keeps the dialer away until its wrap-up is done."""
from __future__ import annotations

import pytest

from models.dialer.agent_states import (
    current,
    inbound_connected,
    inbound_ended,
    set_queues,
    set_state,
    take_ready_agent,
)
from models.dialer.queue_logins import Member, desired_members, queues_of
from models.dialer.pause_codes import update_code
from models.errors import DomainError, InvalidValue

from tests.models.dialer.test_agent_states import make_attempt, make_campaign

QUEUES = ("sales", "service")


@pytest.fixture
def tm(session, users):
    users["tm"].extension = "8001"
    update_code(session, "meal", dict(label_zh="午饭", label_en="Lunch", active=True))  # the admin's words
    session.commit()
    return users["tm"]


def test_queue_login_alone_makes_the_agent_ready_and_a_member(session, tm, clock):
    assert set_queues(session, tm, ["sales"], allowed=QUEUES, clock=clock).state == "ready"
    assert desired_members(session) == [Member("sales", "PJSIP/8001", "李红光", False, "")]
    with pytest.raises(InvalidValue) as e:
        set_queues(session, tm, ["sales", "vip"], allowed=QUEUES, clock=clock)
    assert e.value.key == "agent_state.unknown_queue" and queues_of(session, tm.id) == ["sales"]
    assert set_queues(session, tm, [], allowed=QUEUES, clock=clock).state == "logged_out"
    assert desired_members(session) == []


def test_blended_pause_holds_the_dialer_and_the_queues(session, tm, users, clock):
    campaign = make_campaign(session, clock, [tm])
    set_queues(session, tm, ["sales", "service"], allowed=QUEUES, clock=clock)
    now = set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)
    assert (now.state, now.campaign_id) == ("ready", campaign.id)
    set_state(session, tm, "paused", reason="meal", clock=clock)
    assert {(m.queue, m.paused, m.reason) for m in desired_members(session)} == {
        ("sales", True, "午饭"), ("service", True, "午饭")}
    assert take_ready_agent(session, make_attempt(session, clock, campaign), clock=clock) is None
    set_state(session, tm, "ready", clock=clock)
    assert not any(m.paused for m in desired_members(session))
    assert take_ready_agent(session, make_attempt(session, clock, campaign), clock=clock).id == tm.id
    assert {(m.paused, m.reason) for m in desired_members(session)} == {(True, "on_call")}


def test_a_queue_call_keeps_the_dialer_away_until_its_wrap_up_ends(session, tm, clock):
    campaign = make_campaign(session, clock, [tm])
    set_queues(session, tm, ["sales"], allowed=QUEUES, clock=clock)
    set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)
    assert inbound_connected(session, tm.id, clock=clock)
    assert current(session, tm.id)[:3] == ("on_call", campaign.id, "inbound")
    assert not inbound_connected(session, tm.id, clock=clock)       # one call at a time
    assert take_ready_agent(session, make_attempt(session, clock, campaign), clock=clock) is None
    assert inbound_ended(session, tm.id, clock=clock)
    assert not inbound_ended(session, tm.id, clock=clock)           # idempotent
    assert current(session, tm.id).state == "wrap_up"
    assert take_ready_agent(session, make_attempt(session, clock, campaign), clock=clock) is None
    assert [m.reason for m in desired_members(session)] == ["wrap_up"]
    set_state(session, tm, "ready", clock=clock)                     # no disposition for a queue call
    assert take_ready_agent(session, make_attempt(session, clock, campaign), clock=clock).id == tm.id


def test_an_outbound_call_is_not_taken_over_by_a_queue_event(session, tm, clock):
    campaign = make_campaign(session, clock, [tm])
    set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)
    attempt = make_attempt(session, clock, campaign)
    take_ready_agent(session, attempt, clock=clock)
    assert not inbound_connected(session, tm.id, clock=clock)
    assert current(session, tm.id).attempt_id == attempt.id


def test_logging_out_ends_the_queue_logins_too(session, tm, clock):
    campaign = make_campaign(session, clock, [tm])
    set_queues(session, tm, ["sales"], allowed=QUEUES, clock=clock)
    set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)
    set_state(session, tm, "logged_out", clock=clock)
    assert queues_of(session, tm.id) == [] and desired_members(session) == []


def test_without_a_queue_a_campaign_is_still_required(session, tm, clock):
    with pytest.raises(DomainError) as e:
        set_state(session, tm, "ready", clock=clock)
    assert e.value.key == "agent_state.campaign_required"


def test_a_queue_agent_may_join_a_campaign_but_not_switch_campaigns(session, tm, clock):
    first = make_campaign(session, clock, [tm])
    second = make_campaign(session, clock, [tm])
    set_queues(session, tm, ["sales"], allowed=QUEUES, clock=clock)
    set_state(session, tm, "ready", campaign_id=first.id, clock=clock)
    with pytest.raises(DomainError) as e:
        set_state(session, tm, "ready", campaign_id=second.id, clock=clock)
    assert e.value.key == "agent_state.other_campaign"
