"""The `outbound` FastAGI handler: a dialer call was answered. AMD on the live call, then a
ready agent of the campaign — over a real socket, the PBX simulator playing Asterisk."""
from __future__ import annotations

import shutil
import time

import pytest
from sqlalchemy import select

from agi.fastagi.server import FastAGIServer
from agi.handlers import outbound, registry
from agi.pbxsim.agi_driver import Scenario, run_call
from models.dialer import agent_states, campaigns, dialing
from models.schema import Customer, DialAttempt
from recordings.amd_corpus import generate


@pytest.fixture(scope="module")
def greetings(tmp_path_factory):
    missing = [t for t in ("espeak-ng", "sox") if not shutil.which(t)]
    assert not missing, f"missing {missing}: run scripts/system-deps.sh espeak-ng sox"
    folder = tmp_path_factory.mktemp("outbound-greetings")
    return {label: path for path, label in generate(folder, seed=5, count=4, hard_share=0)}


@pytest.fixture
def dialled(Session, users, clock, tmp_path):
    """A running campaign, tm ready on its team, one attempt in flight; the server configured."""
    spool = tmp_path / "spool"
    spool.mkdir()
    with Session() as s:
        admin = s.merge(users["admin"])
        s.add(Customer(name="外呼客户", ownership="shared", stage="target", phone="13800138000",
                       phone_e164="+8613800138000", created_at=clock.now(), updated_at=clock.now()))
        s.flush()
        campaign = campaigns.create_campaign(s, admin, clock=clock, name="外呼", mode="predictive",
                                             filter_stage="target", abandon_message="sorry-busy",
                                             machine_message="leave-message")
        tm = s.merge(users["tm"])
        tm.extension = "8001"
        campaigns.set_team(s, admin, campaign.id, [tm.id])
        campaigns.refresh_leads(s, campaign, clock=clock)
        campaigns.change_status(s, admin, campaign.id, "start", clock=clock)
        agent_states.set_state(s, tm, "ready", campaign_id=campaign.id, clock=clock)
        attempt = dialing.pick_leads(s, campaign.id, 1, dialer_id="t", clock=clock)[0]
        channel_id = attempt.channel_id
        s.commit()
    slept = []
    outbound.configure(clock=clock, spool_dir=spool, sleep=slept.append)
    server = FastAGIServer(registry, Session, port=0).start()
    yield channel_id, server, spool, slept
    server.shutdown(grace=2)
    outbound.configure(clock=outbound.SYSTEM_CLOCK, spool_dir=None, sleep=outbound.time.sleep)


def answer(server, channel_id, spool, audio):
    return run_call("127.0.0.1", server.port, "outbound", env={"agi_uniqueid": channel_id},
                    scenario=Scenario(audio=audio, record_dir=spool, answered=True))


def test_a_person_goes_to_the_ready_agent(dialled, greetings, Session, users):
    channel_id, server, spool, _ = dialled
    result = answer(server, channel_id, spool, greetings["human"])
    assert result.status == "TRANSFER", result.error
    assert result.variables["DIALFUNNEL_TRANSFER"] == "agent:8001"
    with Session() as s:
        attempt = s.scalar(select(DialAttempt).where(DialAttempt.channel_id == channel_id))
        assert attempt.amd == "human" and attempt.agent_id == users["tm"].id
        assert attempt.answered_at is not None and attempt.connected_at is not None
        assert agent_states.current(s, users["tm"].id).state == "on_call"


def test_a_machine_gets_the_campaign_message(dialled, greetings, Session, users):
    channel_id, server, spool, _ = dialled
    result = answer(server, channel_id, spool, greetings["machine"])
    assert result.status == "MACHINE"
    assert result.variables["DIALFUNNEL_MESSAGE"] == "leave-message"
    with Session() as s:
        attempt = s.scalar(select(DialAttempt).where(DialAttempt.channel_id == channel_id))
        assert attempt.amd == "machine" and attempt.agent_id is None
        assert agent_states.current(s, users["tm"].id).state == "ready"  # no agent was spent


def test_nobody_free_abandons_after_the_hold(dialled, greetings, Session, users, clock):
    channel_id, server, spool, slept = dialled
    with Session() as s:
        agent_states.set_state(s, s.merge(users["tm"]), "paused", reason="meal", clock=clock)
        s.commit()
    outbound.configure(sleep=lambda seconds: (slept.append(seconds), time.sleep(seconds)))
    result = answer(server, channel_id, spool, greetings["human"])
    assert result.status == "ABANDON"
    assert result.variables["DIALFUNNEL_MESSAGE"] == "sorry-busy"
    # it looked for an agent every POLL_SECONDS for the whole hold before giving up
    assert slept and set(slept) == {outbound.POLL_SECONDS}
    assert result.duration >= outbound.HOLD_SECONDS


def test_an_unknown_channel_is_refused(dialled):
    _, server, spool, _ = dialled
    result = run_call("127.0.0.1", server.port, "outbound", env={"agi_uniqueid": "not-a-dialer-call"},
                      scenario=Scenario(record_dir=spool, answered=True))
    assert result.status == "NOATTEMPT"
    assert not [c for c in result.commands if c.startswith("RECORD FILE")]


def test_with_several_servers_a_call_goes_only_to_an_agent_on_its_server(dialled, greetings, Session, users):
    """Issue 17: tm's phone (8001) is on pbx-b; a call answered on pbx-a cannot reach it (its
    Dial would find no phone there): abandoned. The same call on pbx-b goes to tm."""
    from config.settings import Server
    channel_id, server, spool, _ = dialled
    outbound.configure(servers=[Server("pbx-a", extensions=((8100, 8199),)),
                                Server("pbx-b", extensions=((8000, 8099),))])
    try:
        with Session() as s:
            s.scalar(select(DialAttempt).where(DialAttempt.channel_id == channel_id)).server = "pbx-a"
            s.commit()
        result = answer(server, channel_id, spool, greetings["human"])
        assert result.status == "ABANDON"
        with Session() as s:
            attempt = s.scalar(select(DialAttempt).where(DialAttempt.channel_id == channel_id))
            assert attempt.agent_id is None
            assert agent_states.current(s, users["tm"].id).state == "ready"
            attempt.server = "pbx-b"
            s.commit()
        result = answer(server, channel_id, spool, greetings["human"])
        assert result.status == "TRANSFER" and result.variables["DIALFUNNEL_TRANSFER"] == "agent:8001"
    finally:
        outbound.configure(servers=None)
