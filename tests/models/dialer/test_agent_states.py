"""Agents' dialer states: legal moves, spans, team membership, and taking the longest-ready
agent atomically (threads racing on SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from sqlalchemy import select

from models.dialer import agent_states
from models.dialer.agent_states import (
    agent_snapshot,
    call_ended,
    current,
    set_state,
    take_ready_agent,
    team_states,
)
from models.errors import DomainError, NotFound, PermissionDenied
from models.schema import AgentStateLog, Campaign, CampaignAgent, DialAttempt, Event

NUMBERS = iter(range(10 ** 6))


def make_campaign(session, clock, team=(), *, name=None, status="running", mode="predictive"):
    """A campaign row with its team (tests build the rows themselves)."""
    campaign = Campaign(name=name or f"活动{next(NUMBERS)}", status=status, mode=mode,
                        created_at=clock.now(), retry_rules={})
    session.add(campaign)
    session.flush()
    for user in team:
        session.add(CampaignAgent(campaign_id=campaign.id, user_id=user.id))
    session.commit()
    return campaign


def make_attempt(session, clock, campaign, *, customer=None, number=None, ended=False,
                 outcome=None, started=None, talk=0.0, agent=None, **kw):
    start = started or clock.now()
    kw.setdefault("dialer_id", "d1")  # placed by a dialer (a preview not yet dialled has none)
    attempt = DialAttempt(campaign_id=campaign.id, customer_id=customer.id if customer else None,
                          number=number or f"+86139{next(NUMBERS):08d}",
                          channel_id=str(uuid.uuid4()), started_at=start, talk_seconds=talk,
                          agent_id=agent.id if agent else None, outcome=outcome,
                          ended_at=(start + dt.timedelta(seconds=30 + talk)) if ended else None,
                          **kw)
    session.add(attempt)
    session.commit()
    return attempt


@pytest.fixture
def team(session, users):
    return [users["tm"], users["tm2"]]


@pytest.fixture
def campaign(session, clock, team):
    return make_campaign(session, clock, team)


def spans(session, user):
    return session.execute(select(AgentStateLog.state, AgentStateLog.reason,
                                  AgentStateLog.disposition, AgentStateLog.started_at,
                                  AgentStateLog.ended_at)
                           .where(AgentStateLog.user_id == user.id)
                           .order_by(AgentStateLog.id)).all()


def test_a_shift_writes_one_span_per_state(session, users, campaign, clock, make_customer):
    tm = users["tm"]
    customer = make_customer("外呼客户", phone="13900001111")
    set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)
    clock.advance(seconds=40)
    set_state(session, tm, "paused", reason="meal", clock=clock)
    clock.advance(minutes=30)
    set_state(session, tm, "ready", clock=clock)
    clock.advance(seconds=5)
    attempt = make_attempt(session, clock, campaign, customer=customer, number="+8613900001111")
    assert take_ready_agent(session, attempt, clock=clock).id == tm.id
    clock.advance(seconds=90)
    assert call_ended(session, attempt, clock=clock) is True
    clock.advance(seconds=20)
    set_state(session, tm, "ready", disposition="interested", clock=clock)
    clock.advance(seconds=3)
    set_state(session, tm, "logged_out", clock=clock)
    session.commit()
    rows = spans(session, tm)
    assert [(r.state, r.reason, r.disposition) for r in rows] == [
        ("ready", None, None), ("paused", "meal", None), ("ready", None, None),
        ("on_call", None, None), ("wrap_up", None, "interested"), ("ready", None, None),
        ("logged_out", None, None)]
    durations = [(r.ended_at - r.started_at).total_seconds() for r in rows[:-1]]
    assert durations == [40, 1800, 5, 90, 20, 3]
    assert rows[-1].ended_at is None
    assert current(session, tm.id).state == "logged_out"


def test_illegal_moves_are_refused_and_change_nothing(session, users, campaign, clock):
    tm = users["tm"]
    with pytest.raises(DomainError) as err:
        set_state(session, tm, "ready", clock=clock)
    assert err.value.key == "agent_state.campaign_required"
    set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)
    for state, kw, key in (
            ("on_call", {}, "agent_state.illegal"),
            ("wrap_up", {}, "agent_state.illegal"),
            ("paused", {}, "agent_state.reason_required"),
            ("paused", dict(reason="nap"), "agent_state.reason_required"),
            ("dancing", {}, "agent_state.bad_state")):
        with pytest.raises(DomainError) as err:
            set_state(session, tm, state, clock=clock, **kw)
        assert err.value.key == key, state
    assert current(session, tm.id).state == "ready"
    assert len(spans(session, tm)) == 1
    # Ready again is a no-op (a double click), not a new span.
    set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)
    assert len(spans(session, tm)) == 1


def test_wrap_up_needs_a_disposition(session, users, campaign, clock):
    tm = users["tm"]
    set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)
    attempt = make_attempt(session, clock, campaign)
    take_ready_agent(session, attempt, clock=clock)
    with pytest.raises(DomainError) as err:
        set_state(session, tm, "ready", clock=clock)
    assert err.value.key == "agent_state.illegal"   # still on the call
    call_ended(session, attempt, clock=clock)
    assert call_ended(session, attempt, clock=clock) is False   # idempotent
    for kw, key in (({}, "agent_state.disposition_required"),
                    (dict(disposition="maybe"), "disposition.unknown")):
        with pytest.raises(DomainError) as err:
            set_state(session, tm, "ready", clock=clock, **kw)
        assert err.value.key == key
    with pytest.raises(DomainError) as err:
        set_state(session, tm, "paused", disposition="callback", clock=clock)
    assert err.value.key == "agent_state.reason_required"
    set_state(session, tm, "paused", disposition="callback", reason="paperwork", clock=clock)
    assert current(session, tm.id)[:3] == ("paused", campaign.id, "paperwork")
    assert spans(session, tm)[-2].disposition == "callback"


def test_only_the_team_may_join_and_not_a_closed_campaign(session, users, campaign, clock):
    with pytest.raises(PermissionDenied) as err:
        set_state(session, users["rep"], "ready", campaign_id=campaign.id, clock=clock)
    assert err.value.key == "agent_state.not_on_team"
    with pytest.raises(NotFound):
        set_state(session, users["tm"], "ready", campaign_id=campaign.id + 99, clock=clock)
    stopped = make_campaign(session, clock, [users["tm"]], status="stopped")
    with pytest.raises(DomainError) as err:
        set_state(session, users["tm"], "paused", reason="break", campaign_id=stopped.id,
                  clock=clock)
    assert err.value.key == "agent_state.campaign_closed"
    other = make_campaign(session, clock, [users["tm"]])
    set_state(session, users["tm"], "ready", campaign_id=campaign.id, clock=clock)
    with pytest.raises(DomainError) as err:
        set_state(session, users["tm"], "ready", campaign_id=other.id, clock=clock)
    assert err.value.key == "agent_state.other_campaign"
    assert spans(session, users["rep"]) == []


def test_longest_ready_agent_of_the_team_gets_the_call_with_a_pop(
        session, users, campaign, clock, make_customer):
    tm, tm2 = users["tm"], users["tm2"]
    customer = make_customer("弹屏客户", phone="13912345678", owner="tm2")
    other = make_campaign(session, clock, [users["mgr"]])
    set_state(session, users["mgr"], "ready", campaign_id=other.id, clock=clock)  # not this team
    set_state(session, tm2, "ready", campaign_id=campaign.id, clock=clock)
    clock.advance(seconds=10)
    set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)
    session.commit()
    attempt = make_attempt(session, clock, campaign, customer=customer, number="+8613912345678")
    clock.advance(seconds=1)
    agent = take_ready_agent(session, attempt, clock=clock)
    session.commit()
    assert agent.id == tm2.id
    assert attempt.agent_id == tm2.id and attempt.connected_at == clock.now()
    assert take_ready_agent(session, attempt, clock=clock).id == tm2.id  # same attempt: same agent
    assert current(session, tm2.id)[:4] == ("on_call", campaign.id, None, attempt.id)
    pop = session.scalar(select(Event).where(Event.user_id == tm2.id))
    assert pop.kind == "screen_pop"
    assert pop.payload["campaign"] == dict(id=campaign.id, name=campaign.name,
                                           attempt_id=attempt.id, customer_id=customer.id)
    assert pop.payload["customers"][0]["id"] == customer.id
    assert pop.payload["call"]["direction"] == "outbound"
    # Next call: tm (ready longer than nobody else); then nobody is left.
    second = make_attempt(session, clock, campaign)
    assert take_ready_agent(session, second, clock=clock).id == tm.id
    third = make_attempt(session, clock, campaign)
    assert take_ready_agent(session, third, clock=clock) is None
    assert third.agent_id is None and third.connected_at is None
    assert sorted(agent_snapshot(session, campaign.id)) == [
        (tm.id, "on_call", clock.now()), (tm2.id, "on_call", clock.now())]
    assert [(m.name, m.state) for m in team_states(session, campaign.id)] == [
        (tm.full_name, "on_call"), (tm2.full_name, "on_call")]
    assert [(m.user_id, m.state) for m in team_states(session, other.id)] == [
        (users["mgr"].id, "ready")]


def test_a_paused_or_inactive_agent_is_not_taken(session, users, campaign, clock):
    tm, tm2 = users["tm"], users["tm2"]
    set_state(session, tm, "paused", reason="break", campaign_id=campaign.id, clock=clock)
    set_state(session, tm2, "ready", campaign_id=campaign.id, clock=clock)
    tm2.active = False
    session.commit()
    assert take_ready_agent(session, make_attempt(session, clock, campaign), clock=clock) is None


def test_a_pause_racing_the_dialer_loses_cleanly(session, Session, users, campaign, clock):
    """The agent's page read "ready", then the dialer took them: the pause is refused."""
    tm = users["tm"]
    set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)
    session.commit()
    seen = current(session, tm.id)
    session.commit()
    with Session() as other:
        attempt = other.get(DialAttempt, make_attempt(other, clock, campaign).id)
        assert take_ready_agent(other, attempt, clock=clock).id == tm.id
        other.commit()
    assert seen.state == "ready"
    assert not agent_states._move(session, tm.id, seen, clock.now(), state="paused",
                                  campaign_id=campaign.id, reason="break")
    session.rollback()
    assert current(session, tm.id).state == "on_call"


@pytest.mark.parametrize("agents, calls", [(3, 8)])
def test_racing_dialers_take_each_agent_at_most_once(Session, session, users, clock, agents,
                                                     calls):
    from models.org.users import create_user
    team = [create_user(session, f"racer{i}", f"坐席{i}", "pw", "telemarketer", clock=clock)
            for i in range(agents)]
    session.commit()
    campaign = make_campaign(session, clock, team)
    for user in team:
        set_state(session, user, "ready", campaign_id=campaign.id, clock=clock)
        clock.advance(seconds=1)
    session.commit()
    attempt_ids = [make_attempt(session, clock, campaign).id for _ in range(calls)]
    barrier = threading.Barrier(calls)
    results, errors = {}, []

    def dial(attempt_id):
        try:
            with Session() as s:
                attempt = s.get(DialAttempt, attempt_id)
                s.commit()
                barrier.wait(5)
                agent = take_ready_agent(s, attempt, clock=clock)
                s.commit()
                results[attempt_id] = agent.id if agent else None
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=dial, args=(a,)) for a in attempt_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    taken = [uid for uid in results.values() if uid is not None]
    assert sorted(taken) == sorted(u.id for u in team)
    session.expire_all()
    rows = session.execute(select(DialAttempt.id, DialAttempt.agent_id)
                           .where(DialAttempt.agent_id.is_not(None))).all()
    assert sorted(r.agent_id for r in rows) == sorted(u.id for u in team)
    assert {r.id: r.agent_id for r in rows} == {a: u for a, u in results.items() if u}
    on_call = session.scalars(select(AgentStateLog.user_id).where(
        AgentStateLog.state == "on_call")).all()
    assert sorted(on_call) == sorted(u.id for u in team)
    pops = session.scalars(select(Event.user_id).where(Event.kind == "screen_pop")).all()
    assert sorted(pops) == sorted(u.id for u in team)
