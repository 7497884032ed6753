"""Who may listen to / whisper to / barge into whose call (models/telephony/supervision.py),
and the log of every use."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from models.errors import DomainError, PermissionDenied
from models.schema import Campaign, CampaignAgent
from models.schema.supervision import SpySession
from models.telephony import calls, supervision
from models.telephony.calls import Chan

CALLER = Chan("PJSIP/carrier-00000001", "1700.1", "1700.1", 4, "13800138000", None,
              "dialfunnel-inbound", "4008001234")
AGENT = Chan("PJSIP/8001-00000002", "1700.2", "1700.1", 0, "8001", None, "dialfunnel-agents", "s")


def live_call(session, clock, *, answered=True):
    now = clock.now()
    calls.channel_seen(session, CALLER, now)
    calls.dial_begin(session, CALLER, AGENT, now)
    if answered:
        calls.dial_end(session, CALLER, AGENT, "ANSWER", now + dt.timedelta(seconds=3))
    session.commit()


def team(session, clock, manager, *agents, created_by=True):
    campaign = Campaign(name=f"c-{manager.username}", created_at=clock.now(),
                        created_by_id=manager.id if created_by else None)
    session.add(campaign)
    session.flush()
    for user in agents:
        session.add(CampaignAgent(campaign_id=campaign.id, user_id=user.id))
    session.commit()
    return campaign


@pytest.fixture
def floor(session, users, clock):
    users["tm"].extension = "8001"
    users["mgr"].extension = "8009"
    users["admin"].extension = "8010"
    session.commit()
    return users


def test_a_manager_whispers_to_an_agent_of_the_team_and_it_is_logged(session, floor, clock):
    team(session, clock, floor["mgr"], floor["tm"])
    live_call(session, clock)
    row = supervision.request_spy(session, floor["mgr"], floor["tm"].id, "whisper", clock)
    session.commit()
    [logged] = session.scalars(select(SpySession)).all()
    assert logged.id == row.id
    assert (logged.manager_id, logged.agent_id, logged.mode, logged.state, logged.manager_extension,
            logged.agent_channel, logged.requested_at) == (
        floor["mgr"].id, floor["tm"].id, "whisper", "queued", "8009", "PJSIP/8001-00000002",
        clock.now())
    assert logged.call_id == calls.find_call(session, "1700.1").id


def test_a_manager_on_the_campaign_team_may_supervise_its_agents(session, floor, clock):
    team(session, clock, floor["admin"], floor["tm"], floor["mgr"], created_by=False)
    live_call(session, clock)
    assert supervision.request_spy(session, floor["mgr"], floor["tm"].id, "listen", clock).mode == "listen"


def test_a_whisper_on_a_call_of_another_team_is_refused(session, floor, clock):
    team(session, clock, floor["admin"], floor["tm"])          # not the manager's campaign
    team(session, clock, floor["mgr"], floor["tm2"])
    live_call(session, clock)
    with pytest.raises(PermissionDenied) as refused:
        supervision.request_spy(session, floor["mgr"], floor["tm"].id, "whisper", clock)
    assert refused.value.key == "spy.not_your_team"
    assert "团队" in refused.value.message()
    assert session.scalars(select(SpySession)).all() == []


def test_an_admin_may_supervise_everyone(session, floor, clock):
    live_call(session, clock)
    assert supervision.request_spy(session, floor["admin"], floor["tm"].id, "barge", clock).state == "queued"


def test_a_telemarketer_may_supervise_nobody(session, floor, clock):
    team(session, clock, floor["tm2"], floor["tm"])
    live_call(session, clock)
    with pytest.raises(PermissionDenied):
        supervision.request_spy(session, floor["tm2"], floor["tm"].id, "listen", clock)


@pytest.mark.parametrize("answered", [False, None])
def test_an_agent_not_on_a_live_call_is_refused(session, floor, clock, answered):
    team(session, clock, floor["mgr"], floor["tm"])
    if answered is False:
        live_call(session, clock, answered=False)    # still ringing
    with pytest.raises(DomainError) as refused:
        supervision.request_spy(session, floor["mgr"], floor["tm"].id, "listen", clock)
    assert refused.value.key == "spy.not_on_call"


def test_an_ended_call_is_not_live(session, floor, clock):
    team(session, clock, floor["mgr"], floor["tm"])
    live_call(session, clock)
    calls.channel_ended(session, AGENT, 16, clock.now())
    session.commit()
    with pytest.raises(DomainError, match="spy.not_on_call"):
        supervision.request_spy(session, floor["mgr"], floor["tm"].id, "listen", clock)


def test_a_manager_without_an_extension_and_a_bad_mode_are_refused(session, floor, clock):
    team(session, clock, floor["mgr"], floor["tm"])
    live_call(session, clock)
    with pytest.raises(DomainError, match="spy.bad_mode"):
        supervision.request_spy(session, floor["mgr"], floor["tm"].id, "qB,x", clock)
    floor["mgr"].extension = None
    with pytest.raises(DomainError, match="spy.no_extension"):
        supervision.request_spy(session, floor["mgr"], floor["tm"].id, "listen", clock)


def test_a_request_is_claimed_once_then_started_and_ended(Session, session, floor, clock):
    team(session, clock, floor["mgr"], floor["tm"])
    live_call(session, clock)
    supervision.request_spy(session, floor["mgr"], floor["tm"].id, "listen", clock)
    session.commit()
    with Session() as one, Session() as two:
        first = supervision.claim_spy_requests(one, "d1", lambda i: f"spy-{i}", clock=clock)
        one.commit()
        second = supervision.claim_spy_requests(two, "d2", lambda i: f"spy-{i}-b", clock=clock)
        two.commit()
    assert [(r.state, r.dialer_id, r.channel_id) for r in first] == [("ringing", "d1", "spy-1")]
    assert second == []
    supervision.spy_started(session, "spy-1", clock)
    clock.advance(seconds=30)
    row = supervision.spy_ended(session, "spy-1", "hangup", clock)
    session.commit()
    assert (row.state, row.ended_at - row.started_at, row.end_reason) == ("ended", dt.timedelta(seconds=30), "hangup")
    assert supervision.spy_ended(session, "spy-1", "again", clock).end_reason == "hangup"


def test_a_phone_that_never_answered_fails(session, floor, clock):
    team(session, clock, floor["mgr"], floor["tm"])
    live_call(session, clock)
    supervision.request_spy(session, floor["mgr"], floor["tm"].id, "listen", clock)
    supervision.claim_spy_requests(session, "d1", lambda i: "spy-x", clock=clock)
    row = supervision.spy_ended(session, "spy-x", "noanswer", clock)
    assert (row.state, row.started_at) == ("failed", None)
