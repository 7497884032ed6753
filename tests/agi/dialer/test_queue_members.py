"""The queue membership reconciler (agi.dialer.queue_members) over a real AMI socket against the
PBX simulator: queue logins become QueueAdd, pauses QueuePause with the UTF-8 reason, logouts
QueueRemove; a queued caller is not offered to the paused member; after a reconnect the
membership is put right again; a queue call answered moves the agent's one state."""
from __future__ import annotations

import time

import pytest

from agi.ami.client import AMIClient
from agi.ami.listener import ScreenPopListener
from agi.dialer.queue_members import QueueMembers
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock as SimClock
from models.dialer.agent_states import (
    current,
    inbound_connected,
    inbound_ended,
    set_queues,
    set_state,
    take_ready_agent,
)
from models.dialer.pause_codes import update_code

from models.schema import User

from tests.agi.dialer.test_dialer_engine import START, attempts, world  # noqa: F401  (fixture)
from tests.models.dialer.test_agent_states import make_attempt, make_campaign

SECRET = "dialfunnel-secret"
QUEUES = ("sales",)


def wait_for(cond, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def agents(session, users):
    users["tm"].extension = "8001"
    users["tm2"].extension = "8002"
    update_code(session, "meal", dict(label_zh="午饭", label_en="Lunch", active=True))  # the admin's words
    session.commit()
    return users


@pytest.fixture
def pbx():
    server = AMIServer(scenario=Scenario(seed=5), clock=SimClock(), auth_fail_delay=0).start()
    yield server
    server.stop()


@pytest.fixture
def ami(pbx):
    client = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET, events="call,user",
                       backoff_initial=0.05, backoff_max=0.2)
    client.connect()
    yield client
    client.close()


def members(pbx, queue="sales"):
    return {iface: (m.name, m.paused, m.reason) for iface, m in pbx.queues.queues[queue].members.items()}


def test_login_pause_and_logout_reach_asterisk_once(Session, session, agents, pbx, ami, clock):
    tm = agents["tm"]
    reconciler = QueueMembers(Session, ami, queues=list(QUEUES))
    set_queues(session, tm, ["sales"], allowed=QUEUES, clock=clock)
    session.commit()
    assert reconciler.reconcile() == 1
    add = pbx.actions("QueueAdd")[-1]
    assert [(k, add[k]) for k in ("Queue", "Interface", "MemberName", "StateInterface")] == [
        ("Queue", "sales"), ("Interface", "PJSIP/8001"), ("MemberName", "李红光"),
        ("StateInterface", "PJSIP/8001")]
    assert reconciler.status("sales") is not None and "PJSIP/8001" in reconciler.status("sales")
    assert reconciler.reconcile() == 0                     # idempotent

    set_state(session, tm, "paused", reason="meal", clock=clock)
    session.commit()
    assert reconciler.reconcile() == 1
    pause = pbx.actions("QueuePause")[-1]
    assert (pause["Paused"], pause["Reason"]) == ("true", "午饭")
    assert members(pbx) == {"PJSIP/8001": ("李红光", True, "午饭")}
    assert reconciler.status("sales")["PJSIP/8001"].reason == "午饭"   # read back over the wire
    assert reconciler.reconcile() == 0

    set_state(session, tm, "ready", clock=clock)
    session.commit()
    reconciler.reconcile()
    assert members(pbx) == {"PJSIP/8001": ("李红光", False, "")}
    set_state(session, tm, "logged_out", clock=clock)
    session.commit()
    assert reconciler.reconcile() == 1
    assert pbx.actions("QueueRemove")[-1]["Interface"] == "PJSIP/8001" and members(pbx) == {}


def test_a_queued_caller_is_not_offered_to_the_paused_agent(Session, session, agents, pbx, ami, clock):
    tm = agents["tm"]
    set_queues(session, tm, ["sales"], allowed=QUEUES, clock=clock)
    set_state(session, tm, "paused", reason="meal", clock=clock)
    session.commit()
    QueueMembers(Session, ami, queues=list(QUEUES)).reconcile()
    watcher = AMIClient("127.0.0.1", pbx.port, "dialfunnel", SECRET, events=True)
    watcher.connect()
    called, waiting = [], []
    watcher.on("AgentCalled", called.append)
    watcher.on("QueueCallerAbandon", waiting.append)
    ami.originate("Local/13900000009@tx-queue-in", context="tx-caller", exten="s",
                  caller_id="<13900000009>")
    for _ in range(6):
        pbx.clock.advance(seconds=1)
        pbx.scheduler.settle()
    assert wait_for(lambda: waiting) and called == []
    watcher.close()


def test_after_a_reconnect_the_membership_is_put_right(Session, session, agents, pbx, ami, clock):
    tm = agents["tm"]
    set_queues(session, tm, ["sales"], allowed=QUEUES, clock=clock)
    session.commit()
    reconciler = QueueMembers(Session, ami, queues=list(QUEUES), interval=3600).start()
    try:
        assert wait_for(lambda: "PJSIP/8001" in members(pbx))   # the loop's first round
        adds = len(pbx.actions("QueueAdd"))
        pbx.queues.queues["sales"].members.clear()   # Asterisk restarted: dynamic members gone
        pbx.drop_connections()
        assert wait_for(lambda: len(pbx.actions("QueueAdd")) == adds + 1 and members(pbx))
        assert members(pbx) == {"PJSIP/8001": ("李红光", False, "")}
    finally:
        reconciler.stop()


def test_a_queue_call_answered_moves_the_agent_and_the_dialer_waits(
        Session, session, agents, pbx, ami, clock, tmp_path):
    tm = agents["tm"]
    campaign = make_campaign(session, clock, [tm])
    set_queues(session, tm, ["sales"], allowed=QUEUES, clock=clock)
    set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)
    session.commit()
    QueueMembers(Session, ami, queues=list(QUEUES)).reconcile()
    listener = ScreenPopListener(Session, host="127.0.0.1", port=pbx.port, username="dialfunnel",
                                 secret=SECRET, clock=clock, call_log=False,
                                 connect_backoff=(0.05, 2.0, 0.2)).start()
    try:
        assert listener.wait_connected(5)
        ami.originate("Local/13900000009@tx-queue-in", context="tx-caller", exten="s",
                      caller_id="<13900000009>")

        def state():
            with Session() as s:
                return current(s, tm.id).state
        pbx.clock.advance(seconds=3)                 # rings 2 s, answered: AgentConnect
        assert wait_for(lambda: state() == "on_call")
        with Session() as s:
            assert take_ready_agent(s, make_attempt(s, clock, campaign), clock=clock) is None
            s.commit()
        for _ in range(10):                          # talks, hangs up: AgentComplete
            pbx.clock.advance(seconds=1)
        assert wait_for(lambda: state() == "wrap_up")
        assert listener.stats["queue_connects"] == 1 and listener.stats["queue_completes"] == 1
    finally:
        listener.stop()


def test_the_dialer_dials_for_nobody_on_a_queue_call_or_paused(world, Session, users):
    """The engine against the simulator (progressive): one agent on a queue call, the other
    paused: no line is dialled; once the queue call's wrap-up ends, a call is put through to
    him."""
    campaign_id, dialer, driver, server, clock = world({"07": "answer", "08": "answer"})
    with Session() as s:
        inbound_connected(s, users["tm"].id, clock=clock)
        set_state(s, s.get(User, users["tm2"].id), "paused", reason="break", clock=clock)
        s.commit()
    driver.run_until(START.timestamp() + 30)
    assert server.actions("Originate") == []
    with Session() as s:
        inbound_ended(s, users["tm"].id, clock=clock)
        assert current(s, users["tm"].id).state == "wrap_up"
        s.commit()
    driver.run_until(START.timestamp() + 40)
    assert server.actions("Originate") == []            # wrap-up: still nothing
    with Session() as s:
        set_state(s, s.get(User, users["tm"].id), "ready", clock=clock)
        s.commit()
    driver.run_until(START.timestamp() + 50)
    assert len(server.actions("Originate")) == 1
    assert [a.agent_id for a in attempts(Session, campaign_id)] == [users["tm"].id]
