"""Listen / whisper / barge over real AMI TCP against the simulator: the request of a manager
(models/telephony/supervision.py) is claimed by the dialer process's runner, the manager's phone
is originated into the supervisors' spy context, ChanSpy runs with the mode's options,
ChanSpyStart / ChanSpyStop come as a real Asterisk 22 sends them, and the spy_sessions row
starts and ends; a whisper on another team's call is refused before anything rings."""
from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from agi.ami.client import AMIClient
from agi.console import spy
from agi.console.spy import SpyRunner
from agi.dialer.process import start_dialer
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock as SimClock
from config.settings import Settings
from models.errors import PermissionDenied
from models.schema import Campaign, CampaignAgent
from models.schema.supervision import SpySession
from models.telephony import supervision

from tests.agi.ami.test_call_log import SECRET, T0, run, start_listener, wait_for
from tests.agi.console.test_conference import live_call


@pytest.fixture
def floor(session, users, clock):
    users["tm"].extension = "8001"
    users["tm2"].extension = "8002"
    users["mgr"].extension = "8009"
    session.commit()
    for name, members in (("sales-a", ["tm"]), ("sales-b", ["tm2"])):
        campaign = Campaign(name=name, created_at=clock.now(),
                            created_by_id=users["mgr"].id if name == "sales-a" else users["admin"].id)
        session.add(campaign)
        session.flush()
        for member in members:
            session.add(CampaignAgent(campaign_id=campaign.id, user_id=users[member].id))
    session.commit()
    return users


@pytest.fixture
def pbx():
    scenario = Scenario(seed=4, numbers={"8009": "answer", "8010": "noanswer"},
                        timing={"manual": {"ring_time": 1.0, "talk_time": 3600.0}})
    server = AMIServer(scenario=scenario, clock=SimClock(T0), auth_fail_delay=0,
                       timestamp_events=True).start()
    yield server
    server.stop()


@pytest.fixture
def ami(pbx):
    client = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET, events="call")
    client.connect()
    yield client
    client.close()


@pytest.fixture
def listener(Session, pbx, floor):
    listener = start_listener(Session, pbx, pbx.clock)
    yield listener
    listener.stop()


@pytest.fixture
def runner(Session, ami, clock):
    return SpyRunner(Session, ami, dialer_id="dialer-t", clock=clock).attach()


def rung(pbx):
    """Wait until the simulator took the manager's Originate (it answers before it plays it)."""
    wait_for(lambda: any(k.startswith("spy-") and c.pc > 0 for k, c in list(pbx.calls.items())))


def row(Session) -> SpySession:
    with Session() as s:
        return s.scalars(select(SpySession)).one()


def seen(ami, name):
    got = []
    ami.on(name, got.append)
    return got


@pytest.mark.parametrize("mode, options", [("listen", "qE"), ("whisper", "qwE"), ("barge", "qBE")])
def test_each_mode_rings_the_manager_into_chanspy_and_is_logged(
        Session, session, pbx, ami, listener, runner, floor, clock, mode, options):
    call, _ = live_call(Session, pbx, listener)
    agent = call.legs["o1"]["Channel"]
    starts, stops, hangups = seen(ami, "ChanSpyStart"), seen(ami, "ChanSpyStop"), seen(ami, "Hangup")
    supervision.request_spy(session, floor["mgr"], floor["tm"].id, mode, clock)
    session.commit()
    assert runner.poll() == 1
    assert runner.poll() == 0                        # claimed once
    [orig] = pbx.actions("Originate")
    assert (orig["Channel"], orig["Context"], orig["Exten"], orig.get_all("Variable")) == (
        "PJSIP/8009", "dialfunnel-spy", mode, [f"DF_SPY_TARGET={agent}"])
    assert row(Session).state == "ringing"
    rung(pbx)
    run(pbx, 3)                                      # the manager's phone rings 2 s, answers
    [chanspy] = pbx.rooms.spies
    assert (chanspy.options, chanspy.spyee.legs[chanspy.spyee_leg]["Channel"]) == (options, agent)
    wait_for(lambda: starts)
    assert starts[0]["SpyeeChannel"] == agent and starts[0]["SpyerChannel"].startswith("PJSIP/8009-")
    wait_for(lambda: row(Session).state == "active")
    clock.advance(seconds=40)
    ami.hangup(starts[0]["SpyerChannel"])            # the manager hangs up
    run(pbx, 0.5)
    wait_for(lambda: stops and any(h["Channel"] == starts[0]["SpyerChannel"] for h in hangups))
    assert [h["Cause"] for h in hangups if h["Channel"] == starts[0]["SpyerChannel"]] == ["0"]
    wait_for(lambda: row(Session).state == "ended")
    done = row(Session)
    assert (done.mode, done.manager_id, done.agent_id, (done.ended_at - done.started_at).total_seconds(),
            done.end_reason) == (mode, floor["mgr"].id, floor["tm"].id, 40.0, "hangup 0")
    assert call.legs["o1"]["alive"] and call.legs["t1"]["alive"]   # the call goes on


def test_the_spy_ends_when_the_spied_call_ends(Session, session, pbx, ami, listener, runner, floor, clock):
    call, _ = live_call(Session, pbx, listener)
    stops = seen(ami, "ChanSpyStop")
    supervision.request_spy(session, floor["mgr"], floor["tm"].id, "listen", clock)
    session.commit()
    runner.poll()
    rung(pbx)
    run(pbx, 3)
    wait_for(lambda: row(Session).state == "active")
    ami.hangup(call.legs["t1"]["Channel"])           # the customer hangs up: the call ends
    run(pbx, 0.5)
    wait_for(lambda: stops)
    wait_for(lambda: row(Session).state == "ended")
    assert row(Session).end_reason == "hangup 16"    # ChanSpy(E) returned, the dialplan hung up


def test_a_whisper_on_a_call_of_another_team_is_refused(Session, session, pbx, ami, listener, runner, floor, clock):
    live_call(Session, pbx, listener, extension="8002")   # tm2, of sales-b (the admin's)
    with pytest.raises(PermissionDenied, match="spy.not_your_team"):
        supervision.request_spy(session, floor["rep"], floor["tm2"].id, "whisper", clock)
    with pytest.raises(PermissionDenied, match="spy.not_your_team"):
        supervision.request_spy(session, floor["mgr"], floor["tm2"].id, "whisper", clock)
    session.rollback()                               # the page's request ends
    assert runner.poll() == 0
    assert pbx.actions("Originate") == []
    with Session() as s:
        assert s.scalars(select(SpySession)).all() == []


def test_a_manager_who_does_not_answer_leaves_a_failed_row(Session, session, pbx, ami, listener, runner, floor, clock):
    live_call(Session, pbx, listener)
    floor["mgr"].extension = "8010"
    session.commit()
    supervision.request_spy(session, floor["mgr"], floor["tm"].id, "barge", clock)
    session.commit()
    runner.poll()
    rung(pbx)
    run(pbx, 31)
    wait_for(lambda: row(Session).state == "failed")
    assert pbx.rooms.spies == []


def test_bad_values_never_reach_ami(ami, pbx):
    for kw in (dict(extension="8009&PJSIP/8010", mode="listen", target_channel="PJSIP/8001-1"),
               dict(extension="8009", mode="qB", target_channel="PJSIP/8001-1"),
               dict(extension="8009", mode="listen", target_channel="PJSIP/8001-1,qB"),
               dict(extension="8009", mode="listen", target_channel="PJSIP/8001-1\r\nAction: Hangup")):
        with pytest.raises(spy.SpyError):
            spy.originate_spy(ami, channel_id="spy-x", **kw)
    assert pbx.actions("Originate") == []


def test_the_dialer_process_rings_the_manager_for_a_queued_request(Session, session, pbx, listener, floor, clock):
    """agi/dialer/process.py starts the spy runner beside the dialer: a request made on a page
    rings the manager within a poll."""
    live_call(Session, pbx, listener)
    settings = dataclasses.replace(Settings(), dialer_id="p", ami_host="127.0.0.1")
    dialer, thread = start_dialer(settings, Session, port=pbx.port, secret=SECRET, clock=clock)
    try:
        supervision.request_spy(session, floor["mgr"], floor["tm"].id, "listen", clock)
        session.commit()
        wait_for(lambda: [m["Channel"] for m in pbx.actions("Originate")] == ["PJSIP/8009"])
        wait_for(lambda: row(Session).dialer_id == "p")
    finally:
        dialer.stop()
        thread.join(10)
    assert not thread.is_alive()
