"""Several Asterisk servers, one database (issue 17): the real engine against several PBX
simulators over real AMI sockets, on a clock moved by hand. Each agent's phone is on one server;
each call goes to the server of the agents it is dialled for; a server that dies has its calls
reconciled while dialling goes on at the others, no lead lost or dialled twice at once."""
from __future__ import annotations

import datetime as dt
import time
from collections import Counter

import pytest
from sqlalchemy import select

from agi.ami.client import AMIClient
from agi.dialer.engine import Dialer
from agi.dialer.servers import PBX, place
from agi.dialer.simulation import Driver, SimulatedAgents, start_with_ready_team
from agi.fastagi.server import FastAGIServer
from agi.handlers import outbound, recording_done, registry
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock
from config.settings import Server
from models.dialer import agent_states, campaigns
from models.schema import CampaignLead, Customer, DialAttempt, User
from recordings.store import RecordingStore
from tests.agi.dialer.test_dialer_reliability import no_overlap

START = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)   # 10:00 in Shanghai
RANGES = {"pbx-a": ((8100, 8149),), "pbx-b": ((8150, 8199),), "pbx-c": ((8200, 8249),)}


@pytest.fixture
def world(Session, users, tmp_path):
    """build(leads, servers, timing) → (campaign id, dialer, driver, {name: simulator},
    {name: AMI client}, clock): a progressive campaign whose agents tm (8100, on pbx-a) and tm2
    (8150, on pbx-b) are ready, every number answering. ``dialplan``: the simulators run
    dialfunnel-outbound with the real handlers over FastAGI (else the dialer routes answers)."""
    clock = FakeClock(START)
    built = []
    agis = []

    def build(leads: int, servers=("pbx-a", "pbx-b"), *, talk=60.0, ring=5.0, mode="progressive",
              reconnect=False, dialplan=False):
        with Session() as s:
            admin = s.merge(users["admin"])
            for n in range(leads):
                s.add(Customer(name=f"多机客户{n}", ownership="shared", stage="target",
                               phone=f"1370000{n:04d}", phone_e164=f"+861370000{n:04d}",
                               mobile=f"1370000{n:04d}", mobile_e164=f"+861370000{n:04d}",
                               created_at=clock.now(), updated_at=clock.now()))
            s.flush()
            campaign = campaigns.create_campaign(
                s, admin, clock=clock, name="多机活动", mode=mode, filter_stage="target",
                ring_timeout_s=20, retry_rules={"failed": {"delay_min": 1, "max": 3}})
            team = [s.merge(users["tm"]), s.merge(users["tm2"])]
            team[0].extension, team[1].extension = "8100", "8150"
            start_with_ready_team(s, admin, campaign, team, clock=clock)
            campaign_id = campaign.id
            s.commit()
        scenario = Scenario(rates={"answer": 1.0},
                            timing={"answer": {"ring_time": ring, "answer_delay": 0.0, "talk_time": talk}})
        sims, amis, pbxs = {}, {}, []
        holder: list[Dialer] = []
        spool, sim_options = tmp_path / "monitor", {}
        if dialplan:
            spool.mkdir()
            agis.append(FastAGIServer(registry, Session, port=0).start())
            sim_options = dict(fastagi=("127.0.0.1", agis[-1].port), recordings_incoming=spool)
            recording_done.configure(RecordingStore(tmp_path / "recordings", spool), clock=clock)
        for name in servers:
            sims[name] = AMIServer(scenario=scenario, clock=clock, **sim_options).start()
            amis[name] = AMIClient("127.0.0.1", sims[name].port, "dialfunnel", "dialfunnel-secret",
                                   events="call,user", reconnect=reconnect,
                                   sleep=lambda _s: time.sleep(0.05))
            amis[name].add_on_connect(lambda _c: holder and holder[0].request_reconcile())
            pbxs.append(PBX(name, amis[name], 0, RANGES[name]))
            built.append((sims[name], amis[name]))
        if dialplan:   # an agent is ready at every answer here: the handler's hold never sleeps
            outbound.configure(clock=clock, spool_dir=spool, sleep=sims[servers[0]].scheduler.sleep,
                               servers=[Server(name, extensions=RANGES[name]) for name in servers])
        dialer = Dialer(Session, None, clock=clock, dialer_id="multi", trunk="Local/{number}@out",
                        route_answers=not dialplan, pacer_mode=mode, servers=pbxs)
        holder.append(dialer)
        dialer.attach()
        driver = Driver(dialer, list(sims.values()), list(amis.values()), clock,
                        SimulatedAgents(Session, clock, campaign_id, 10.0))
        for client in amis.values():
            client.connect()
        return campaign_id, dialer, driver, sims, amis, clock

    yield build
    for sim, client in built:
        client.close()
        sim.stop()
    for agi in agis:
        agi.shutdown(grace=2)
        outbound.configure(clock=outbound.SYSTEM_CLOCK, spool_dir=None, sleep=time.sleep, servers=None)
        recording_done.configure(None)


def by_server(Session, campaign_id):
    with Session() as s:
        rows = s.execute(select(DialAttempt.server, DialAttempt.agent_id, DialAttempt.outcome)
                         .where(DialAttempt.campaign_id == campaign_id)).all()
    return rows


def test_each_call_goes_to_the_server_of_its_agents_phone(world, Session, users):
    campaign_id, dialer, driver, sims, amis, clock = world(6, ("pbx-a", "pbx-b", "pbx-c"), talk=30.0)
    driver.run_until(START.timestamp() + 120)
    rows = by_server(Session, campaign_id)
    agent_of = {"pbx-a": users["tm"].id, "pbx-b": users["tm2"].id}
    answered = [r for r in rows if r.outcome == "answered"]
    assert len(answered) >= 4
    # each answered call was put through to the agent whose phone is on its server
    assert all(r.agent_id == agent_of[r.server] for r in answered)
    assert Counter(r.server for r in rows) == Counter(
        {name: len(sims[name].actions("Originate")) for name in ("pbx-a", "pbx-b")})
    assert sims["pbx-c"].actions("Originate") == []   # no agent there: no call there
    originate = sims["pbx-b"].actions("Originate")[0]
    assert originate["Channel"].startswith("Local/+86137") and "DIALFUNNEL_SERVER=pbx-b" in \
        originate.get_all("Variable")
    assert dialer.server_counts["pbx-a"]["answered"] >= 2 and dialer.server_counts["pbx-b"]["answered"] >= 2


def test_a_server_that_dies_mid_campaign_is_reconciled_and_dialling_goes_on(world, Session, users):
    leads = 6
    campaign_id, dialer, driver, sims, amis, clock = world(leads, talk=20.0, ring=8.0)
    driver.run_until(START.timestamp() + 3)     # one line out on each server, both ringing
    assert [len(sims[n].actions("Originate")) for n in ("pbx-a", "pbx-b")] == [1, 1]
    with Session() as s:
        [lost] = s.scalars(select(DialAttempt).where(DialAttempt.server == "pbx-b")).all()
        lost_number = lost.number
    sims["pbx-b"].stop()                        # pbx-b dies with its call in flight
    deadline = time.monotonic() + 10
    while amis["pbx-b"].connected and time.monotonic() < deadline:
        time.sleep(0.01)
    with Session() as s:                         # its agent's phone went with it; the
        agent_states.set_state(s, s.get(User, users["tm2"].id), "logged_out", clock=clock)
        s.commit()                              # other agent keeps working on pbx-a
    driver.run_until(START.timestamp() + 600)
    with Session() as s:
        attempts = s.scalars(select(DialAttempt).where(DialAttempt.campaign_id == campaign_id)).all()
        statuses = Counter(s.scalars(select(CampaignLead.status)
                                     .where(CampaignLead.campaign_id == campaign_id)))
        lost = s.get(DialAttempt, lost.id)
    assert lost.ended_at is not None and lost.outcome == "failed"   # closed once it could not ring
    assert dialer.server_counts["pbx-b"]["closed_lost"] == 1
    # its lead went back to the hopper and was dialled again, on pbx-a
    again = [a for a in attempts if a.number == lost_number and a.id != lost.id]
    assert again and all(a.server == "pbx-a" for a in again)
    assert len(sims["pbx-b"].actions("Originate")) == 1          # nothing more went to the dead one
    assert statuses == Counter({"done": leads})                  # every lead reached, none lost
    assert all(a.ended_at is not None for a in attempts)
    originated = Counter(m["ChannelId"] for n in sims for m in sims[n].actions("Originate"))
    assert max(originated.values()) == 1 and len(originated) == len(attempts)
    no_overlap(Session)


def test_a_server_that_comes_back_has_its_calls_followed_not_dialled_again(world, Session, users):
    """pbx-b's AMI connection drops while its call rings and comes back: reconcile asks pbx-b
    (only) for its channels, finds the call and follows it to its end; nothing is dialled twice."""
    campaign_id, dialer, driver, sims, amis, clock = world(4, talk=20.0, ring=12.0, reconnect=True)
    driver.run_until(START.timestamp() + 7)     # past RECONCILE_MIN_AGE, still ringing
    with Session() as s:
        [ringing] = s.scalars(select(DialAttempt).where(DialAttempt.server == "pbx-b")).all()
    shows = len(sims["pbx-b"].actions("CoreShowChannels"))
    sims["pbx-b"].drop_connections()
    deadline = time.monotonic() + 10
    while amis["pbx-b"].connects < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    driver.run_until(START.timestamp() + 300)
    assert len(sims["pbx-b"].actions("CoreShowChannels")) > shows
    with Session() as s:
        ringing = s.get(DialAttempt, ringing.id)
        attempts = s.scalars(select(DialAttempt).where(DialAttempt.campaign_id == campaign_id)).all()
        statuses = Counter(s.scalars(select(CampaignLead.status)
                                     .where(CampaignLead.campaign_id == campaign_id)))
    assert (ringing.outcome, ringing.agent_id) == ("answered", users["tm2"].id)
    assert sum(1 for a in attempts if a.number == ringing.number) == 1
    assert statuses == Counter({"done": 4}) and dialer.server_counts["pbx-b"]["closed_lost"] == 0
    originated = Counter(m["ChannelId"] for n in sims for m in sims[n].actions("Originate"))
    assert max(originated.values()) == 1 and len(originated) == len(attempts)
    no_overlap(Session)


def test_a_voice_campaign_fills_each_servers_free_trunk_lines(Session, users):
    """An agentless campaign on pbx-a (2 trunk lines) and pbx-b (4): its calls go where lines are
    free, never over a server's trunk, and pbx-a's are used once pbx-b is full."""
    clock = FakeClock(START)
    with Session() as s:
        admin = s.merge(users["admin"])
        for n in range(10):
            s.add(Customer(name=f"语音多机{n}", ownership="shared", stage="target", phone=f"1370000{n:04d}",
                           phone_e164=f"+861370000{n:04d}", created_at=clock.now(), updated_at=clock.now()))
        s.flush()
        campaign = campaigns.create_campaign(s, admin, clock=clock, name="语音多机", mode="voice",
                                             ivr_flow="notice", max_lines=10, filter_stage="target",
                                             ring_timeout_s=25)
        campaigns.change_status(s, admin, campaign.id, "start", clock=clock)
        campaign_id = campaign.id
        s.commit()
    scenario = Scenario(rates={"answer": 1.0},
                        timing={"answer": {"ring_time": 2.0, "answer_delay": 0.0, "talk_time": 30.0}})
    sims = {name: AMIServer(scenario=scenario, clock=clock).start() for name in ("pbx-a", "pbx-b")}
    amis = {name: AMIClient("127.0.0.1", sim.port, "dialfunnel", "dialfunnel-secret", events="call,user",
                            reconnect=False) for name, sim in sims.items()}
    lines = {"pbx-a": 2, "pbx-b": 4}
    dialer = Dialer(Session, None, clock=clock, dialer_id="voice-multi", trunk="Local/{number}@out",
                    servers=[PBX(name, amis[name], lines[name], RANGES[name]) for name in sims])
    dialer.attach()
    driver = Driver(dialer, list(sims.values()), list(amis.values()), clock)
    most = Counter()
    ticks = dialer.tick

    def tick():
        ticks()
        for name, n in dialer.lines.on_server.items():
            most[name] = max(most[name], n)
    dialer.tick = tick
    try:
        for client in amis.values():
            client.connect()
        driver.run_until(START.timestamp() + 1)
        assert [len(sims[n].actions("Originate")) for n in sims] == [2, 4]   # every free line
        driver.run_until(START.timestamp() + 200)
    finally:
        for name in sims:
            amis[name].close()
            sims[name].stop()
    assert most == Counter(lines)                                  # never over a server's trunk
    rows = by_server(Session, campaign_id)
    assert len(rows) == 10 and all(r.outcome == "answered" for r in rows)
    assert Counter(r.server for r in rows) == Counter(
        {n: len(sims[n].actions("Originate")) for n in sims})


def test_voice_calls_go_where_the_most_trunk_lines_are_free():
    up = type("Up", (), {"connected": True})()
    down = type("Down", (), {"connected": False})()
    servers = [PBX("a", up, 2), PBX("b", up, 4), PBX("c", down, 10)]
    assert Counter(place(servers, 10, {}, None)) == Counter({"a": 2, "b": 4})   # c is down
    assert place(servers, 3, {"b": 3}, None) == ["a", "a", "b"]
    # an agent campaign: first where ready agents have no line yet, then the fewest lines
    # waiting per agent; never a server without its agents
    servers = [PBX("a", up), PBX("b", up), PBX("c", up)]
    assert place(servers, 3, {}, {"a": (0, 5, 0), "b": (2, 2, 0)}) == ["b", "b", "a"]
    assert Counter(place(servers, 9, {}, {"a": (0, 4, 0), "b": (0, 2, 0)})) == Counter({"a": 6, "b": 3})
    assert place(servers, 2, {}, {"a": (1, 1, 3), "b": (1, 1, 0)}) == ["b", "b"]


def test_click_to_call_rings_the_agent_on_the_server_of_their_phone(Session, users, make_customer):
    """ExtensionState and the Originate go to the agent's server; the call's events come from
    there, and the hang-up pressed on the page goes there too."""
    from agi.dialer.click_to_call import ClickToCall
    from models.dialer import click_to_call as c2c
    from tests.agi.ami.test_call_log import run
    from tests.agi.dialer.test_click_to_call import settle
    clock = FakeClock(START)
    sims = {name: AMIServer(scenario=Scenario(seed=3), clock=clock).start() for name in ("pbx-a", "pbx-b")}
    amis = {name: AMIClient("127.0.0.1", sim.port, "dialfunnel", "dialfunnel-secret", events="call,user",
                            reconnect=False) for name, sim in sims.items()}
    click = ClickToCall(Session, None, dialer_id="d1", clock=clock, ring_seconds=5,
                        servers=[PBX(name, amis[name], 0, RANGES[name]) for name in sims])
    click.attach()
    try:
        for client in amis.values():
            client.connect()
        with Session() as s:
            s.get(User, users["tm2"].id).extension = "8150"
            s.commit()
        customer = make_customer(owner="tm2", mobile="13900000001")
        with Session() as s:
            request = c2c.request_call(s, s.get(User, users["tm2"].id), customer.id, "mobile", clock=clock)
            request_id, channel_id = request.id, request.channel_id
            s.commit()
        click.poll(force=True)
        assert sims["pbx-a"].actions("ExtensionState") == sims["pbx-a"].actions("Originate") == []
        [orig] = sims["pbx-b"].actions("Originate")
        assert (orig["Channel"], orig["ChannelId"]) == ("PJSIP/8150", channel_id)
        assert sims["pbx-b"].actions("ExtensionState")[0]["Exten"] == "8150"
        run(sims["pbx-b"], 1.0)                 # the agent answers; the customer is dialled
        settle(click, Session, request_id, "ringing_customer")   # events heard from pbx-b
        run(sims["pbx-b"], 2.0)                 # the customer answers
        settle(click, Session, request_id, "talking")
        with Session() as s:
            c2c.request_hangup(s, s.get(User, users["tm2"].id), request_id)
            s.commit()
        click.poll(force=True)
        assert [m["Channel"] for m in sims["pbx-b"].actions("Hangup")] == [channel_id]
        assert sims["pbx-a"].actions("Hangup") == []
    finally:
        for name in sims:
            amis[name].close()
            sims[name].stop()


def test_the_processes_open_one_ami_connection_per_configured_server(Session, db_url):
    """`dialfunnel dialer` and the worker's listener and call log, from settings.servers: each
    server gets its own logins (its own secret), the dialer holds each as a server of its own."""
    import dataclasses
    import threading

    from agi.dialer.process import start_dialer
    from config.settings import Settings, parse_servers
    from dialfunnel.cli import start_pbx_and_listener
    clock = FakeClock(START)
    sims = [AMIServer(clock=clock, auth_fail_delay=0, users={"dialfunnel": secret}).start()
            for secret in ("secret-a", "secret-b")]
    try:
        settings = dataclasses.replace(Settings(), dialer_id="p", database_url=db_url)
        settings = dataclasses.replace(settings, servers=parse_servers([
            {"name": "pbx-a", "ami_port": sims[0].port, "ami_secret": "secret-a", "extensions": "8100-8149",
             "trunk_lines": 30},
            {"name": "pbx-b", "ami_port": sims[1].port, "ami_secret": "secret-b", "extensions": "8150"}],
            settings))
        dialer, thread = start_dialer(settings, Session, port=1, secret="unused", clock=clock)
        deadline = time.monotonic() + 10
        while not all(p.up for p in dialer.servers) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [(p.name, p.trunk_lines, p.up) for p in dialer.servers] == [
            ("pbx-a", 30, True), ("pbx-b", 0, True)]
        dialer.stop()
        thread.join(10)
        assert not thread.is_alive()
        stop = threading.Event()
        started = list(start_pbx_and_listener(settings, Session, stop, simulate=False, dialer=False))
        try:
            assert [line for line, _ in started] == [line for sim in sims for line in (
                f"screen-pop listener on AMI 127.0.0.1:{sim.port}",
                f"call log writer (a process of its own) on AMI 127.0.0.1:{sim.port}")]
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not all(   # the dialer's, the listener's and
                    len(sim.actions("Login")) >= 3 for sim in sims):   # the call log's
                time.sleep(0.05)
            assert all(len(sim.actions("Login")) >= 3 for sim in sims)
        finally:
            for _, stopper in reversed(started):
                stopper()
    finally:
        for sim in sims:
            sim.stop()


def test_an_announcement_heard_hangs_the_call_up_on_its_own_server(world, Session):
    """The early-media hook hangs a call up by AMI: on the server the call is on."""
    from types import SimpleNamespace

    from agi.early_media.hook import EarlyMediaHook
    campaign_id, dialer, driver, sims, amis, clock = world(2, ring=20.0)
    driver.run_until(START.timestamp() + 2)
    with Session() as s:
        [on_b] = s.scalars(select(DialAttempt.channel_id).where(DialAttempt.server == "pbx-b")).all()
    hook = EarlyMediaHook(dialer.ami, ami_for=dialer.ami_for_channel)
    hook(on_b, SimpleNamespace(label="unallocated"))
    assert [(m["Channel"], m["Cause"]) for m in sims["pbx-b"].actions("Hangup")] == [(on_b, "1")]
    assert sims["pbx-a"].actions("Hangup") == []


def unheard(sim, ami) -> float:
    """The server's AMI connection dropped and refused until heard_again; returns a deadline
    for the waits."""
    sim.refuse_connections = True
    sim.drop_connections()
    deadline = time.monotonic() + 10
    while ami.connected and time.monotonic() < deadline:
        time.sleep(0.01)
    return deadline


def heard_again(sim, ami, deadline: float) -> None:
    connects = ami.connects
    sim.refuse_connections = False
    while ami.connects == connects and time.monotonic() < deadline:
        time.sleep(0.01)


def test_an_answer_made_while_the_server_was_unheard_is_put_through_not_retried(world, Session, users):
    """Issue 17: pbx-b's AMI connection drops while its call rings and stays down while the
    customer answers (no handler writes anything here: the dialer routes answers itself). Back
    again, CoreShowChannels shows the call up: it is an answered call, given to pbx-b's agent,
    not a failure whose customer is called a second time."""
    campaign_id, dialer, driver, sims, amis, clock = world(2, talk=40.0, ring=6.0, reconnect=True)
    driver.run_until(START.timestamp() + 2)     # one line ringing on each server
    with Session() as s:
        [call] = s.scalars(select(DialAttempt).where(DialAttempt.server == "pbx-b")).all()
    deadline = unheard(sims["pbx-b"], amis["pbx-b"])
    driver.run_until(START.timestamp() + 15)    # answered at 6 s, unheard
    heard_again(sims["pbx-b"], amis["pbx-b"], deadline)
    driver.run_until(START.timestamp() + 300)
    with Session() as s:
        call = s.get(DialAttempt, call.id)
        attempts = s.scalars(select(DialAttempt).where(DialAttempt.campaign_id == campaign_id)).all()
        statuses = Counter(s.scalars(select(CampaignLead.status)
                                     .where(CampaignLead.campaign_id == campaign_id)))
    assert (call.outcome, call.agent_id) == ("answered", users["tm2"].id)
    assert sum(1 for a in attempts if a.number == call.number) == 1     # called once
    assert statuses == Counter({"done": 2}) and dialer.server_counts["pbx-b"]["closed_lost"] == 0
    no_overlap(Session)


def test_a_call_answered_on_a_server_out_of_reach_is_not_closed_under_its_agent(world, Session, users):
    """Issue 17: pbx-b runs the dialplan (AMD, then tm2 taken by the outbound handler, which
    writes it in the database) while the dialer cannot hear it for longer than a call can ring.
    The call is left open as tm2's answered call (tm2 is not sent to wrap-up mid-call) and, pbx-b
    back, followed to its real end."""
    campaign_id, dialer, driver, sims, amis, clock = world(2, talk=80.0, ring=4.0, reconnect=True,
                                                           dialplan=True)
    driver.run_until(START.timestamp() + 1)      # one line ringing on each server
    with Session() as s:
        [call] = s.scalars(select(DialAttempt).where(DialAttempt.server == "pbx-b")).all()
    deadline = unheard(sims["pbx-b"], amis["pbx-b"])
    for until in range(2, 71):                   # pbx-b unheard, its scheduler still run
        driver.run_until(START.timestamp() + until)
        sims["pbx-b"].scheduler.settle()
    with Session() as s:                         # past the ring timeout + grace (50 s)
        assert s.get(DialAttempt, call.id).ended_at is None
        assert agent_states.current(s, users["tm2"].id).state == "on_call"
    heard_again(sims["pbx-b"], amis["pbx-b"], deadline)
    driver.run_until(START.timestamp() + 200)
    with Session() as s:
        call = s.get(DialAttempt, call.id)
        attempts = s.scalars(select(DialAttempt).where(DialAttempt.campaign_id == campaign_id)).all()
    assert (call.outcome, call.agent_id) == ("answered", users["tm2"].id)
    assert 75.0 <= call.talk_seconds <= 85.0
    assert sum(1 for a in attempts if a.number == call.number) == 1
    assert dialer.server_counts["pbx-b"]["closed_lost"] == 0
