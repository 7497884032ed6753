"""The simulator's click-to-call of an agent's PJSIP phone (Scenario.click_context) against the
real capture (captures-2026-12/ami-click-to-call.txt, Local channels): the same key events in
the same order once the capture's ;2 halves are left out; and ExtensionState as manager.c's
action_extensionstate answers it."""
from __future__ import annotations

import datetime as dt

import pytest

from agi.ami.client import AMIClient
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock

from tests.agi.ami.test_call_log import KEY_EVENTS, _capture_events, _sim_events

T0 = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)
SECRET = "dialfunnel-secret"


def roles(msgs, agent_uid):
    """Key events as (event, role, dest role, status, cause, response): the agent's leg is our
    ChannelId, the customer's the one the agent's leg dials; ;2 halves are left out."""
    customer = next(m.get("DestUniqueid") for m in msgs
                    if m.name == "DialBegin" and m.get("Uniqueid") == agent_uid)
    role = {agent_uid: "agent", customer: "customer"}
    out = []
    for m in msgs:
        if m.name not in KEY_EVENTS or (m.get("Channel") or "").endswith(";2") \
                or (m.get("DestChannel") or "").endswith(";2"):
            continue
        out.append((m.name, role.get(m.get("Uniqueid")), role.get(m.get("DestUniqueid")),
                    m.get("DialStatus"), m.get("Cause"), m.get("Response")))
    return out


@pytest.fixture
def pbx():
    server = AMIServer(scenario=Scenario(seed=1, phones={"8004": "unavailable"}),
                       clock=FakeClock(T0), auth_fail_delay=0, channel_seq=0).start()
    yield server
    server.stop()


def test_the_agents_phone_then_the_customer_as_captured(pbx):
    captured = _capture_events("ami-click-to-call.txt")
    got = _sim_events(pbx, lambda c: c.originate(
        "PJSIP/8001", context="dialfunnel-click-to-call", exten="13900000001", timeout_ms=30000,
        channel_id="c2c-1", variables={"DIALFUNNEL_AGENT": "8001"}), 8)
    assert roles(got, "c2c-1") == roles(captured, "c2c-0001-agent")
    assert {m.get("Linkedid") for m in got if m.name == "Newchannel"} == {"c2c-1"}
    new = [m.get("Channel") for m in got if m.name == "Newchannel"]
    assert new[0].startswith("PJSIP/8001-") and new[1].startswith("PJSIP/dialfunnel-trunk-")
    dial = next(m for m in got if m.name == "DialBegin" and m.get("Uniqueid") == "c2c-1")
    assert (dial.get("Exten"), dial.get("DialString")) == ("13900000001", "13900000001@dialfunnel-trunk")


def test_extension_state_answers_like_manager_c(pbx):
    client = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET, events=False)
    client.connect()
    try:
        idle = client.send_action("ExtensionState", [("Exten", "8001"), ("Context", "dialfunnel-hints")],
                                  action_id="es-1", check=True)
        gone = client.send_action("ExtensionState", [("Exten", "8004"), ("Context", "dialfunnel-hints")])
        none = client.send_action("ExtensionState", [("Exten", "9001"), ("Context", "dialfunnel-hints")])
        missing = client.send_action("ExtensionState", [("Context", "dialfunnel-hints")])
    finally:
        client.close()
    assert idle.headers == [("Response", "Success"), ("ActionID", "es-1"), ("Message", "Extension Status"),
                            ("Exten", "8001"), ("Context", "dialfunnel-hints"), ("Hint", "PJSIP/8001"),
                            ("Status", "0"), ("StatusText", "Idle")]
    assert (gone.get("Status"), gone.get("StatusText")) == ("4", "Unavailable")
    assert (none.get("Hint"), none.get("Status"), none.get("StatusText")) == ("", "-1", "Unknown")
    assert (missing.get("Response"), missing.get("Message")) == ("Error", "Extension not specified")
