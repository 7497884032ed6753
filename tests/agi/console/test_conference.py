"""Three-way calls (T6) over real AMI TCP against the simulator: a call moved into the room, a
colleague and an outside number added, listed, one dropped, the agent leaves and the others
talk on (end_marked off) or are hung up with the agent (end_marked on); refusals; the call log
keeps every leg in the one call."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from agi.ami.client import AMIClient
from agi.console import conference
from agi.console.conference import ConferenceError
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock as SimClock
from models.schema.calls import Call, CallLeg

from tests.agi.ami.test_call_log import SECRET, T0, run, start_listener, wait_for

CUSTOMER = "13800138000"
OUTSIDE = "13900000009"


@pytest.fixture
def agents(session, users):
    users["tm"].extension = "8001"
    users["tm2"].extension = "8002"
    session.commit()
    return users


def make_pbx(agent_leaves="stay"):
    scenario = Scenario(seed=3, numbers={"8002": "answer", "8003": "noanswer", "8004": "busy",
                                         OUTSIDE: "answer"},
                        timing={"manual": {"ring_time": 1.0, "talk_time": 3600.0}},
                        agent_leaves=agent_leaves)
    return AMIServer(scenario=scenario, clock=SimClock(T0), auth_fail_delay=0,
                     timestamp_events=True).start()


@pytest.fixture
def pbx():
    server = make_pbx()
    yield server
    server.stop()


@pytest.fixture
def ami(pbx):
    client = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET)
    client.connect()
    yield client
    client.close()


@pytest.fixture
def listener(Session, pbx, agents):
    listener = start_listener(Session, pbx, pbx.clock)
    yield listener
    listener.stop()


def live_call(Session, pbx, listener, extension="8001"):
    """The agent dials the customer from the phone; the call log has it up."""
    call = pbx.phone_call(extension, CUSTOMER)
    run(pbx, 2)
    return call, call_row(Session, call.channel_id, "up").id


def call_row(Session, linkedid, state):
    def get():
        with Session() as s:
            return s.scalar(select(Call).where(Call.linkedid == linkedid, Call.state == state))
    wait_for(lambda: get() is not None)
    return get()


def call_state(Session, call_id, state):
    def get():
        with Session() as s:
            return s.get(Call, call_id).state
    wait_for(lambda: get() == state)


def until(pbx, condition):
    """Move the simulator's clock until ``condition()`` (an action's events follow its response)."""
    wait_for(lambda: run(pbx, 0.1) or condition())


def members(pbx, room):
    found = pbx.rooms.rooms.get(conference.conference_name(room))
    return sorted(m.call.legs[m.leg]["Channel"] for m in found.members) if found else []


def channels(parties):
    return sorted(p.channel.rsplit("-", 1)[0] for p in parties)


def legs(Session, call_id):
    with Session() as s:
        return {leg.channel: leg for leg in s.scalars(select(CallLeg).where(CallLeg.call_id == call_id))}


def test_three_way_the_agent_leaves_and_the_others_talk_on(Session, pbx, ami, listener):
    call, call_id = live_call(Session, pbx, listener)
    agent, customer = call.legs["o1"]["Channel"], call.legs["t1"]["Channel"]
    room = conference.room_for_call(call_id)
    conference.start_conference(ami, agent, customer, room)
    until(pbx, lambda: len(members(pbx, room)) == 2)
    assert channels(conference.list_parties(ami, room)) == ["PJSIP/8001", "PJSIP/dialfunnel-trunk"]

    colleague = conference.add_party(ami, room, "8002", caller_id='"Shop" <02155550000>')
    run(pbx, 3)
    assert conference.answered(colleague, 5)
    outside = conference.add_party(ami, room, OUTSIDE, caller_id='"Shop" <02155550000>')
    run(pbx, 1)
    assert conference.answered(outside, 5)
    [orig] = [m for m in pbx.actions("Originate") if m.get("Exten") == room and "trunk-out" in m["Channel"]]
    assert (orig["Channel"], orig["Context"]) == (f"Local/{OUTSIDE}@dialfunnel-trunk-out/n",
                                                  "dialfunnel-conference")
    parties = conference.list_parties(ami, room)
    assert channels(parties) == ["Local/13900000009@dialfunnel-trunk-out", "PJSIP/8001", "PJSIP/8002",
                                 "PJSIP/dialfunnel-trunk"]
    assert [p.marked for p in parties if p.channel == agent] == [True]
    assert not any(p.end_marked for p in parties)

    [phone] = [p.channel for p in parties if p.channel.startswith("PJSIP/8002")]
    conference.drop_party(ami, room, phone)
    until(pbx, lambda: phone not in members(pbx, room))
    assert "PJSIP/8002" not in channels(conference.list_parties(ami, room))

    conference.drop_party(ami, room, agent)          # the agent leaves
    until(pbx, lambda: agent not in members(pbx, room))
    assert channels(conference.list_parties(ami, room)) == [
        "Local/13900000009@dialfunnel-trunk-out", "PJSIP/dialfunnel-trunk"]
    wait_for(lambda: legs(Session, call_id)[agent].ended_at is not None)
    call_state(Session, call_id, "up")               # the customer and the engineer still talk
    now = legs(Session, call_id)
    assert now[agent].ended_at is not None and now[customer].ended_at is None
    assert now[phone].ended_at is not None

    for channel in (customer, outside_channel(parties)):
        ami.hangup(channel)
        until(pbx, lambda: channel not in members(pbx, room))
    call_state(Session, call_id, "ended")
    with Session() as s:
        assert s.scalar(select(Call).where(Call.linkedid == colleague.channel_id)) is None
    every = legs(Session, call_id)
    assert sorted(c.rsplit("-", 1)[0] for c in every) == [
        "Local/13900000009@dialfunnel-trunk-out", "Local/13900000009@dialfunnel-trunk-out",
        "PJSIP/8001", "PJSIP/8002", "PJSIP/dialfunnel-trunk"]
    assert all(leg.ended_at is not None for leg in every.values())


def outside_channel(parties):
    return next(p.channel for p in parties if p.channel.startswith("Local/"))


def test_with_end_marked_the_others_are_hung_up_when_the_agent_leaves(Session, agents):
    server = make_pbx(agent_leaves="end")
    client = AMIClient("127.0.0.1", server.port, "dialfunnel", SECRET)
    client.connect()
    listener = start_listener(Session, server, server.clock)
    try:
        call, call_id = live_call(Session, server, listener)
        agent, customer = call.legs["o1"]["Channel"], call.legs["t1"]["Channel"]
        room = conference.room_for_call(call_id)
        conference.start_conference(client, agent, customer, room)
        until(server, lambda: len(members(server, room)) == 2)
        party = conference.add_party(client, room, "8002")
        run(server, 3)
        assert conference.answered(party, 5)
        assert [p.end_marked for p in conference.list_parties(client, room) if p.channel != agent] == [True, True]
        client.hangup(agent)
        until(server, lambda: not server.rooms.rooms)
        with pytest.raises(ConferenceError, match="No active conferences."):
            conference.list_parties(client, room)
        call_state(Session, call_id, "ended")
    finally:
        listener.stop()
        client.close()
        server.stop()


@pytest.mark.parametrize("number", ["8003", "8004"])
def test_a_third_party_who_does_not_answer_is_not_added(Session, pbx, ami, listener, number):
    call, call_id = live_call(Session, pbx, listener)
    room = conference.room_for_call(call_id)
    conference.start_conference(ami, call.legs["o1"]["Channel"], call.legs["t1"]["Channel"], room)
    until(pbx, lambda: len(members(pbx, room)) == 2)
    party = conference.add_party(ami, room, number, ring_seconds=20)
    run(pbx, 21)
    assert not conference.answered(party, 5)
    assert len(conference.list_parties(ami, room)) == 2


def test_refusals_carry_asterisks_words(Session, pbx, ami, listener):
    with pytest.raises(ConferenceError, match="No active conferences."):
        conference.list_parties(ami, "5")
    with pytest.raises(ConferenceError, match="Channel does not exist: PJSIP/8001-000000ff"):
        conference.start_conference(ami, "PJSIP/8001-000000ff", "PJSIP/x-1", "5")
    call, call_id = live_call(Session, pbx, listener)
    room = conference.room_for_call(call_id)
    conference.start_conference(ami, call.legs["o1"]["Channel"], call.legs["t1"]["Channel"], room)
    until(pbx, lambda: len(members(pbx, room)) == 2)
    with pytest.raises(ConferenceError, match="No Conference by that name found."):
        conference.list_parties(ami, "999")
    with pytest.raises(ConferenceError, match="No Channel by that name found in Conference."):
        conference.drop_party(ami, room, "PJSIP/8009-00000001")
    for bad in ("8001,x", "PJSIP/8001&Local/1@x", "8001\r\nAction: Hangup"):
        with pytest.raises(ConferenceError):
            conference.add_party(ami, room, bad)
    with pytest.raises(ConferenceError):
        conference.start_conference(ami, "PJSIP/8001\r\nChannel: x", "PJSIP/x-1", room)
    with pytest.raises(ConferenceError):
        conference.list_parties(ami, "1;2")
    conference.mute_party(ami, room, call.legs["t1"]["Channel"])
    assert [p.muted for p in conference.list_parties(ami, room)
            if p.channel == call.legs["t1"]["Channel"]] == [True]
    conference.mute_party(ami, room, call.legs["t1"]["Channel"], mute=False)
    assert not any(p.muted for p in conference.list_parties(ami, room))
