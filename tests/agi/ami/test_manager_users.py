"""The call log's own AMI user of dialplan/manager_dialfunnel.conf (``dialfunnel-calllog``):
Asterisk filters its events by the user's eventfilter lines, so the writer's process asks for
nothing with the Filter action (which needs the ``system`` class no user of ours has). The
simulator is given the shipped snippet's users, write classes and filters
(agi/pbxsim/manager_conf.py), as Asterisk reads them."""
from __future__ import annotations

import re

import pytest

from agi.ami.call_log import EVENTS
from agi.ami.call_log_process import EVENT_CLASSES, CallLogProcess
from agi.ami.client import AMIClient
from agi.ami.listener import EVENTS as LISTENER_CLASSES
from agi.ami.listener import POP_EVENTS
from agi.pbxsim.ami_filters import FilterError
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.manager_conf import manager_users, parse

from tests.agi.ami.test_call_log import (SECRET, agents, ended_call, placed, run,  # noqa: F401
                                         simclock, wait_for)
from tests.repo_paths import ROOT

SNIPPET = (ROOT / "dialplan" / "manager_dialfunnel.conf").read_text(encoding="utf-8")
USER = "dialfunnel-calllog"
POPS = "dialfunnel-pops"
VARSET_CRITERIA = "action(include),name(VarSet),header(Variable),method(regex)"


def filtered_names(user: dict) -> set[str]:
    names = set()
    for criteria, expression in user["eventfilter"]:
        m = re.fullmatch(r"action\(include\),name\((\w+)\)", criteria or "")
        assert m and expression == "", (criteria, expression)
        names.add(m.group(1))
    return names


def test_the_call_log_users_filters_are_the_call_logs_events():
    users = parse(SNIPPET)
    assert set(users) == {"dialfunnel", USER, POPS, "dialfunnel-dialer"}
    user = users[USER]
    # the list answer of CoreShowChannels is never filtered (it is not an event broadcast)
    assert filtered_names(user) == set(EVENTS) - {"CoreShowChannel", "CoreShowChannelsComplete"}
    assert set(EVENT_CLASSES.split(",")) <= user["read"]
    assert user["secret"] == users["dialfunnel"]["secret"] == "__DIALFUNNEL_AMI_SECRET__"
    assert "system" not in user["write"] | users["dialfunnel"]["write"]
    server = AMIServer(**manager_users(SNIPPET, secret=SECRET))
    assert server.may(USER, "coreshowchannels") and not server.may(USER, "filter")
    assert not server.may(USER, "originate") and not server.may(USER, "hangup")


def test_a_malformed_eventfilter_line_is_refused_as_asterisk_refuses_it():
    with pytest.raises(FilterError):
        manager_users("[x]\nsecret = s\neventfilter(action(maybe),name(Hangup)) =\n")


@pytest.fixture
def pbx(simclock):
    scenario = Scenario(seed=5, dial_agent="Local/8001@agents", queue_member="Local/8001@agents/n",
                        numbers={"13900000001": "answer"})
    server = AMIServer(scenario=scenario, clock=simclock, auth_fail_delay=0, channel_seq=0,
                       timestamp_events=True, **manager_users(SNIPPET, secret=SECRET)).start()
    yield server
    server.stop()


def test_the_writer_logged_in_as_its_own_user_gets_only_its_events(db_url, Session, agents, pbx):
    seen = AMIClient("127.0.0.1", pbx.port, USER, SECRET, events=EVENT_CLASSES)
    names = []
    seen.on("*", lambda msg: names.append(msg.name))
    seen.connect()
    writer = CallLogProcess(db_url, port=pbx.port, username=USER, secret=SECRET,
                            asterisk_filters=True).start()
    try:
        wait_for(lambda: writer.status()["stats"].get("reconciles", 0) >= 1, timeout=30)
        assert writer.status()["connected"] and writer.status()["filtered"]
        assert pbx.actions("Filter") == []
        sim_call = placed(pbx, pbx.phone_call("8001", "13900000077"))
        run(pbx, 7)
        call = ended_call(Session, sim_call.channel_id)
        assert (call.direction, call.user_id, call.to_number) == (
            "manual", agents["tm"].id, "+8613900000077")
        assert call.talk_seconds == 4.0
    finally:
        stats = writer.stop()
        seen.close()
    assert stats.get("errors", 0) == 0
    # Newstate, VarSet, MixMonitor*... of the same classes never reached the user
    assert "Hangup" in names and set(names) - {"FullyBooted"} <= set(EVENTS)


def test_the_listeners_user_filters_are_the_pops_events():
    user = parse(SNIPPET)[POPS]
    varset = [(c, e) for c, e in user["eventfilter"] if c == VARSET_CRITERIA]
    assert varset == [(VARSET_CRITERIA, "^(MIXMONITOR_FILENAME|DIALFUNNEL_AGENT)$")]
    names = filtered_names({"eventfilter": [f for f in user["eventfilter"] if f not in varset]})
    assert names | {"VarSet"} == set(POP_EVENTS)
    assert set(LISTENER_CLASSES.split(",")) <= user["read"] and not user["write"]
    assert user["secret"] == "__DIALFUNNEL_AMI_SECRET__"


def test_the_listener_logged_in_as_its_own_user_pops_and_records(session, Session, agents,
                                                                 simclock, tmp_path):
    """A ring pops, MIXMONITOR_FILENAME reaches it, and nothing else of its classes does."""
    from agi.ami.listener import ScreenPopListener
    from recordings.store import RecordingStore
    from tests.agi.ami.test_screen_pop import _mixmonitor
    from tests.recordings.test_recordings_store import make_wav

    scenario = Scenario(seed=3, dial_agent="Local/8001@agents", queue_member="Local/8001@agents/n")
    pbx = AMIServer(scenario=scenario, clock=simclock, auth_fail_delay=0,
                    **manager_users(SNIPPET, secret=SECRET)).start()
    store = RecordingStore(tmp_path / "recordings").ensure()
    seen = AMIClient("127.0.0.1", pbx.port, POPS, SECRET, events=LISTENER_CLASSES)
    heard = []
    seen.on("*", lambda msg: heard.append((msg.name, msg.get("Variable"))))
    seen.connect()
    pops, recs = [], []
    listener = ScreenPopListener(Session, host="127.0.0.1", port=pbx.port, username=POPS,
                                 secret=SECRET, store=store, settle_seconds=0.05,
                                 call_log=False, asterisk_filters=True,
                                 on_pop=lambda *a: pops.append(a), on_recording=recs.append).start()
    caller = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET, events=False)
    caller.connect()
    try:
        assert listener.wait_connected(5)
        handle = caller.originate("Local/s@tx-dial-in", context="tx-caller", exten="s",
                                  caller_id='"Li Lei" <13800138000>')
        wait_for(lambda: pops, timeout=5)
        assert pops[0][1] == agents["tm"].id
        uid = handle.other_channel_id
        make_wav(store.incoming / f"{uid}.wav", seconds=1)
        _mixmonitor(pbx, handle, f"/var/spool/asterisk/monitor/{uid}.wav")
        pbx.emit("VarSet", pbx.calls[handle.channel_id].chan("o2")
                 + [("Variable", "BRIDGEPEER"), ("Value", "Local/8001@agents-00000001;1")])
        simclock.advance(seconds=30)
        wait_for(lambda: recs, timeout=15)
    finally:
        listener.stop()
        caller.close()
        seen.close()
        pbx.stop()
    assert pbx.actions("Filter") == []
    names = {name for name, _ in heard} - {"FullyBooted"}
    assert "DialBegin" in names and "Hangup" in names and names <= set(POP_EVENTS)
    assert {v for name, v in heard if name == "VarSet"} == {"MIXMONITOR_FILENAME"}
    assert listener.stats["errors"] == 0


DIALER = "dialfunnel-dialer"


def test_the_dialer_users_filters_are_what_the_dialer_process_hears():
    from agi.dialer.process import EVENT_CLASSES as DIALER_CLASSES
    from agi.dialer.process import HEARD

    users = parse(SNIPPET)
    user = users[DIALER]
    assert filtered_names(user) == set(HEARD)
    assert user["write"] == users["dialfunnel"]["write"]
    assert set(DIALER_CLASSES.split(",")) <= user["read"]
    server = AMIServer(**manager_users(SNIPPET, secret=SECRET))
    assert server.may(DIALER, "originate") and not server.may(DIALER, "filter")


def test_the_dialer_process_logged_in_as_its_own_user_places_a_click_to_call(Session, agents,
                                                                            make_customer):
    """What the dialer process hears through its user's filters is enough to follow a
    click-to-call to its end, and nothing else of its classes reaches it."""
    import dataclasses

    from agi.dialer.process import HEARD, start_dialer
    from config.settings import Settings
    from tests.agi.dialer.test_click_to_call import request, state_of

    customer = make_customer(owner="tm", mobile="13900000005")
    timing = {"click": {"agent_ring": 0.2, "ring_time": 0.2, "talk_time": 0.3}}
    with AMIServer(scenario=Scenario(timing=timing), auth_fail_delay=0,
                   **manager_users(SNIPPET, secret=SECRET)) as server:
        seen = AMIClient("127.0.0.1", server.port, DIALER, SECRET, events="call,user")
        names = []
        seen.on("*", lambda msg: names.append(msg.name))
        seen.connect()
        dialer, thread = start_dialer(dataclasses.replace(Settings(), dialer_id="p"), Session,
                                      port=server.port, secret=SECRET, username=DIALER)
        try:
            request_id, _ = request(Session, agents, "tm", customer.id)
            wait_for(lambda: state_of(Session, request_id)[0] == "ended", timeout=10)
        finally:
            dialer.stop()
            thread.join(10)
            seen.close()
    assert server.actions("Originate")[0]["Channel"] == "PJSIP/8001"
    assert {m.get("Username") for m in server.actions("Login")} == {DIALER}
    assert server.actions("Filter") == []
    assert "Newstate" in names and "Hangup" in names
    assert set(names) - {"FullyBooted"} <= set(HEARD)
