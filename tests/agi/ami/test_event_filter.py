"""AMI event filters over real TCP against the simulator: the ``Filter`` action as Asterisk 22
takes it (agi/pbxsim/ami_filters.py) and the client's ``event_filter`` (sent again after every
login), which the call log's own connection uses to receive only its events."""
from __future__ import annotations

import collections
import datetime as dt
import threading
import time

import pytest

from agi.ami.client import AMIClient
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock

SECRET = "dialfunnel-secret"


def make_pbx(**kw):
    clock = FakeClock(dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.timezone.utc))
    return AMIServer(scenario=Scenario(seed=5), clock=clock, auth_fail_delay=0, **kw).start()


@pytest.fixture
def pbx():
    server = make_pbx()
    yield server
    server.stop()


class Heard:
    """A client's events by name, as they arrive."""

    def __init__(self, client: AMIClient):
        self.names: collections.Counter = collections.Counter()
        self.channels: set[str] = set()
        self.changed = threading.Condition()
        client.on("*", self.add)

    def add(self, msg):
        with self.changed:
            self.names[msg.name] += 1
            self.channels.add((msg.get("Channel") or msg.name).split("/")[0])
            self.changed.notify_all()

    def wait(self, name: str, count: int = 1, timeout: float = 5.0) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.names[name] >= count, timeout), dict(self.names)


def client(pbx, **kw) -> tuple[AMIClient, Heard]:
    c = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET, backoff_initial=0.05,
                  backoff_max=0.1, **kw)
    heard = Heard(c)
    c.connect()
    time.sleep(0.05)
    heard.names.clear(), heard.channels.clear()     # FullyBooted and our own login's come before the filters
    return c, heard


def a_call(pbx, seconds=8):
    """An agent's call from the phone, played to its end."""
    pbx.phone_call("8001", "13900000077")
    assert pbx.scheduler.settle()
    for _ in range(seconds * 2):
        pbx.clock.advance(seconds=0.5)
        assert pbx.scheduler.settle()


def test_a_filtered_client_receives_only_the_events_it_named(pbx):
    everything, all_heard = client(pbx)
    filtered, heard = client(pbx, event_filter=("Newchannel", "Hangup"))
    try:
        assert filtered.filtered
        a_call(pbx)
        all_heard.wait("Hangup", 2)
        heard.wait("Hangup", 2)
        assert set(heard.names) == {"Newchannel", "Hangup"}
        assert {"DialBegin", "Newstate", "BridgeEnter"} <= set(all_heard.names)
        assert heard.names["Newchannel"] == all_heard.names["Newchannel"]
        # a list response is not an event to filter: CoreShowChannels still lists
        listed = filtered.send_action("CoreShowChannels")
        assert listed.response == "Success"
    finally:
        filtered.close()
        everything.close()


def test_the_filters_are_sent_again_after_a_reconnect(pbx):
    filtered, heard = client(pbx, event_filter=("Hangup",))
    try:
        pbx.drop_connections()
        deadline = time.monotonic() + 5
        while not (filtered.connected and filtered.connects == 2):
            assert time.monotonic() < deadline, "no reconnect"
            time.sleep(0.01)
        assert filtered.filtered
        time.sleep(0.05)
        heard.names.clear()
        a_call(pbx)
        heard.wait("Hangup", 2)
        assert set(heard.names) == {"Hangup"}
        assert len(pbx.actions("Filter")) == 2
    finally:
        filtered.close()


def test_a_refused_filter_leaves_the_session_unfiltered():
    # the Filter action needs the system write class, which the dialfunnel user lacks
    server = make_pbx(write_classes={"dialfunnel": {"originate", "call", "reporting"}})
    try:
        c, heard = client(server, event_filter=("Hangup", "Newchannel"))
        try:
            assert not c.filtered
            a_call(server)
            heard.wait("Hangup", 2)
            assert "DialBegin" in heard.names
        finally:
            c.close()
    finally:
        server.stop()


def test_the_filter_action_as_asterisk_takes_it(pbx):
    c, heard = client(pbx)
    try:
        def add(**headers):
            return c.send_action("Filter", dict(Operation="Add", **headers))
        assert add(MatchCriteria="action(exclude),name(Newstate)").response == "Success"
        assert add(Filter="!Event: Newexten").response == "Success"      # the legacy form
        assert add(MatchCriteria="header(Channel),method(starts_with)",
                   Filter="PJSIP/").response == "Success"
        bad = add(MatchCriteria="kind(include)")
        assert (bad.response, bad.get("Message")) == (
            "Error", "Filter was formatted incorrectly.  Check the syntax of the filter given.")
        assert add(Filter="(unclosed").response == "Error"
        assert c.send_action("Filter", dict(Operation="Remove", Filter="x")).response == "Error"
        a_call(pbx)
        heard.wait("Hangup", 1)
        time.sleep(0.2)
        # included: a PJSIP/ channel's events; then Newstate and Newexten excluded
        assert heard.channels == {"PJSIP"} and "Newstate" not in heard.names
        assert "Newexten" not in heard.names and "DialBegin" in heard.names
    finally:
        c.close()
