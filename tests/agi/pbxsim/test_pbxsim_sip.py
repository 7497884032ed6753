"""The PBX simulator against the real Asterisk 22 run of December 2026 (real-run-2026-12): a SIP
trunk's failures (ami-sip-causes, ami-a5's PJSIP calls) and the Congestion() order of ami-a5.
Every header of every event of the call must match, once the ids that differ per run are
replaced."""
from __future__ import annotations

import gzip
import json
import re
import time

import pytest

from agi.ami.client import AMIClient
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock

from tests.repo_paths import FIXTURES

RUN = FIXTURES / "asterisk" / "real-run-2026-12"
NUMBER = "+8613900000099"
CALL_EVENTS = ("Newchannel", "Newexten", "NewCallerid", "NewConnectedLine", "Newstate", "DialBegin",
               "DialState", "DialEnd", "HangupRequest", "SoftHangupRequest", "Hangup",
               "OriginateResponse", "DeviceStateChange")


def load(name: str) -> list[list[dict]]:
    """The runs of a log (split at its "==== date ====" lines), each a list of events."""
    runs: list[list[dict]] = [[]]
    for line in gzip.open(RUN / f"{name}.jsonl.gz", "rt"):
        if line.startswith("{"):
            runs[-1].append(json.loads(line))
        elif line.startswith("===="):
            runs.append([])
    return [r for r in runs if r]


def calls_of(events: list[dict]) -> list[list[dict]]:
    """Each Originate's events: from the Newchannel of its first channel to the last event
    naming one of its channels (the OriginateResponse by its Uniqueid)."""
    calls, ids = [], set()
    for e in events:
        uid = e.get("Uniqueid") or e.get("DestUniqueid")
        if e["Event"] == "Newchannel" and not e["Channel"].endswith(";2"):
            calls.append([])
            ids = set()
        if not calls or e["Event"] not in CALL_EVENTS:
            continue
        if e["Event"] == "Newchannel":
            ids.add(uid)
        if uid in ids or e["Event"] == "DeviceStateChange":
            calls[-1].append(e)
    return calls


def normalise(events, ids: dict) -> list[list[tuple[str, str]]]:
    """Headers in order; Uniqueids as U1, U2, ..., channel numbers as N; no ActionID, no _t."""
    out = []
    for e in events:
        items = e.headers if hasattr(e, "headers") else list(e.items())
        row = []
        for key, value in items:
            if key in ("_t", "ActionID"):
                continue
            if key.endswith(("Uniqueid", "Linkedid")):
                value = ids.setdefault(value, f"U{len(ids) + 1}")
            elif key.endswith("Channel"):
                value = re.sub(r"-[0-9a-f]{8}(;[12])?$", r"-N\1", value)
            row.append((key, value))
        out.append(row)
    return out


def simulate(scenario: Scenario, channel: str, *, context: str, exten: str, advance: float,
             timeout_ms: int = 30000, events_wanted: int, caller_id: str = "02155550000") -> tuple:
    clock = FakeClock()
    with AMIServer(clock=clock, scenario=scenario, auth_fail_delay=0) as server:
        got = []
        c = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret", reconnect=False)
        c.on("*", lambda m: got.append(m) if m.name in CALL_EVENTS else None)
        c.connect()
        handle = c.originate(channel, context=context, exten=exten, caller_id=caller_id,
                             timeout_ms=timeout_ms)
        deadline = time.monotonic() + 5
        moved = 0.0
        while len(got) < events_wanted and time.monotonic() < deadline:
            server.scheduler.settle()
            if moved < advance:
                clock.advance(seconds=0.5)
                moved += 0.5
            time.sleep(0.01)
        time.sleep(0.05)
        c.close()
    return handle, got


SIP_CALLS = {c[-1]["TechCause"]: c for c in calls_of(load("ami-sip-causes")[1])}
SIP_CALLS.update({c[-1]["TechCause"]: c for c in calls_of(load("ami-sip-causes")[0])})


@pytest.mark.parametrize("code", ["486", "404", "480", "484", "503", "603", "410", "408"])
def test_a_sip_carriers_failure_is_replayed_as_recorded(code):
    real = SIP_CALLS[code]
    handle, got = simulate(Scenario(numbers={NUMBER: f"sip-{code}"}), f"PJSIP/{NUMBER}@dialfunnel-trunk",
                           context="acc-caller", exten="wait", advance=2.0, events_wanted=len(real))
    ids: dict = {}
    assert normalise(got, ids) == normalise(real, {})
    assert ids[handle.channel_id] == "U1"          # the one channel is our ChannelId
    assert handle.other_channel_id not in ids      # and there is no ;2 half


def test_a_pjsip_originate_ringing_past_its_timeout():
    """ami-a5, the first PJSIP call: no DialState, no DialEnd; Hangup 19 (TechCause 480), then
    OriginateResponse Reason 3."""
    real = next(call for run in load("ami-a5") for call in calls_of(run)
                if call[0]["Channel"].startswith("PJSIP/") and call[-1].get("Reason") == "3")
    assert [e["Event"] for e in real][-2:] == ["Hangup", "OriginateResponse"]
    handle, got = simulate(Scenario(numbers={"+8613900000002": "noanswer"}),
                           "PJSIP/+8613900000002@dialfunnel-trunk", context="dialfunnel-outbound",
                           exten="s", advance=16.0, timeout_ms=15000, events_wanted=len(real),
                           caller_id="+862155550000")
    assert normalise(got, {}) == normalise(real, {})


@pytest.mark.parametrize("outcome, code", [("busy", "486"), ("unallocated", "404"), ("absent", "480"),
                                           ("invalid", "484"), ("congestion", "503")])
def test_local_outcomes_over_a_sip_trunk(outcome, code):
    handle, got = simulate(Scenario(numbers={NUMBER: outcome}), f"PJSIP/{NUMBER}@dialfunnel-trunk",
                           context="acc-caller", exten="wait", advance=1.0, events_wanted=11)
    hangups = [m for m in got if m.name == "Hangup"]
    assert [(m["Uniqueid"], m["TechCause"]) for m in hangups] == [(handle.channel_id, code)]
    assert [m["Reason"] for m in got if m.name == "OriginateResponse"] == ["0"]


def test_congestion_as_ami_a5_recorded_it():
    """OriginateResponse Reason 8 first, our ;1 leg's Hangup with cause 0, then the far side's
    ;2 Hangup with 34 (here 3 s later: it can arrive after the response)."""
    real = next(c for c in calls_of(load("ami-a5")[0])
                if any(e.get("DialStatus") == "CONGESTION" for e in c))
    real = [e for e in real if e["Event"] != "Newexten" or e["Application"] == "AppDial2"]
    scenario = Scenario(numbers={"+8613900000003": "congestion"},
                        timing={"congestion": {"cause_lag": 3.0}})
    handle, got = simulate(scenario, "Local/+8613900000003@acc-carrier", context="dialfunnel-outbound",
                           exten="s", advance=3.0, events_wanted=len(real) + 1)
    order = [(m.name, m.get("Uniqueid"), m.get("Cause") or m.get("Reason")) for m in got
             if m.name in ("OriginateResponse", "Hangup")]
    assert order == [("OriginateResponse", handle.channel_id, "8"), ("Hangup", handle.channel_id, "0"),
                     ("Hangup", handle.other_channel_id, "34")]
    keys = ("Event", "Cause", "Cause-txt", "Reason", "Response", "DialStatus", "ChannelStateDesc")
    assert [tuple(m.get(k) for k in keys) for m in got if m.name != "Newexten"][-9:] == \
        [tuple(e.get(k) for k in keys) for e in real if e["Event"] != "Newexten"][-9:]
