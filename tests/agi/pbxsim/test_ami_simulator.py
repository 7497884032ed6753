"""The PBX simulator's AMI side (agi.pbxsim.ami_server) against the transcripts of a real
Asterisk 22: the same client bytes must get the same server bytes back, once uniqueids,
timestamps, session ids and ports (which differ on every run) are normalised."""
from __future__ import annotations

import random
import socket
import threading
import time

import pytest

from agi.ami.client import AMIAuthError, AMIClient
from agi.ami.wire import Message, Parser, iter_messages
from agi.pbxsim.ami_scenarios import OUTCOMES, Scenario
from agi.pbxsim.ami_server import AMIServer, parse_callerid
from agi.pbxsim.clock import FakeClock, ScaledClock

from tests.ami_helpers import (
    ASTERISK,
    OURS,
    drop_events,
    first_channel_seq,
    joined,
    normalise,
    sessions,
    transcript_messages,
)

TRANSCRIPTS = [f"ami-originate-{n}.txt" for n in
               ("answer", "busy", "congestion", "noanswer", "unallocated", "absent", "invalid")]
TRIMMED = {"ami-dial.txt", "ami-queue.txt"}  # the kept screen-pop events; login events trimmed too


def replay_against_simulator(name: str) -> tuple[bytes, bytes, int]:
    """Send the transcript's client messages to a fresh simulator; move its clock until all the
    events before the Logoff are out; return (expected, actual) bytes, both normalised."""
    session = sessions(name)[0]
    ours = list(iter_messages(joined(session, OURS)))
    expected = transcript_messages(session)
    clock = FakeClock()
    scenario = Scenario(congestion_order="transcript")   # ami-a5's order is the default
    with AMIServer(clock=clock, channel_seq=first_channel_seq(session), scenario=scenario,
                   auth_fail_delay=0) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        parser = Parser(expect_banner=True)
        got, count = b"", 0
        want = len(expected) - 1 + (2 if name in TRIMMED else 0)  # all but Goodbye
        for msg in ours[:-1]:
            sock.sendall(msg.to_bytes())
        deadline = time.monotonic() + 5
        sock.settimeout(0.02)
        while count < want and time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                clock.advance(seconds=1)
                continue
            got += data
            count += len(parser.feed(data))
        sock.settimeout(5)
        sock.sendall(ours[-1].to_bytes())  # Logoff: Goodbye, then the server closes
        while data := sock.recv(65536):
            got += data
        sock.close()
    actual = normalise(got)
    if name in TRIMMED:
        actual = drop_events(actual, {"FullyBooted", "SuccessfulAuth"})
    return normalise(joined(session, ASTERISK)), actual, count


@pytest.mark.parametrize("name", TRANSCRIPTS + sorted(TRIMMED))
def test_simulator_speaks_like_the_transcript(name):
    expected, actual, count = replay_against_simulator(name)
    assert count > 20
    assert actual.decode().split("\r\n") == expected.decode().split("\r\n")


def test_transcript_timing_comes_from_the_clock():
    """answer: Answer(), 0.5 s, Wait(3), Hangup — nothing moves until the fake clock does."""
    clock = FakeClock()
    with AMIServer(clock=clock, auth_fail_delay=0) as server:
        events: list[Message] = []
        c = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret", reconnect=False)
        c.on("*", events.append)
        c.connect()
        handle = c.originate("Local/answer@tx-outcomes", context="tx-orig-target", exten="s",
                             caller_id='"Tx Test" <5550100>', timeout_ms=6000)
        assert handle.result(5)["Reason"] == "4"
        time.sleep(0.1)
        assert not [e for e in events if e.name == "Hangup"]
        clock.advance(seconds=0.5)
        clock.advance(seconds=2.9)
        time.sleep(0.1)
        assert not [e for e in events if e.name == "Hangup"]
        clock.advance(seconds=0.1)
        _wait_for(lambda: len([e for e in events if e.name == "Hangup"]) == 2)
        assert {e["Uniqueid"]: e["Cause"] for e in events if e.name == "Hangup"} == {
            handle.channel_id: "16", handle.other_channel_id: "16"}
        c.logoff()


def _wait_for(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_bad_secret_is_refused_after_the_configured_delay_and_closed():
    with AMIServer(auth_fail_delay=0.2) as server:
        c = AMIClient("127.0.0.1", server.port, "dialfunnel", "wrong", reconnect=False)
        start = time.monotonic()
        with pytest.raises(AMIAuthError, match="'dialfunnel' refused: Authentication failed"):
            c.connect()
        assert time.monotonic() - start >= 0.2
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(b"Action: Login\r\nActionID: x\r\nUsername: nobody\r\nSecret: s\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        assert data.endswith(b"Response: Error\r\nActionID: x\r\nMessage: Authentication failed\r\n\r\n")


def test_permission_unknown_action_and_events_off():
    with AMIServer(clock=FakeClock(), auth_fail_delay=0) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(b"Action: Ping\r\nActionID: early\r\n\r\n")
        sock.sendall(b"Action: Login\r\nActionID: l\r\nUsername: dialfunnel\r\nSecret: dialfunnel-secret\r\nEvents: off\r\n\r\n")
        sock.sendall(b"Action: Nope\r\nActionID: n\r\n\r\nActionID: m\r\n\r\n")
        sock.sendall(b"Action: Originate\r\nActionID: o\r\nChannel: Local/busy@tx-outcomes\r\nContext: c\r\n"
                     b"Exten: s\r\nPriority: 1\r\nAsync: true\r\n\r\nAction: Logoff\r\nActionID: bye\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        msgs = list(iter_messages(data, expect_banner=True))
        assert [(m.action_id, m.response, m.get("Message")) for m in msgs] == [
            ("early", "Error", "Permission denied"), ("l", "Success", "Authentication accepted"),
            ("n", "Error", "Invalid/unknown command"), ("m", "Error", "Missing action in request"),
            ("o", "Success", "Originate successfully queued"), ("bye", "Goodbye", "Thanks for all the fish.")]


def test_hangup_action_with_cause_ends_a_ringing_call():
    clock = FakeClock()
    scenario = Scenario(numbers={"13800000001": "noanswer"})
    with AMIServer(clock=clock, scenario=scenario, auth_fail_delay=0) as server:
        events: list[Message] = []
        c = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret", reconnect=False)
        c.on("*", events.append)
        c.connect()
        handle = c.originate("Local/13800000001@dialfunnel-outbound", context="dialfunnel-outbound-answered",
                             exten="s", timeout_ms=30000, caller_id="4008001234")
        _wait_for(lambda: any(e.name == "DialState" for e in events))
        o1 = next(e["Channel"] for e in events if e.name == "Newchannel")
        assert o1 == "Local/13800000001@dialfunnel-outbound-00000001;1"
        assert c.hangup("Local/nobody@x-00000009;1")["Message"] == "No such channel"
        assert c.hangup(o1, cause=21)["Message"] == "Channel Hungup"
        result = handle.result(5)
        assert (result["Response"], result["Reason"], result["Channel"]) == (
            "Failure", "1", "Local/13800000001@dialfunnel-outbound")
        _wait_for(lambda: len([e for e in events if e.name == "Hangup"]) == 2)
        hangups = [(e["Uniqueid"], e["Cause"], e["Cause-txt"]) for e in events if e.name == "Hangup"]
        assert hangups == [(handle.channel_id, "21", "Call Rejected"), (handle.other_channel_id, "21", "Call Rejected")]
        assert next(e for e in events if e.name == "NewCallerid")["CallerIDNum"] == "4008001234"
        clock.advance(seconds=60)  # the cancelled script must not go on
        time.sleep(0.05)
        assert len([e for e in events if e.name == "OriginateResponse"]) == 1
        c.logoff()


def test_answer_after_ringing_and_sync_originate():
    clock = FakeClock()
    scenario = Scenario(numbers={"8001": "answer", "8002": "busy"},
                        timing={"answer": {"ring_time": 4.0, "talk_time": (20.0, 30.0)}})
    with AMIServer(clock=clock, scenario=scenario, auth_fail_delay=0) as server:
        events: list[Message] = []
        c = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret", reconnect=False)
        c.on("*", events.append)
        c.connect()
        handle = c.originate("Local/8001@out", context="tx-orig-target", exten="s", timeout_ms=30000)
        _wait_for(lambda: any(e.name == "DialState" for e in events))
        assert not handle.done
        clock.advance(seconds=4)
        assert handle.result(5)["Reason"] == "4"
        talk = server.calls[handle.channel_id].durations["talk_time"]
        assert 20.0 <= talk <= 30.0
        clock.advance(seconds=40)
        _wait_for(lambda: len([e for e in events if e.name == "Hangup"]) == 2)
        names = [e.name for e in events if e.name in ("DialState", "DialEnd", "OriginateResponse", "Hangup")]
        assert names == ["DialState", "DialEnd", "OriginateResponse", "Hangup", "Hangup"]
        wait_app = [e["AppData"] for e in events if e.name == "Newexten" and e["Application"] == "Wait"]
        assert wait_app == ["4", "10", f"{talk:g}"]

        # a synchronous Originate is answered when the call fails, with no OriginateResponse
        sync = c.send_action("Originate", {"Channel": "Local/8002@out", "Context": "x", "Exten": "s", "Priority": 1})
        assert (sync.response, sync["Message"]) == ("Error", "Originate failed")
        c.logoff()


def test_core_show_channels_names_the_bridge_of_the_bridged_channels_only():
    clock = FakeClock()
    scenario = Scenario(timing={"manual": {"ring_time": 2.0, "talk_time": 60.0}})
    with AMIServer(clock=clock, scenario=scenario, auth_fail_delay=0) as server:
        events: list[Message] = []
        c = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret", reconnect=False)
        c.on("*", events.append)
        c.connect()

        def listed():
            before = len(events)
            c.send_action("CoreShowChannels", check=True)
            _wait_for(lambda: any(e.name == "CoreShowChannelsComplete" for e in events[before:]))
            return {e["Channel"]: e["BridgeId"] for e in events[before:] if e.name == "CoreShowChannel"}

        server.phone_call("8001", "13900000077")
        _wait_for(lambda: any(e.name == "DialBegin" for e in events))
        assert set(listed().values()) == {""}                   # ringing: no bridge yet
        clock.advance(seconds=3)
        _wait_for(lambda: len([e for e in events if e.name == "BridgeEnter"]) == 2)
        [bridge] = {e["BridgeUniqueid"] for e in events if e.name == "BridgeEnter"}
        channels = listed()
        assert len(channels) == 2 and set(channels.values()) == {bridge}
        c.logoff()


def test_outcome_choice_is_data_and_reproducible():
    scenario = Scenario(seed=42, numbers={"13900000000": "absent"}, prefixes={"170": "invalid", "1709": "busy"})
    rng = random.Random(0)
    assert scenario.outcome_for("13900000000", "out", rng) == "absent"
    assert scenario.outcome_for("17012345678", "out", rng) == "invalid"
    assert scenario.outcome_for("17091234567", "out", rng) == "busy"     # longest prefix wins
    assert scenario.outcome_for("busy", "tx-outcomes", rng) == "busy"   # Local/busy@... as recorded
    assert scenario.outcome_for("cause-18", "out", rng) == "cause-18"
    assert scenario.outcome_for("s", "tx-queue-in", rng) == "queue"
    draws = [Scenario(seed=42).outcome_for(str(n), "out", random.Random(f"42:{n}:0")) for n in range(4000)]
    again = [Scenario(seed=42).outcome_for(str(n), "out", random.Random(f"42:{n}:0")) for n in range(4000)]
    assert draws == again
    share = {o: draws.count(o) / len(draws) for o in OUTCOMES}
    for outcome, rate in Scenario().rates.items():
        assert abs(share[outcome] - rate) < 0.03, (outcome, share[outcome], rate)
    durations = Scenario(timing={"answer": {"talk_time": (5.0, 9.0)}}).durations("answer", random.Random(1))
    assert 5.0 <= durations["talk_time"] <= 9.0 and durations["answer_delay"] == 0.5
    assert parse_callerid('"Tx Test" <5550100>') == ("5550100", "Tx Test")
    assert parse_callerid("5550100") == ("5550100", "<unknown>")
    assert parse_callerid(None) == ("<unknown>", "<unknown>")


def test_same_seed_same_outcomes_over_the_wire():
    def run() -> list[tuple[str, str]]:
        clock = FakeClock()
        with AMIServer(clock=clock, scenario=Scenario(seed=7), auth_fail_delay=0) as server:
            c = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret", reconnect=False)
            c.connect()
            handles = [c.originate(f"Local/1380000{n:04d}@out", context="x", exten="s", timeout_ms=20000,
                                   channel_id=f"c{n}", other_channel_id=f"d{n}") for n in range(30)]
            for _ in range(40):
                clock.advance(seconds=5)
            results = [(h.channel_id, h.result(5)["Reason"]) for h in handles]
            c.logoff()
            return results
    first = run()
    assert first == run()
    assert len({reason for _, reason in first}) >= 3


def test_scaled_clock_runs_a_minute_in_a_fraction_of_a_second():
    scenario = Scenario(numbers={"1": "answer"}, timing={"answer": {"ring_time": 10.0, "talk_time": 50.0}})
    with AMIServer(clock=ScaledClock(speed=600), scenario=scenario, auth_fail_delay=0) as server:
        done = threading.Event()
        c = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret", reconnect=False)
        c.on("Hangup", lambda e: done.set())
        c.connect()
        start = time.monotonic()
        c.originate("Local/1@out", context="x", exten="s", timeout_ms=30000)
        assert done.wait(5)
        assert time.monotonic() - start < 1.5
        c.logoff()


def test_finished_calls_leave_the_live_index_that_channel_lookups_scan():
    """A day's simulation places thousands of calls; each Originate and Hangup looks its channel
    up among the calls in progress only (scanning every call since start made each hour slower)."""
    clock = FakeClock()
    scenario = Scenario(numbers={"8001": "busy", "8002": "noanswer"})
    with AMIServer(clock=clock, scenario=scenario, auth_fail_delay=0) as server:
        c = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret", reconnect=False)
        c.connect()
        busy = c.originate("Local/8001@out", context="x", exten="s", timeout_ms=30000)
        ringing = c.originate("Local/8002@out", context="x", exten="s", timeout_ms=30000)
        _wait_for(lambda: ringing.channel_id in server.live and busy.channel_id in server.calls)
        for _ in range(20):       # the busy call ends within seconds; the other rings for 30 s
            if server.calls[busy.channel_id].done:
                break
            clock.advance(seconds=1)
            time.sleep(0.02)
        assert busy.result(5)["Reason"] == "5"
        _wait_for(lambda: list(server.live) == [ringing.channel_id])
        assert set(server.calls) == {busy.channel_id, ringing.channel_id}   # kept for inspection
        assert [call.channel_id for call in server.live_calls()] == [ringing.channel_id]
        assert server.find_leg(busy.channel_id) is None
        _wait_for(lambda: server.find_leg(ringing.channel_id) is not None)   # its channel is up
        assert server.find_leg(ringing.channel_id)[1] == "o1"
        c.logoff()
