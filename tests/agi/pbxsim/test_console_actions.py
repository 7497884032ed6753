"""The simulator's call controls against a real Asterisk 22's bytes (captures-2026-12): our
side of each captured section is replayed over a raw socket at the captured times, and the
responses to the controls must be the captured bytes, the call events after each control the
captured ones in the captured order."""
from __future__ import annotations

import datetime as dt
import socket
import threading

import pytest

from agi.ami.wire import Message, encode, iter_messages
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock
from agi.pbxsim.transcripts import ASTERISK, OURS

from tests.agi.ami.test_call_log import wait_for
from tests.ami_helpers import first_channel_seq, joined, sessions

CAPTURES = "captures-2026-12/"
T0 = dt.datetime(2026, 12, 6, 23, 51, tzinfo=dt.timezone.utc)
# The events the simulator plays for a control (not the dialplan chatter: VarSet, Newexten,
# DeviceStateChange, NewCallerid, NewConnectedLine, LocalBridge, the hang-up requests).
KEY = {"Newchannel", "Newstate", "DialBegin", "DialState", "DialEnd", "BridgeCreate",
       "BridgeEnter", "BridgeLeave", "BridgeDestroy", "BridgeMerge", "Hangup", "Hold", "Unhold",
       "MusicOnHoldStart", "MusicOnHoldStop", "DTMFEnd", "BlindTransfer", "AttendedTransfer"}
# Events whose header names (and order) must be the captured ones.
SHAPED = {"MusicOnHoldStart", "MusicOnHoldStop", "Hold", "Unhold", "DTMFEnd", "BlindTransfer",
          "AttendedTransfer", "BridgeMerge"}


def our_actions(lines):
    """(seconds since connect, action bytes) of our side, in order."""
    out, current, at = [], b"", 0.0
    for line in lines:
        if line.direction != OURS:
            continue
        if not current:
            at = line.at or 0.0
        current += line.data
        if line.data == b"\r\n":
            out.append((at, current))
            current = b""
    return out


def replay(lines, pbx):
    """Send our side at the captured times (the simulator's clock moved to match) and return
    every message the simulator sent, in order."""
    sock = socket.create_connection(("127.0.0.1", pbx.port))
    received = bytearray()

    def read():
        while chunk := sock.recv(65536):
            received.extend(chunk)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    now = 0.0
    for at, data in our_actions(lines):
        while now + 0.05 <= at:
            now += 0.05
            pbx.clock.advance(seconds=0.05)
            assert pbx.scheduler.settle()
        answered = len(pbx.received)
        sock.sendall(data)
        wait_for(lambda: len(pbx.received) > answered)   # the simulator has read it
        assert pbx.wait_handled()     # and handled it (what it schedules is then pending)
        assert pbx.scheduler.settle()
    reader.join(timeout=10)
    sock.close()
    return list(iter_messages(bytes(received), expect_banner=True))


def windows(msgs, action_ids):
    """For each control (by ActionID): its response, and the key events after it up to the
    next response."""
    out = {}
    for i, msg in enumerate(msgs):
        if msg.response is not None and msg.action_id in action_ids:
            events = []
            for later in msgs[i + 1:]:
                if later.response is not None:
                    break
                if later.name in KEY:
                    events.append(later)
            out[msg.action_id] = (msg, events)
    return out


def key(msg: Message):
    return (msg.name, msg.get("Channel") or msg.get("TransfererChannel")
            or msg.get("OrigTransfererChannel"), msg.get("DestChannel"), msg.get("Digit"),
            msg.get("Cause"), msg.get("ChannelState"))


# The two Atxfer runs order the target's answer differently (the two halves of its Local
# channel are separate threads): "Newstate ;1, DialEnd" before the target's BridgeCreate in
# §2, after its first BridgeEnter in §1. The simulator plays §1's order; §2's Atxfer is
# compared as a multiset.
UNORDERED = {"axfer-abort-1"}
CASES = [
    ("ami-hold-moh.txt", 0, ["hold-redirect", "hold-unhold"]),
    ("ami-blind-transfer.txt", 0, ["bxfer-1"]),
    ("ami-atxfer.txt", 0, ["axfer-complete-1", "axfer-complete-hangup-agent"]),
    ("ami-atxfer.txt", 1, ["axfer-abort-1", "axfer-abort-cancel"]),
]


@pytest.mark.parametrize("name, section, controls", CASES,
                         ids=[f"{c[0]}#{c[1]}" for c in CASES])
def test_controls_answer_and_move_the_call_as_asterisk_does(name, section, controls):
    lines = sessions(CAPTURES + name)[section]
    captured = windows(list(iter_messages(joined(lines, ASTERISK), expect_banner=True)), controls)
    scenario = Scenario(seed=1, timing={"click": {"agent_ring": 1.0, "ring_time": 2.0,
                                                  "talk_time": 120.0}})
    pbx = AMIServer(scenario=scenario, clock=FakeClock(T0), auth_fail_delay=0,
                    channel_seq=first_channel_seq(lines)).start()
    try:
        got = windows(replay(lines, pbx), controls)
    finally:
        pbx.stop()
    assert sorted(got) == sorted(captured) == sorted(controls)
    for action_id in controls:
        (want_response, want_events), (response, events) = captured[action_id], got[action_id]
        assert encode(response.headers) == encode(want_response.headers), action_id
        mine, real = [key(m) for m in events], [key(m) for m in want_events]
        if action_id in UNORDERED:
            mine, real = sorted(mine, key=repr), sorted(real, key=repr)
        assert mine == real, action_id
        for mine, real in zip(events, want_events):
            if real.name in SHAPED:
                assert [k for k, _ in mine.headers] == [k for k, _ in real.headers], real.name


def test_a_busy_colleague_and_the_refusals_of_manager_c():
    """Not captured: the refusals as main/manager.c and res/res_mutestream.c word them."""
    pbx = AMIServer(scenario=Scenario(busy_extensions={"8003"}), clock=FakeClock(T0),
                    auth_fail_delay=0).start()
    sock = socket.create_connection(("127.0.0.1", pbx.port))
    try:
        data = b"".join(encode(h) for h in (
            [("Action", "Login"), ("Username", "dialfunnel"), ("Secret", "dialfunnel-secret"),
             ("Events", "off")],
            [("Action", "ExtensionState"), ("ActionID", "e1"), ("Exten", "8003"),
             ("Context", "dialfunnel-hints")],
            [("Action", "ExtensionState"), ("ActionID", "e2"), ("Exten", "8004"),
             ("Context", "dialfunnel-hints")],
            [("Action", "Redirect"), ("ActionID", "r1"), ("Channel", "PJSIP/8001-00000001"),
             ("Context", "dialfunnel-hold"), ("Exten", "s"), ("Priority", "1")],
            [("Action", "BlindTransfer"), ("ActionID", "b1"), ("Channel", "PJSIP/8001-00000001"),
             ("Exten", "8002")],
            [("Action", "Atxfer"), ("ActionID", "a1"), ("Channel", "PJSIP/8001-00000001")],
            [("Action", "MuteAudio"), ("ActionID", "m1"), ("Channel", "PJSIP/8001-00000001"),
             ("Direction", "in"), ("State", "on")],
            [("Action", "Logoff")]))
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    finally:
        sock.close()
        pbx.stop()
    answers = {m.action_id: m for m in iter_messages(received, expect_banner=True) if m.action_id}
    assert [(k, v) for k, v in answers["e1"].headers if k in ("Status", "StatusText")] == [
        ("Status", "1"), ("StatusText", "InUse")]
    assert answers["e2"].get("Status") == "0"
    assert answers["r1"].get("Message") == "Channel does not exist: PJSIP/8001-00000001"
    assert answers["b1"].get("Message") == "Channel specified does not exist"
    assert answers["a1"].get("Message") == "No extension specified"
    assert answers["m1"].get("Message") == "No such channel"
