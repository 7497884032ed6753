"""Several Asterisk servers (issue 17): what the dialer process does besides dialling goes to
the right server, over real AMI sockets against two PBX simulators. Queue members, listen /
whisper / barge and the call bar's controls go to the server of the agent's phone (pbx-a holds
8100-8149, pbx-b 8150-8199); a fax to the server up with the most free trunk lines."""
from __future__ import annotations

import dataclasses
import datetime as dt
import time

import pytest
from sqlalchemy import select

from agi.ami.client import AMIClient
from agi.console import conference
from agi.console.commands import CommandRunner
from agi.console.spy import SpyRunner
from agi.dialer import queue_members
from agi.dialer.fax_sender import FaxSender
from agi.dialer.servers import PBX
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock as SimClock
from config.settings import Settings, parse_servers
from faxdocs.store import FaxStore
from models.dialer.agent_states import set_queues
from models.fax import outbox
from models.schema import Campaign, CampaignAgent
from models.schema.call_commands import CallCommand
from models.schema.supervision import SpySession
from models.telephony import supervision
from models.telephony.call_commands import request_command

from tests.agi.ami.test_call_log import SECRET, T0, run, start_listener, wait_for
from tests.agi.console.test_conference import OUTSIDE, live_call

RANGES = {"pbx-a": ((8100, 8149),), "pbx-b": ((8150, 8199),)}


@pytest.fixture
def two():
    """({name: simulator}, {name: AMI client}, [PBX]): two servers, both logged in to."""
    scenario = Scenario(seed=4, numbers={"8009": "answer", OUTSIDE: "answer"},
                        timing={"manual": {"ring_time": 1.0, "talk_time": 3600.0}})
    sims, amis = {}, {}
    for name in RANGES:
        sims[name] = AMIServer(scenario=scenario, clock=SimClock(T0), auth_fail_delay=0,
                               timestamp_events=True).start()
        amis[name] = AMIClient("127.0.0.1", sims[name].port, "dialfunnel", SECRET, events="call,user",
                               reconnect=False)
        amis[name].connect()
    yield sims, amis, [PBX(name, amis[name], 0, RANGES[name]) for name in RANGES]
    for name in RANGES:
        amis[name].close()
        sims[name].stop()


@pytest.fixture
def floor(session, users, clock):
    """tm's phone 8150 is on pbx-b, tm2's 8100 on pbx-a; mgr (phone 8009) runs tm's team."""
    users["tm"].extension, users["tm2"].extension, users["mgr"].extension = "8150", "8100", "8009"
    campaign = Campaign(name="多机团队", created_at=clock.now(), created_by_id=users["mgr"].id)
    session.add(campaign)
    session.flush()
    session.add(CampaignAgent(campaign_id=campaign.id, user_id=users["tm"].id))
    session.commit()
    return users


@pytest.fixture
def listener_b(Session, two, floor):
    """The call log, fed by pbx-b's events."""
    sims, _, _ = two
    listener = start_listener(Session, sims["pbx-b"], sims["pbx-b"].clock)
    yield listener
    listener.stop()


def members(sim, queue="sales"):
    return sorted(sim.queues.queues[queue].members)


def test_each_server_has_the_queue_members_whose_phones_are_on_it(Session, session, two, floor, clock):
    sims, _, servers = two
    for user in (floor["tm"], floor["tm2"]):
        set_queues(session, user, ["sales"], allowed=("sales",), clock=clock)
    session.commit()
    reconcilers = queue_members.for_servers(Session, servers, Settings())
    assert [r.reconcile() for r in reconcilers] == [1, 1]
    assert (members(sims["pbx-a"]), members(sims["pbx-b"])) == (["PJSIP/8100"], ["PJSIP/8150"])
    floor["tm2"].extension = "8151"           # tm2's phone moves to pbx-b
    session.commit()
    assert [r.reconcile() for r in reconcilers] == [1, 1]
    assert [m["Interface"] for m in sims["pbx-a"].actions("QueueRemove")] == ["PJSIP/8100"]
    assert (members(sims["pbx-a"]), members(sims["pbx-b"])) == ([], ["PJSIP/8150", "PJSIP/8151"])
    assert reconcilers[0].unserved == set()


def test_an_agent_whose_phone_no_server_takes_is_logged_once(Session, session, two, floor, clock,
                                                             caplog):
    sims, _, servers = two
    floor["tm2"].extension = "8400"
    set_queues(session, floor["tm2"], ["sales"], allowed=("sales",), clock=clock)
    session.commit()
    reconcilers = queue_members.for_servers(Session, servers, Settings())
    with caplog.at_level("WARNING", logger="agi.dialer.queue_members"):
        for _ in range(2):
            assert [r.reconcile() for r in reconcilers] == [0, 0]
    assert (members(sims["pbx-a"]), members(sims["pbx-b"])) == ([], [])
    said = [r.getMessage() for r in caplog.records if "rings nowhere" in r.getMessage()]
    assert len(said) == 1 and "PJSIP/8400" in said[0] and "张军" in said[0]


def test_a_spy_rings_the_manager_on_the_server_of_the_spied_agent(
        Session, session, two, floor, listener_b, clock):
    sims, amis, servers = two
    call, _ = live_call(Session, sims["pbx-b"], listener_b, extension="8150")
    runner = SpyRunner(Session, amis["pbx-a"], dialer_id="multi", clock=clock, servers=servers).attach()
    supervision.request_spy(session, floor["mgr"], floor["tm"].id, "listen", clock)
    session.commit()
    assert runner.poll() == 1
    assert sims["pbx-a"].actions("Originate") == []
    [orig] = sims["pbx-b"].actions("Originate")
    assert (orig["Channel"], orig.get_all("Variable")) == (
        "PJSIP/8009", [f"DF_SPY_TARGET={call.legs['o1']['Channel']}"])
    wait_for(lambda: any(k.startswith("spy-") and c.pc > 0 for k, c in list(sims["pbx-b"].calls.items())))
    run(sims["pbx-b"], 3)                     # the manager answers: ChanSpy on pbx-b
    assert len(sims["pbx-b"].rooms.spies) == 1

    def state():
        with Session() as s:
            return s.scalars(select(SpySession.state)).one()
    wait_for(lambda: state() == "active")     # pbx-b's ChanSpyStart was heard


def test_the_call_bars_controls_act_on_the_server_of_the_agents_phone(
        Session, two, floor, listener_b, clock):
    sims, amis, servers = two
    pbx_b = sims["pbx-b"]
    call, call_id = live_call(Session, pbx_b, listener_b, extension="8150")
    runner = CommandRunner(Session, amis["pbx-a"], runner_id="multi", clock=clock, servers=servers)

    def ask(action, args=None):
        with Session() as s:
            command_id = request_command(s, s.merge(floor["tm"]), action, args, clock=clock).id
            s.commit()

        def ended():
            run(pbx_b, 0.5)
            runner.run_once()
            with Session() as s:
                return s.get(CallCommand, command_id).state in ("done", "failed")
        wait_for(ended)
        with Session() as s:
            return s.get(CallCommand, command_id)

    held = ask("hold")
    assert held.state == "done", held.reason
    assert [m["Channel"] for m in pbx_b.actions("Redirect")] == [call.legs["t1"]["Channel"]]
    resumed = ask("resume")
    assert resumed.state == "done", resumed.reason
    three_way = ask("conference", {"kind": "number", "target": OUTSIDE})   # rung, then moved
    assert three_way.state == "done", three_way.reason
    [orig] = pbx_b.actions("Originate")
    assert (orig["Context"], orig["Exten"]) == ("dialfunnel-conference", conference.room_for_call(call_id))
    moved = pbx_b.actions("Redirect")[-1]
    assert (moved["Channel"], moved["ExtraChannel"]) == (call.legs["o1"]["Channel"],
                                                         call.legs["t1"]["Channel"])
    assert [m["Action"] for m in sims["pbx-a"].received if m["Action"] != "Login"] == []


def test_a_fax_goes_out_on_the_server_up_with_the_most_free_trunk_lines(
        Session, two, users, clock, tmp_path):
    sims, amis, servers = two
    servers[0].trunk_lines = servers[1].trunk_lines = 4
    store = FaxStore(tmp_path / "faxes", tmp_path / "spool")
    used = {"pbx-a": 3, "pbx-b": 1}
    sender = FaxSender(Session, amis["pbx-a"], store, trunk="Local/{number}@out", lines=4,
                       retry_wait=dt.timedelta(minutes=5), clock=clock, servers=servers,
                       used=lambda: used).attach()

    def queue(number):
        tiff_key, pdf_key = store.new_outgoing()
        with Session() as s:
            outbox.queue_fax(s, s.merge(users["tm"]), number=number, tiff_key=tiff_key,
                             pdf_key=pdf_key, pages=1, clock=clock)
            s.commit()

    def sent_to(name):
        return [m["Channel"] for m in sims[name].actions("Originate")]

    queue("+8613900000005")
    queue("+8613900000006")
    assert len(sender.poll()) == 2
    assert sent_to("pbx-a") == []             # 1 line free there, 3 then 2 on pbx-b
    assert sent_to("pbx-b") == ["Local/+8613900000005@out", "Local/+8613900000006@out"]
    amis["pbx-b"].close()                     # pbx-b goes down: pbx-a, however busy
    used["pbx-a"] = 4
    queue("+8613900000007")
    assert len(sender.poll()) == 1
    assert sent_to("pbx-a") == ["Local/+8613900000007@out"]


def test_the_dialer_process_puts_each_agent_in_the_queues_of_its_server(Session, session, floor, clock):
    """start_dialer wires the servers of settings.servers to the queue members."""
    from agi.dialer.process import start_dialer
    set_queues(session, floor["tm"], ["sales"], allowed=("sales",), clock=clock)
    session.commit()
    sims = [AMIServer(clock=SimClock(T0), auth_fail_delay=0).start() for _ in range(2)]
    try:
        settings = dataclasses.replace(Settings(), dialer_id="p", servers=parse_servers([
            {"name": name, "ami_port": sim.port, "ami_secret": SECRET,
             "extensions": "-".join(str(n) for n in RANGES[name][0])}
            for name, sim in zip(RANGES, sims)], Settings()))
        dialer, thread = start_dialer(settings, Session, port=1, secret="unused", clock=clock)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not (sims[1].actions("QueueAdd")
                                                       and sims[0].actions("QueueStatus")):
                time.sleep(0.02)
            assert [m["Interface"] for m in sims[1].actions("QueueAdd")] == ["PJSIP/8150"]
            assert sims[0].actions("QueueStatus") and sims[0].actions("QueueAdd") == []
        finally:
            dialer.stop()
            thread.join(10)
    finally:
        for sim in sims:
            sim.stop()
