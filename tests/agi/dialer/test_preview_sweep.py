"""Previews nobody will dial go back to the hopper: held past the limit (the agent closed the
browser), held by an agent taken off the team or deactivated, or held by nobody. No attempt is
counted. The dialer runs the sweep once a minute by its clock."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from agi.dialer.engine import PREVIEW_SWEEP_SECONDS, Dialer
from models.dialer import preview
from models.dialer.agent_states import current, set_state
from models.dialer.campaigns import change_status, create_campaign, set_team
from models.dialer.preview import (
    HOLD_LIMIT,
    claim_dial_requests,
    preview_next,
    request_dial,
    sweep_held_previews,
)
from models.errors import NotFound
from models.schema import AgentState, CampaignLead, DialAttempt, User


@pytest.fixture
def campaign(session, users, clock, make_customer):
    """A running preview campaign with tm and tm2 (both ready) and two customers."""
    users["tm"].extension, users["tm2"].extension = "8001", "8002"
    make_customer(mobile="13900000101")
    make_customer(mobile="13900000102")
    c = create_campaign(session, users["mgr"], clock=clock, name="预览回收", mode="preview",
                        agent_ids=[users["tm"].id, users["tm2"].id])
    change_status(session, users["mgr"], c.id, "start", clock=clock)
    for agent in (users["tm"], users["tm2"]):
        set_state(session, agent, "ready", campaign_id=c.id, clock=clock)
    session.commit()
    return c


def state(session, agent):
    session.expire_all()
    me = current(session, agent.id)
    return me.state, me.reason, me.attempt_id


def lead(session, attempt_or_customer_id):
    customer_id = getattr(attempt_or_customer_id, "customer_id", attempt_or_customer_id)
    row = session.execute(select(CampaignLead.status, CampaignLead.attempts,
                                 CampaignLead.last_attempt_at, CampaignLead.next_attempt_at)
                          .where(CampaignLead.customer_id == customer_id)).one()
    return tuple(row)


def open_attempts(session):
    return session.scalar(select(func.count()).select_from(DialAttempt))


def sweep(session, clock, **kw):
    released = sweep_held_previews(session, clock=clock, **kw)
    session.commit()
    return released


def test_a_preview_held_past_the_limit_goes_back(session, users, campaign, clock):
    tm, tm2 = users["tm"], users["tm2"]
    attempt = preview_next(session, tm, campaign.id, clock=clock)
    session.commit()
    customer_id = attempt.customer_id
    clock.advance(seconds=HOLD_LIMIT.total_seconds() - 1)
    assert sweep(session, clock) == 0
    assert state(session, tm) == ("on_call", "preview", attempt.id)
    clock.advance(seconds=1)
    assert sweep(session, clock) == 1
    # the agent is ready again, the attempt never happened, the lead is due at once
    assert state(session, tm) == ("ready", None, None)
    assert open_attempts(session) == 0
    assert lead(session, attempt) == ("queued", 0, None, clock.now())
    with pytest.raises(NotFound):
        request_dial(session, tm, attempt.id, clock=clock)
    session.rollback()
    again = preview_next(session, tm2, campaign.id, clock=clock)
    session.commit()
    assert again.customer_id == customer_id
    assert sweep(session, clock) == 0


def test_the_limit_runs_from_the_agents_last_step_and_a_claimed_dial_stays(
        session, users, campaign, clock):
    tm, tm2 = users["tm"], users["tm2"]
    asked = preview_next(session, tm, campaign.id, clock=clock)
    dialled = preview_next(session, tm2, campaign.id, clock=clock)
    session.commit()
    clock.advance(minutes=9)
    request_dial(session, tm2, dialled.id, clock=clock)
    assert len(claim_dial_requests(session, campaign.id, "d1", clock=clock)) == 1
    request_dial(session, tm, asked.id, clock=clock)       # no dialer took this one
    session.commit()
    clock.advance(minutes=9)        # 18 min after the preview, 9 after the dial request
    assert sweep(session, clock) == 0
    clock.advance(minutes=1)
    assert sweep(session, clock) == 1
    assert state(session, tm) == ("ready", None, None)
    assert lead(session, asked)[:2] == ("queued", 0)
    clock.advance(hours=2)          # being dialled: never swept
    assert sweep(session, clock) == 0
    assert state(session, tm2) == ("on_call", "dialling", dialled.id)
    assert lead(session, dialled)[:2] == ("dialling", 1)


def test_the_limit_can_be_given(session, users, campaign, clock):
    attempt = preview_next(session, users["tm"], campaign.id, clock=clock)
    session.commit()
    clock.advance(minutes=2)
    assert sweep(session, clock, limit=dt.timedelta(minutes=3)) == 0
    assert sweep(session, clock, limit=dt.timedelta(minutes=2)) == 1
    assert lead(session, attempt)[:2] == ("queued", 0)


def test_an_agent_off_the_team_or_deactivated_gives_the_preview_back_at_once(
        session, users, campaign, clock):
    tm, tm2 = users["tm"], users["tm2"]
    first = preview_next(session, tm, campaign.id, clock=clock)
    second = preview_next(session, tm2, campaign.id, clock=clock)
    session.commit()
    assert sweep(session, clock) == 0
    set_team(session, users["mgr"], campaign.id, [tm2.id])
    session.commit()
    assert sweep(session, clock) == 1
    assert state(session, tm) == ("logged_out", None, None)
    assert current(session, tm.id).campaign_id is None
    assert lead(session, first)[:2] == ("queued", 0)
    assert state(session, tm2) == ("on_call", "preview", second.id)
    session.get(User, tm2.id).active = False
    session.commit()
    assert sweep(session, clock) == 1
    assert state(session, tm2) == ("logged_out", None, None)
    assert lead(session, second)[:2] == ("queued", 0)
    assert open_attempts(session) == 0


def test_a_preview_held_by_nobody_goes_back(session, users, campaign, clock):
    """The agent's row no longer points at the attempt (it was reset by hand, or the agent
    moved on without the release): the attempt is an orphan."""
    tm = users["tm"]
    attempt = preview_next(session, tm, campaign.id, clock=clock)
    session.commit()
    session.execute(update(AgentState).where(AgentState.user_id == tm.id)
                    .values(state="logged_out", campaign_id=None, reason=None, attempt_id=None))
    session.commit()
    assert sweep(session, clock) == 1
    assert state(session, tm) == ("logged_out", None, None)    # left as it was
    assert lead(session, attempt) == ("queued", 0, None, clock.now())


def test_a_dialler_claim_during_the_sweep_wins_cleanly(session, users, campaign, clock,
                                                      monkeypatch):
    """The dialer claims the dial between the sweep's read and its move: the sweep gives up,
    the call goes ahead."""
    tm = users["tm"]
    attempt = preview_next(session, tm, campaign.id, clock=clock)
    session.commit()
    clock.advance(minutes=5)
    request_dial(session, tm, attempt.id, clock=clock)
    session.commit()
    clock.advance(minutes=11)
    real_current = preview.current

    def claim_first(s, user_id):
        seen = real_current(s, user_id)
        assert [d.attempt_id for d in claim_dial_requests(s, campaign.id, "d1", clock=clock)] \
            == [attempt.id]
        return seen
    monkeypatch.setattr(preview, "current", claim_first)
    assert sweep(session, clock) == 0
    monkeypatch.undo()
    assert state(session, tm) == ("on_call", "dialling", attempt.id)
    assert session.scalar(select(DialAttempt.dialer_id).where(DialAttempt.id == attempt.id)) \
        == "d1"
    assert lead(session, attempt)[:2] == ("dialling", 1)


def test_the_dialer_sweeps_once_a_minute(Session, session, users, campaign, clock, monkeypatch):
    calls = []
    real = preview.sweep_held_previews

    def counted(s, **kw):
        calls.append(clock.now())
        return real(s, **kw)
    monkeypatch.setattr(preview, "sweep_held_previews", counted)
    dialer = Dialer(Session, ami=object(), clock=clock, dialer_id="sweeper")
    start = clock.now()
    customer_id = preview_next(session, users["tm"], campaign.id, clock=clock).customer_id
    session.commit()
    released_at = None
    end = start + HOLD_LIMIT + dt.timedelta(minutes=1)
    while clock.now() <= end:              # a tick every 10 s
        dialer.tick()
        if released_at is None and open_attempts(session) == 0:
            released_at = clock.now()
        session.rollback()
        clock.advance(seconds=10)
    every = dt.timedelta(seconds=PREVIEW_SWEEP_SECONDS)
    assert calls == [start + i * every for i in range(12)]     # minutes 0 to 11
    # given back by the first sweep at or after the limit
    assert released_at == start + HOLD_LIMIT
    assert lead(session, customer_id) == ("queued", 0, None, start + HOLD_LIMIT)
    assert state(session, users["tm"]) == ("ready", None, None)
