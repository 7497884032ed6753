"""The simulator's queue actions against a real Asterisk 22's bytes
(captures-2026-12/ami-queue-members.txt): QueueAdd, QueuePause with a UTF-8 Reason, QueueStatus,
QueueRemove, and a caller who waits while the only member is paused."""
from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import socket

from agi.ami.wire import Message, Parser, encode, iter_messages
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock

from tests.ami_helpers import OURS, joined, sessions, turns
from tests.repo_paths import ASTERISK as FIXTURES

CAPTURE = "captures-2026-12/ami-queue-members.txt"
START = dt.datetime.fromtimestamp(1796601224.3, dt.timezone.utc)   # the capture's LoginTime


def _queue_message(msg: Message) -> bool:
    """What the queue actions send: their responses and list items, the member events and the
    queue's device states (not the caller's channel events)."""
    name = msg.name or ""
    return (not msg.is_event or name.startswith("QueueMember") or name in (
        "QueueParams", "QueueEntry", "QueueStatusComplete")
        or (name == "DeviceStateChange" and (msg.get("Device") or "").startswith("Queue:")))


def _expected_by_action() -> list[tuple[Message, bytes]]:
    """(our action, the bytes Asterisk answered it with), in the capture's order."""
    out: list[tuple[Message, bytes]] = []
    action = None
    for direction, data in turns(sessions(CAPTURE)[0]):
        if direction == OURS:
            action = next(iter_messages(data))
            out.append((action, b""))
        elif out:
            kept = [m for m in iter_messages(data) if _queue_message(m)]
            out[-1] = (action, out[-1][1] + b"".join(m.to_bytes() for m in kept))
    return out


class Wire:
    def __init__(self, server, clock):
        self.clock, self.server = clock, server
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        self.parser = Parser(expect_banner=True)
        self.sock.settimeout(0.1)
        self.send(Message([("Action", "Login"), ("Username", "dialfunnel"),
                           ("Secret", "dialfunnel-secret"), ("Events", "on")]))

    def send(self, msg: Message) -> list[Message]:
        self.sock.sendall(msg.to_bytes())
        return self.read()

    def read(self) -> list[Message]:
        got: list[Message] = []
        while True:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return got
            if not data:
                return got
            got += self.parser.feed(data)


def test_queue_actions_answer_with_the_captures_bytes():
    clock = FakeClock(START)
    scenario = Scenario(queue_strategies={"cap-q": "ringall"}, queue="cap-q",
                        contexts={"cap-caller": "queue"}, timing={"queue_abandon": {"queue_wait": 3.0}})
    with AMIServer(clock=clock, scenario=scenario, auth_fail_delay=0) as server:
        wire = Wire(server, clock)
        compared = 0
        for action, expected in _expected_by_action():
            name = action.action
            if name in ("Login", "Logoff"):
                continue
            if name == "QueuePause":
                clock.advance(seconds=1)
            got = wire.send(action)
            if name == "Originate":   # the caller waits: nobody to offer it to
                clock.advance(seconds=1)
                server.scheduler.settle()
                wire.read()
                continue
            if action.action_id == "q-status-waiting":
                entries = [m for m in got if m.name == "QueueEntry"]
                want = [m for m in iter_messages(expected) if m.name == "QueueEntry"]
                assert [k for k, _ in entries[0].headers] == [k for k, _ in want[0].headers]
                assert entries[0]["CallerIDNum"] == "13900000009" and entries[0]["Wait"] == "1"
                clock.advance(seconds=3)   # the caller gives up (HoldTime 3)
                server.scheduler.settle()
                wire.read()
                continue
            actual = b"".join(m.to_bytes() for m in got if _queue_message(m))
            assert actual.decode().split("\r\n") == expected.decode().split("\r\n"), name
            compared += 1
        assert compared == 7   # add, pause, status, unpause, status, remove, status
        assert b"Reason: \xe5\x8d\x88\xe9\xa5\xad\r\n" in joined(sessions(CAPTURE)[0], OURS)
        assert server.actions("QueuePause")[0]["Reason"] == "午饭"


def _connect(server) -> "Wire":
    return Wire(server, server.clock)


def test_refusals_as_app_queue_words_them():
    with AMIServer(clock=FakeClock(START), auth_fail_delay=0) as server:
        wire = _connect(server)

        def ask(*headers):
            return wire.send(Message(headers))[0]
        assert ask(("Action", "QueueAdd"), ("Queue", "nope"), ("Interface", "PJSIP/8001"))[
            "Message"] == "Unable to add interface to queue: No such queue"
        assert ask(("Action", "QueueAdd"), ("Queue", "sales"))["Message"] == "'Queue' or 'Interface' not set."
        assert ask(("Action", "QueueAdd"), ("Queue", "sales"), ("Interface", "PJSIP/8001"))[
            "Message"] == "Added interface to queue"
        assert ask(("Action", "QueueAdd"), ("Queue", "sales"), ("Interface", "PJSIP/8001"))[
            "Message"] == "Unable to add interface: Already there"
        assert ask(("Action", "QueuePause"), ("Interface", "PJSIP/8009"), ("Paused", "true"))[
            "Message"] == "Interface not found"
        assert ask(("Action", "QueueRemove"), ("Queue", "sales"), ("Interface", "PJSIP/8009"))[
            "Message"] == "Unable to remove interface: Not there"


def test_a_queued_caller_is_not_offered_to_a_paused_member():
    clock = FakeClock(START)
    with AMIServer(clock=clock, auth_fail_delay=0) as server:
        wire = _connect(server)
        for ext in ("8001", "8002"):
            wire.send(Message([("Action", "QueueAdd"), ("Queue", "sales"),
                               ("Interface", f"PJSIP/{ext}"), ("MemberName", f"Agent {ext}")]))
        wire.send(Message([("Action", "QueuePause"), ("Interface", "PJSIP/8001"),
                           ("Paused", "true"), ("Reason", "午饭")]))

        def call(n):
            got = wire.send(Message([("Action", "Originate"),
                                     ("Channel", f"Local/1390000000{n}@tx-queue-in"),
                                     ("Context", "tx-caller"), ("Exten", "s"), ("Priority", "1"),
                                     ("Async", "true"), ("CallerID", f"<1390000000{n}>")]))
            for _ in range(12):
                clock.advance(seconds=1)
                server.scheduler.settle()
                got += wire.read()
            return got
        offered = [m for m in call(1) if m.name == "AgentCalled"]
        assert [m["Interface"] for m in offered] == ["PJSIP/8002"]
        assert offered[0]["MemberName"] == "Agent 8002"
        wire.send(Message([("Action", "QueuePause"), ("Interface", "PJSIP/8002"),
                           ("Paused", "true"), ("Reason", "meal")]))
        events = call(2)
        assert not [m for m in events if m.name == "AgentCalled"]
        assert [m.name for m in events if (m.name or "").startswith("QueueCaller")] == [
            "QueueCallerJoin", "QueueCallerAbandon", "QueueCallerLeave"]


def test_member_events_carry_the_raw_utf8_reason():
    clock = FakeClock(START)
    with AMIServer(clock=clock, auth_fail_delay=0) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(encode([("Action", "Login"), ("Username", "dialfunnel"),
                             ("Secret", "dialfunnel-secret")]))
        sock.sendall(encode([("Action", "QueueAdd"), ("Queue", "sales"), ("Interface", "PJSIP/8003")]))
        sock.sendall(encode([("Action", "QueuePause"), ("Interface", "PJSIP/8003"),
                             ("Paused", "true"), ("Reason", "午饭")]))
        data = b""
        sock.settimeout(0.3)
        try:
            while b"QueueMemberPause" not in data or not data.endswith(b"\r\n\r\n"):
                data += sock.recv(65536)
        except socket.timeout:
            pass
        sock.close()
        assert b"PausedReason: \xe5\x8d\x88\xe9\xa5\xad\r\n" in data


# The one real queue call answered by a member (real-run-2026-12/ami-a4q: a Local member, whose
# ;1 is the leg the queue rings and bridges); these events of that leg, in order, are what a
# phone member's one channel shows too (a device has no ;2 half).
REAL_QUEUE_CALL = "real-run-2026-12/ami-a4q.jsonl.gz"
MEMBER_EVENTS = ("Newchannel", "AgentCalled", "DialBegin", "Newstate", "DialEnd", "AgentConnect",
                 "BridgeEnter", "HangupRequest", "AgentComplete", "BridgeLeave", "Hangup")


def _member_leg(events, channel: str) -> list[tuple[str, str]]:
    """(event, how the leg appears: its own channel, the Dest of the caller's, or ChannelState)."""
    out = []
    for event in events:
        name = event.get("Event")
        if name not in MEMBER_EVENTS or channel not in (event.get("Channel"), event.get("DestChannel")):
            continue
        how = "dest" if event.get("DestChannel") == channel else "own"
        out.append((name, event.get("ChannelState") if name == "Newstate" else how))
    return out


def _real_queue_call() -> tuple[list[dict], str]:
    with gzip.open(FIXTURES / REAL_QUEUE_CALL, "rt") as f:
        events = [json.loads(line) for line in f if line.strip() and not line.startswith("====")]
    [member] = {e["DestChannel"] for e in events if e.get("Event") == "AgentConnect"}
    return events, member


def test_a_phone_member_rings_one_pjsip_channel_with_the_real_event_order():
    """QueueAdd Interface=PJSIP/<ext>: app_queue requests that device, so the member's leg is
    PJSIP/<ext>-<seq>, one channel; its events follow the real member leg's."""
    real, real_member = _real_queue_call()
    clock = FakeClock(START)
    with AMIServer(clock=clock, auth_fail_delay=0) as server:
        wire = _connect(server)
        wire.send(Message([("Action", "QueueAdd"), ("Queue", "sales"), ("Interface", "PJSIP/8001"),
                           ("MemberName", "Agent 8001")]))
        got = wire.send(Message([("Action", "Originate"), ("Channel", "Local/13900000001@tx-queue-in"),
                                 ("Context", "tx-caller"), ("Exten", "s"), ("Priority", "1"),
                                 ("Async", "true"), ("CallerID", "<13900000001>")]))
        for _ in range(15):
            clock.advance(seconds=1)
            server.scheduler.settle()
            got += wire.read()
    events = [dict(m.headers, Event=m.name) for m in got if m.is_event]
    [member] = {e["DestChannel"] for e in events if e["Event"] == "AgentConnect"}
    assert re.fullmatch(r"PJSIP/8001-[0-9a-f]{8}", member)
    assert not any((e.get("Channel") or "").startswith("PJSIP/8001-") and ";" in e["Channel"]
                   for e in events), "a device member has no Local-style ;1/;2 pair"
    assert _member_leg(events, member) == _member_leg(real, real_member)
    [complete] = [e for e in events if e["Event"] == "AgentComplete"]
    assert (complete["Interface"], complete["MemberName"]) == ("PJSIP/8001", "Agent 8001")
