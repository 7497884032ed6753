"""The AMI user of dialplan/manager_dialfunnel.conf may send every action dialfunnel sends: the
simulator refuses an action outside a user's write classes with "Permission denied", as
Asterisk does (main/manager.c), and here it is given the snippet's classes."""
from __future__ import annotations

import re

from agi.ami.client import AMIActionError, AMIClient
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock

from tests.repo_paths import ROOT

MANAGER = ROOT / "dialplan" / "manager_dialfunnel.conf"
SENT_BY_DIALFUNNEL = [("Ping", []), ("CoreShowChannels", []),
                      ("Hangup", [("Channel", "no-such-channel")]),
                      ("UserEvent", [("UserEvent", "DialfunnelTest")])]


def snippet_write_classes() -> set[str]:
    text = MANAGER.read_text(encoding="utf-8")
    return {c.strip() for c in re.search(r"^write\s*=\s*(.+)$", text, re.M).group(1).split(",")}


def answers(classes: set[str]) -> dict[str, str]:
    with AMIServer(clock=FakeClock(), auth_fail_delay=0,
                   write_classes={"dialfunnel": classes}) as server:
        client = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret",
                           reconnect=False)
        client.connect()
        out = {}
        try:
            for action, headers in SENT_BY_DIALFUNNEL:
                try:
                    client.send_action(action, headers, timeout=5, check=True)
                    out[action] = "ok"
                except AMIActionError as exc:
                    out[action] = str(exc)
            handle = client.originate("Local/busy@tx-outcomes", context="c", exten="s",
                                      priority=1, timeout_ms=1000)
            out["Originate"] = handle.response.response
        finally:
            client.close()
        return out


def test_the_snippets_user_may_send_what_dialfunnel_sends():
    got = answers(snippet_write_classes())
    assert all("Permission denied" not in v for v in got.values()), got
    assert got["CoreShowChannels"] == "ok" and got["Originate"] == "Success"


def test_an_action_outside_the_write_classes_is_refused_like_asterisk():
    got = answers({"originate", "call", "agent", "user", "message"})   # the snippet before
    assert "Permission denied" in got["CoreShowChannels"]
    assert "Permission denied" not in got["Hangup"] and got["Originate"] == "Success"
