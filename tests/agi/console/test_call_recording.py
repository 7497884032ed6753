"""Recording continuity on an agent's own outgoing call (issue 14): dialfunnel-trunk-out records
the CUSTOMER's channel (Dial's b() pre-dial handler), so hold, a blind transfer or a three-way
room, all run from the call bar, leave one recording of the whole call. Real sockets
throughout: the call bar's controls and the call log over AMI against the simulator, which
runs the pre-dial and hangup handlers as Asterisk does and calls recording_done over FastAGI."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from agi.ami.client import AMIClient
from agi.ami.listener import ScreenPopListener
from agi.console import conference
from agi.fastagi.server import FastAGIServer
from agi.handlers import recording_done, registry
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock as SimClock
from models.crm.recordings import audible_filter, can_hear
from models.schema import Recording
from models.schema.calls import Call, CallLeg
from recordings.store import RecordingStore

from tests.agi.ami.test_call_log import SECRET, T0, ended_call, run, wait_for
from tests.agi.console.test_conference import (CUSTOMER, agents, listener, live_call,  # noqa: F401
                                               members, until)
from tests.agi.console.test_three_way import ask, finished, runner  # noqa: F401

WATCHED = ("BlindTransfer", "MixMonitorStart", "MixMonitorStop", "HangupHandlerPush",
           "HangupHandlerRun", "Hangup", "ConfbridgeJoin", "MusicOnHoldStart")


@pytest.fixture
def spool(tmp_path):
    folder = tmp_path / "monitor"
    folder.mkdir()
    return folder


@pytest.fixture
def simclock():
    return SimClock(T0)


@pytest.fixture
def store(tmp_path, spool):
    return RecordingStore(tmp_path / "recordings", spool)


@pytest.fixture
def fastagi(Session, store, simclock):
    recording_done.configure(store, clock=simclock)
    server = FastAGIServer(registry, Session, port=0).start()
    yield server
    server.shutdown(5)
    recording_done.configure(None)


@pytest.fixture
def use_fastagi():
    """False (parametrized): the dialplan's AGI(recording_done) reaches no server."""
    return True


@pytest.fixture
def pbx(fastagi, spool, simclock, use_fastagi):
    scenario = Scenario(seed=3, numbers={"8002": "answer"},
                        timing={"manual": {"ring_time": 1.0, "talk_time": 3600.0}})
    server = AMIServer(scenario=scenario, clock=simclock, auth_fail_delay=0,
                       timestamp_events=True,
                       fastagi=("127.0.0.1", fastagi.port) if use_fastagi else None,
                       recordings_incoming=spool).start()
    yield server
    server.stop()


@pytest.fixture
def storing_listener(Session, pbx, agents, store, simclock):
    """The AMI listener storing recordings itself (its path when the handler did not). It
    waits for the WAV as in production (MixMonitor closes the file after MixMonitorStop, and
    so does the simulator): with no wait at all it raced the file under load."""
    found = ScreenPopListener(
        Session, host="127.0.0.1", port=pbx.port, username="dialfunnel", secret=SECRET,
        clock=simclock, store=store, settle_seconds=0.02, connect_backoff=(0.05, 2.0, 0.2),
        client_options=dict(backoff_initial=0.05, backoff_max=0.2)).start()
    assert found.wait_connected(5)
    wait_for(lambda: found.call_log.stats["reconciles"] >= 1)
    yield found
    found.stop()


@pytest.fixture
def seen(pbx):
    client = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET)
    events: list = []
    for name in WATCHED:
        client.on(name, events.append)
    client.connect()
    yield events
    client.close()


@pytest.fixture
def customer(make_customer):
    return make_customer("上海录音连续有限公司", stage="target", owner="tm", mobile=CUSTOMER)


def control(Session, runner, pbx, user, action, args=None, then=1.0):  # noqa: F811
    command_id = ask(Session, user, action, args, clock=pbx.clock)
    runner.run_once()
    done = finished(Session, runner, pbx, command_id)
    assert done.state == "done", (action, done.reason)
    assert pbx.wait_handled()       # what the action scheduled is queued before time moves on
    run(pbx, then)


def hang_up_customer(pbx, call):
    client = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET, events=False)
    client.connect()
    try:
        client.hangup(call.legs["t1"]["Channel"])
    finally:
        client.close()
    assert pbx.wait_handled()
    run(pbx, 1)


def recordings(Session, linkedid):
    with Session() as s:
        return s.scalars(select(Recording).where(Recording.linkedid == linkedid)).all()


def leg_users(Session, call_id):
    with Session() as s:
        return {leg.user_id for leg in s.scalars(select(CallLeg).where(CallLeg.call_id == call_id))
                if leg.user_id}


def of(seen, channel):
    return [m.name for m in seen if m.get("Channel") == channel]


def assert_one_recording_of_the_whole_call(Session, pbx, spool, call, call_id, customer, agents):
    linkedid, uniqueid = call.channel_id, call.legs["t1"]["Uniqueid"]
    wait_for(lambda: len(recordings(Session, linkedid)) == 1)
    [rec] = recordings(Session, linkedid)
    assert (rec.uniqueid, rec.direction) == (uniqueid, "agent")
    assert rec.user_id == agents["tm"].id and rec.customer_id == customer.id
    assert rec.caller_number == CUSTOMER and rec.duration_ms > 0
    wait_for(lambda: not (spool / f"{uniqueid}.wav").exists())   # stored, then removed
    with Session() as s:
        row = s.get(Call, call_id)
        assert row.linkedid == rec.linkedid
    assert {agents["tm"].id, agents["tm2"].id} <= leg_users(Session, call_id)
    with Session() as s:      # both agents hear it; an agent not on the call does not
        rec = s.get(Recording, rec.id)
        assert can_hear(s.merge(agents["tm"]), rec) and can_hear(s.merge(agents["tm2"]), rec)
        assert not can_hear(s.merge(agents["rep"]), rec)
        heard = s.scalars(select(Recording.id).where(audible_filter(s.merge(agents["tm2"])))).all()
        assert heard == [rec.id]


def test_hold_then_blind_transfer_keeps_one_recording(Session, agents, customer, pbx, listener,
                                                       runner, seen, spool):
    call, call_id = live_call(Session, pbx, listener)
    agent, customer_channel = call.legs["o1"]["Channel"], call.legs["t1"]["Channel"]
    wait_for(lambda: "HangupHandlerPush" in of(seen, customer_channel))
    assert of(seen, agent) == [], "nothing recorded on the agent's own channel"
    assert of(seen, customer_channel) == ["MixMonitorStart", "HangupHandlerPush"]

    control(Session, runner, pbx, agents["tm"], "hold", then=5)
    control(Session, runner, pbx, agents["tm"], "resume")
    control(Session, runner, pbx, agents["tm"], "blind_transfer",
            {"kind": "extension", "target": "8002"}, then=3)
    assert not call.legs["o1"]["alive"] and call.legs["t1"]["alive"]
    assert recordings(Session, call.channel_id) == []          # the agent left: still recording

    hang_up_customer(pbx, call)
    wait_for(lambda: "Hangup" in of(seen, customer_channel))
    assert of(seen, customer_channel) == ["MixMonitorStart", "HangupHandlerPush", "MusicOnHoldStart",
                                          "HangupHandlerRun", "MixMonitorStop", "Hangup"]
    names = [m.name for m in seen]
    assert names.index("BlindTransfer") < names.index("HangupHandlerRun")
    assert ended_call(Session, call.channel_id).id == call_id
    assert_one_recording_of_the_whole_call(Session, pbx, spool, call, call_id, customer, agents)


def test_hold_then_three_way_the_agent_leaves_keeps_one_recording(
        Session, agents, customer, pbx, listener, runner, seen, spool):
    call, call_id = live_call(Session, pbx, listener)
    agent, customer_channel = call.legs["o1"]["Channel"], call.legs["t1"]["Channel"]
    room = conference.room_for_call(call_id)
    control(Session, runner, pbx, agents["tm"], "hold", then=3)
    control(Session, runner, pbx, agents["tm"], "resume")
    control(Session, runner, pbx, agents["tm"], "conference", {"kind": "extension", "target": "8002"})
    until(pbx, lambda: len(members(pbx, room)) == 3)
    control(Session, runner, pbx, agents["tm"], "hangup", then=5)     # the agent leaves the room
    until(pbx, lambda: agent not in members(pbx, room))
    assert call.legs["t1"]["alive"] and recordings(Session, call.channel_id) == []

    hang_up_customer(pbx, call)
    wait_for(lambda: "Hangup" in of(seen, customer_channel))
    assert of(seen, customer_channel) == ["MixMonitorStart", "HangupHandlerPush", "MusicOnHoldStart",
                                          "ConfbridgeJoin", "HangupHandlerRun", "MixMonitorStop",
                                          "Hangup"]
    assert_one_recording_of_the_whole_call(Session, pbx, spool, call, call_id, customer, agents)
    with Session() as s:          # the colleague still talks in the room: the call goes on
        assert s.get(Call, call_id).state == "up"


@pytest.mark.parametrize("use_fastagi", [False])
def test_the_listener_alone_stores_it_as_the_agents_own_call(Session, agents, customer, pbx,
                                                            storing_listener, runner, spool):
    """Without the handler's word (no FastAGI), the AMI listener stores the customer's
    recording at its MixMonitorStop, in the hangup handler's context after a transfer to a
    colleague: DIALFUNNEL_AGENT on the channel says it is the calling agent's own call."""
    call, call_id = live_call(Session, pbx, storing_listener)
    control(Session, runner, pbx, agents["tm"], "hold", then=2)
    control(Session, runner, pbx, agents["tm"], "resume")
    control(Session, runner, pbx, agents["tm"], "blind_transfer",
            {"kind": "extension", "target": "8002"}, then=3)
    hang_up_customer(pbx, call)
    assert_one_recording_of_the_whole_call(Session, pbx, spool, call, call_id, customer, agents)


def test_hold_then_attended_transfer_keeps_one_recording(Session, agents, customer, pbx, listener,
                                                          runner, seen, spool):
    """The agent consults the colleague first (the customer hears music meanwhile), then
    completes: the customer's channel and its recording stay in the call."""
    call, call_id = live_call(Session, pbx, listener)
    customer_channel = call.legs["t1"]["Channel"]
    control(Session, runner, pbx, agents["tm"], "hold", then=2)
    control(Session, runner, pbx, agents["tm"], "resume")
    control(Session, runner, pbx, agents["tm"], "attended_transfer",
            {"kind": "extension", "target": "8002"}, then=3)
    control(Session, runner, pbx, agents["tm"], "complete_transfer", then=2)
    assert not call.legs["o1"]["alive"] and call.legs["t1"]["Channel"] == customer_channel
    assert recordings(Session, call.channel_id) == []

    hang_up_customer(pbx, call)
    wait_for(lambda: "Hangup" in of(seen, customer_channel))
    assert of(seen, customer_channel) == ["MixMonitorStart", "HangupHandlerPush", "MusicOnHoldStart",
                                          "MusicOnHoldStart", "HangupHandlerRun", "MixMonitorStop",
                                          "Hangup"]
    assert_one_recording_of_the_whole_call(Session, pbx, spool, call, call_id, customer, agents)
