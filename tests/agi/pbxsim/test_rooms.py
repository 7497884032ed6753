"""The simulator's three-way rooms and ChanSpy (agi/pbxsim/rooms.py) against what a real
Asterisk 22 sent (captures-2026-12/ami-chanspy.txt, ami-redirect-confbridge*.txt): the same
events in the same order with the same headers, channels compared by their part in the call;
and the simulator's ChanSpy options are the dialplan's."""
from __future__ import annotations

import re
import time

import pytest

from agi.ami.client import AMIClient
from agi.pbxsim import rooms
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock

from tests.ami_helpers import sessions, transcript_messages
from tests.repo_paths import ROOT

CAPTURES = "captures-2026-12/"
OUTSIDE = "13900000009"


def captured(name):
    return [m for s in sessions(CAPTURES + name) for m in transcript_messages(s)]


def names(msg):
    return [k for k, _ in msg.headers]


@pytest.fixture
def pbx():
    scenario = Scenario(seed=2, numbers={"8009": "answer", OUTSIDE: "answer"},
                        timing={"manual": {"ring_time": 1.0, "talk_time": 3600.0}})
    server = AMIServer(scenario=scenario, clock=FakeClock(), auth_fail_delay=0).start()
    yield server
    server.stop()


@pytest.fixture
def ami(pbx):
    client = AMIClient("127.0.0.1", pbx.port, "dialfunnel", "dialfunnel-secret")
    client.connect()
    events = []
    for name in ("ChanSpyStart", "ChanSpyStop", "VarSet", "Hangup", "HangupRequest",
                 "SoftHangupRequest", "BridgeCreate", "BridgeDestroy", "BridgeEnter", "BridgeLeave",
                 "ConfbridgeStart", "ConfbridgeJoin", "ConfbridgeLeave", "ConfbridgeEnd"):
        client.on(name, events.append)
    client.events_seen = events
    yield client
    client.close()


def settle(pbx, seconds=0.0, until=lambda: True):
    deadline = time.monotonic() + 10
    pbx.clock.advance(seconds=seconds)
    while True:
        assert pbx.scheduler.settle()
        time.sleep(0.05)
        if until() or time.monotonic() > deadline:
            return


def live_call(pbx):
    call = pbx.phone_call("8001", "13800138000")
    settle(pbx, 2)
    return call


# --- ChanSpy -----------------------------------------------------------------------------------
KEPT_SPY = {"ChanSpyStart", "ChanSpyStop", "VarSet", "HangupRequest", "SoftHangupRequest", "Hangup"}


def spy_sequence(messages, roles):
    out = []
    for m in messages:
        if m.name not in KEPT_SPY or (m.name == "VarSet" and m.get("Variable") != "BRIDGEPEER"):
            continue
        who = roles.get(m.get("Channel") or m.get("SpyerChannel"))
        if who is None:
            continue
        out.append((m.name, who, m.get("Cause"), roles.get(m.get("Value")), roles.get(m.get("SpyeeChannel"))))
    return out


def test_chanspy_start_and_stop_as_captured(pbx, ami):
    expected_all = captured("ami-chanspy.txt")
    start = next(i for i, m in enumerate(expected_all) if m.action_id == "spy-q-orig" and m.name == "OriginateResponse")
    end = next(i for i, m in enumerate(expected_all) if m.action_id == "spy-qw-orig")
    section = expected_all[start:end]
    spy_start = next(m for m in section if m.name == "ChanSpyStart")
    spyer = spy_start["SpyerChannel"]
    roles = {spyer: "spyer", spyer[:-1] + "2": "spyer;2", spy_start["SpyeeChannel"]: "agent"}
    peer = next(m["Value"] for m in section if m.name == "VarSet" and m.get("Channel") == spy_start["SpyeeChannel"])
    roles[peer] = "customer"
    expected = spy_sequence(section, roles)

    call = live_call(pbx)
    agent, customer = call.legs["o1"]["Channel"], call.legs["t1"]["Channel"]
    handle = ami.originate("Local/8009@tx-supervisor", application="ChanSpy", data=f"{agent},q",
                           caller_id='"Supervisor 8009" <8009>')
    settle(pbx, 1, until=lambda: any(m.name == "ChanSpyStart" for m in ami.events_seen))
    ours = [m for m in ami.events_seen if m.name == "ChanSpyStart"]
    me = ours[0]["SpyerChannel"]
    ami.hangup(me)
    settle(pbx, 0.5, until=lambda: any(m.name == "Hangup" and m.get("Channel") == me[:-1] + "2"
                                       for m in ami.events_seen))
    got = spy_sequence(ami.events_seen, {me: "spyer", me[:-1] + "2": "spyer;2", agent: "agent",
                                         customer: "customer"})
    assert [e[0] for e in expected] == ["ChanSpyStart", "VarSet", "VarSet", "ChanSpyStop", "VarSet", "VarSet",
                                        "HangupRequest", "Hangup", "SoftHangupRequest", "Hangup"]
    assert got == expected
    assert handle.result(5)["Response"] == "Success"
    for name in ("ChanSpyStart", "ChanSpyStop"):
        [mine] = [m for m in ami.events_seen if m.name == name]
        [theirs] = [m for m in section if m.name == name]
        assert names(mine) == names(theirs)
        assert mine["Privilege"] == theirs["Privilege"] == "call,all"


def test_the_simulators_chanspy_options_are_the_dialplans():
    text = (ROOT / "dialplan/extensions_dialfunnel.conf").read_text()
    block = text[text.index("[dialfunnel-spy]"):]
    table = dict(re.findall(r"exten => (\w+),1,Set\(DF_SPY_OPTIONS=(\w+)\)", block))
    assert table == rooms.SPY_OPTIONS
    assert f"Set(DF_SPY=${{FILTER(-A-Za-z0-9/@._\\;,${{{rooms.SPY_TARGET_VARIABLE}}})}})" in block
    conf = text[text.index("[dialfunnel-conference]"):text.index("[dialfunnel-spy]")]
    for context, (marked, priority) in rooms.CONFERENCE_CONTEXTS.items():
        body = conf[conf.index(f"[{context}]"):]
        steps = re.findall(r"^(?:exten => _X\.,1|\s*same => n(?:\(\w+\))?),(\w+)\(", body, re.M)
        assert steps.index("ConfBridge") + 1 == priority, context
    assert "DF_CONF_AGENT_LEAVES=stay" in text and rooms.END_MARKED == {"stay": False, "end": True}


# --- ConfBridge --------------------------------------------------------------------------------
KEPT_CONF = {"BridgeCreate", "BridgeDestroy", "BridgeEnter", "BridgeLeave", "ConfbridgeStart",
             "ConfbridgeJoin", "ConfbridgeLeave", "ConfbridgeEnd", "VarSet", "Hangup"}


def conf_sequence(messages, roles):
    """(event, whose, BridgeNumChannels / value) of the room's life; a member's Hangup only
    for its own channel (Local's ;2 half has no part in the room)."""
    out = []
    for m in messages:
        if m.name not in KEPT_CONF or (m.name == "VarSet" and m.get("Variable") != "CONFBRIDGE_RESULT"):
            continue
        who = roles.get(m.get("Channel")) if m.get("Channel") else m.get("BridgeType")
        if who is None:
            continue
        out.append((m.name, who, m.get("BridgeNumChannels") or m.get("Value") or m.get("Cause")))
    return out


def test_a_dual_redirect_a_third_party_and_three_hangups_as_captured(pbx, ami):
    expected_all = captured("ami-redirect-confbridge.txt")
    redirect = next(i for i, m in enumerate(expected_all) if m.get("Message") == "Dual Redirect successful")
    section = expected_all[redirect + 1:]
    sent = [m for s in sessions(CAPTURES + "ami-redirect-confbridge.txt")
            for m in transcript_messages(s, "<")]
    [action] = [m for m in sent if m.get("Action") == "Redirect"]
    hangups = [m["Channel"] for m in sent if m.get("Action") == "Hangup"]
    third = hangups[0]
    roles = {action["Channel"]: "channel", action["ExtraChannel"]: "extra", third: "third"}
    expected = conf_sequence(section, roles)

    call = live_call(pbx)
    channel, extra = call.legs["o1"]["Channel"], call.legs["t1"]["Channel"]
    before = len(ami.events_seen)
    response = ami.send_action("Redirect", [
        ("Channel", channel), ("Context", "dialfunnel-conference-agent"), ("Exten", "7"), ("Priority", 1),
        ("ExtraChannel", extra), ("ExtraContext", "dialfunnel-conference"), ("ExtraExten", "7"),
        ("ExtraPriority", 1)])
    assert names(response) == ["Response", "ActionID", "Message"]
    assert response["Message"] == "Dual Redirect successful"
    settle(pbx, 0.5, until=lambda: any(m.name == "ConfbridgeJoin" and m["Channel"] == channel
                                       for m in ami.events_seen))
    handle = ami.originate(f"Local/{OUTSIDE}@dialfunnel-trunk-out/n", context="dialfunnel-conference", exten="7")
    settle(pbx, 1, until=lambda: handle.done)
    mine = handle.result(5)["Channel"]
    for who in (mine, channel, extra):      # the capture's order: third, channel, extra
        ami.hangup(who)
        settle(pbx, 0.2, until=lambda: any(m.name == "Hangup" and m["Channel"] == who for m in ami.events_seen))
    settle(pbx, 0.2, until=lambda: any(m.name == "ConfbridgeEnd" for m in ami.events_seen))
    got = conf_sequence(ami.events_seen[before:], {channel: "channel", extra: "extra", mine: "third"})
    assert len(expected) == 25 and expected[:3] == [("BridgeLeave", "extra", "1"), ("BridgeCreate", "base", "0"),
                                                      ("BridgeLeave", "channel", "0")]
    assert got == expected
    for name in ("ConfbridgeStart", "ConfbridgeJoin", "ConfbridgeLeave", "ConfbridgeEnd"):
        theirs = next(m for m in section if m.name == name)
        ours = next(m for m in ami.events_seen if m.name == name)
        assert names(ours) == names(theirs), name
        for key in ("Privilege", "BridgeType", "BridgeTechnology", "BridgeCreator", "BridgeVideoSourceMode",
                    "Admin", "Muted"):
            assert ours.get(key) == theirs.get(key), (name, key)
    assert next(m for m in ami.events_seen if m.name == "ConfbridgeJoin")["Conference"] == "dialfunnel-7"


def test_a_single_redirect_hangs_up_the_peer_left_behind_as_captured(pbx, ami):
    expected_all = captured("ami-redirect-confbridge-single.txt")
    at = next(i for i, m in enumerate(expected_all) if m.get("Message") == "Redirect successful")
    theirs = expected_all[at]
    sent = [m for s in sessions(CAPTURES + "ami-redirect-confbridge-single.txt")
            for m in transcript_messages(s, "<")]
    [action] = [m for m in sent if m.get("Action") == "Redirect"]
    join = next(i for i, m in enumerate(expected_all) if m.name == "ConfbridgeJoin")
    left = next(m["Channel"] for m in expected_all[at:join] if m.name == "Hangup")
    expected = conf_sequence(expected_all[at + 1:join + 1], {action["Channel"]: "moved", left: "left"})
    assert [e[0] for e in expected] == ["BridgeLeave", "BridgeCreate", "ConfbridgeStart", "BridgeLeave",
                                        "BridgeDestroy", "Hangup", "BridgeEnter", "ConfbridgeJoin"]

    call = live_call(pbx)
    moved, other = call.legs["o1"]["Channel"], call.legs["t1"]["Channel"]
    before = len(ami.events_seen)
    ours = ami.send_action("Redirect", [("Channel", moved), ("Context", "dialfunnel-conference-agent"),
                                        ("Exten", "8"), ("Priority", 1)])
    assert (names(ours), ours["Message"]) == (names(theirs), theirs["Message"]) == (
        ["Response", "ActionID", "Message"], "Redirect successful")
    settle(pbx, 0.2, until=lambda: any(m.name == "ConfbridgeJoin" for m in ami.events_seen))
    assert conf_sequence(ami.events_seen[before:], {moved: "moved", other: "left"}) == expected
    missing = ami.send_action("Redirect", [("Channel", "PJSIP/9999-00000001"), ("Context", "x"), ("Exten", "1"),
                                           ("Priority", 1)])
    assert (missing.response, missing["Message"]) == ("Error", "Channel does not exist: PJSIP/9999-00000001")


def test_confbridge_list_as_app_confbridge_writes_it(pbx, ami):
    """No capture: apps/app_confbridge.c action_confbridgelist(_item)."""
    call = live_call(pbx)
    ami.send_action("Redirect", [("Channel", call.legs["o1"]["Channel"]), ("Context", "dialfunnel-conference-agent"),
                                 ("Exten", "9"), ("Priority", 1), ("ExtraChannel", call.legs["t1"]["Channel"]),
                                 ("ExtraContext", "dialfunnel-conference"), ("ExtraExten", "9"), ("ExtraPriority", 1)])
    settle(pbx, 0.5, until=lambda: len(pbx.rooms.rooms.get("dialfunnel-9", rooms.Room("", "")).members) == 2)
    items = []
    ami.on("ConfbridgeList", items.append)
    ami.on("ConfbridgeListComplete", items.append)
    response = ami.send_action("ConfbridgeList", [("Conference", "dialfunnel-9")], action_id="L1")
    assert response.headers == [("Response", "Success"), ("ActionID", "L1"), ("EventList", "start"),
                                ("Message", "Confbridge user list will follow")]
    settle(pbx, 0, until=lambda: any(m.name == "ConfbridgeListComplete" for m in items))
    assert [names(m) for m in items] == [
        ["Event", "ActionID", "Conference", "CallerIDNum", "CallerIDName", "Channel", "Admin", "MarkedUser",
         "WaitMarked", "EndMarked", "Waiting", "Muted", "AnsweredTime"]] * 2 + [
        ["Event", "ActionID", "EventList", "ListItems"]]
    assert [m.get("MarkedUser") for m in items[:2]] == ["No", "Yes"]   # the customer joined first
    assert items[2]["ListItems"] == "2"
    kick = ami.send_action("ConfbridgeKick", [("Conference", "dialfunnel-9"), ("Channel", "all")])
    assert kick["Message"] == "All participants kicked"
    settle(pbx, 0, until=lambda: not pbx.rooms.rooms)
    results = [m["Value"] for m in ami.events_seen if m.get("Variable") == "CONFBRIDGE_RESULT"]
    assert results == ["KICKED", "KICKED"]
