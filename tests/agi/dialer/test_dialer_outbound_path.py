"""The dialer on the real PBX's path: the simulator runs the dialplan's dialfunnel-outbound context
(MixMonitor, AGI(outbound) over FastAGI with AMD on the far side's audio, the agent's Dial or the
abandon message, the recording_done hangup handler before the Hangup event), the clock moved by
hand (agi.dialer.simulation). Real sockets throughout: AMI, FastAGI."""
from __future__ import annotations

import datetime as dt
import gzip
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from agi.ami.client import AMIClient
from agi.dialer.engine import HANDLER_SECONDS, Dialer
from agi.dialer.simulation import Driver, SimulatedAgents
from agi.fastagi.dispatch import Registry
from agi.fastagi.server import FastAGIServer
from agi.handlers import outbound, recording_done, registry
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock
from models.dialer import agent_states, campaigns
from models.schema import CampaignLead, Customer, DialAttempt, Recording, RecordingAnalysis
from recordings.store import RecordingStore

from tests.repo_paths import ASTERISK

START = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 in Shanghai
RING = 3.0
WATCHED = ("Newexten", "VarSet", "DialBegin", "DialEnd", "BridgeEnter", "BridgeLeave", "UserEvent",
           "Hangup", "SoftHangupRequest", "HangupHandlerRun", "HangupHandlerPush", "MixMonitorStart",
           "MixMonitorStop", "OriginateResponse")
REAL_RUN = ASTERISK / "real-run-2026-12" / "ami-a5.jsonl.gz"
SEQUENCE = {"Newexten", "MixMonitorStart", "HangupHandlerPush", "DialBegin", "DialEnd", "BridgeEnter",
            "BridgeLeave", "HangupHandlerRun", "MixMonitorStop", "Hangup", "OriginateResponse",
            "UserEvent", "SoftHangupRequest"}


@pytest.fixture
def world(Session, users, tmp_path):
    """A running campaign with tm (8100) on its team; the FastAGI server with the real handlers;
    the simulator calling it for dialfunnel-outbound. build(outcomes, mode, ready=...)."""
    clock = FakeClock(START)
    spool = tmp_path / "monitor"
    spool.mkdir()
    store = RecordingStore(tmp_path / "recordings", spool)
    built: list = []

    def build(outcomes: list[str], *, mode="progressive", ready=True, talk=60.0, dialplan=True,
              handlers=registry, reconnect=False):
        with Session() as s:
            admin = s.merge(users["admin"])
            for n, _ in enumerate(outcomes):
                s.add(Customer(name=f"外呼客户{n}", ownership="shared", stage="target",
                               phone=f"1390000{n:04d}", phone_e164=f"+861390000{n:04d}",
                               created_at=clock.now(), updated_at=clock.now()))
            s.flush()
            campaign = campaigns.create_campaign(s, admin, clock=clock, name="外呼", mode=mode,
                                                 filter_stage="target", ring_timeout_s=25)
            tm = s.merge(users["tm"])
            tm.extension = "8100"
            campaigns.set_team(s, admin, campaign.id, [tm.id])
            campaigns.refresh_leads(s, campaign, clock=clock)
            campaigns.change_status(s, admin, campaign.id, "start", clock=clock)
            agent_states.set_state(s, tm, "ready" if ready else "paused", campaign_id=campaign.id,
                                   reason=None if ready else "meal", clock=clock)
            campaign_id = campaign.id
            s.commit()
        agi = FastAGIServer(handlers, Session, port=0).start()
        scenario = Scenario(numbers={f"+861390000{n:04d}": o for n, o in enumerate(outcomes)},
                            timing={"answer": {"ring_time": RING, "answer_delay": 0.0, "talk_time": talk},
                                    "machine": {"ring_time": RING, "answer_delay": 0.0, "talk_time": talk}})
        server = AMIServer(scenario=scenario, clock=clock, recordings_incoming=spool,
                           fastagi=("127.0.0.1", agi.port) if dialplan else None).start()
        outbound.configure(clock=clock, spool_dir=spool, sleep=server.scheduler.sleep)
        recording_done.configure(store, clock=clock)
        ami = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret",
                        events="call,user,dialplan", reconnect=reconnect, sleep=lambda _s: time.sleep(0.05))
        seen: list = []
        for name in WATCHED:
            ami.on(name, seen.append)
        dialer = Dialer(Session, ami, clock=clock, dialer_id="test", trunk="Local/{number}@out",
                        pacer_mode=mode)
        dialer.attach()
        ami.add_on_connect(lambda _c: dialer.request_reconcile())   # as agi.dialer.process does
        driver = Driver(dialer, server, ami, clock, SimulatedAgents(Session, clock, campaign_id, 20.0))
        ami.connect()
        built.append((server, ami, agi))
        return campaign_id, driver, server, seen

    yield build
    for server, ami, agi in built:
        ami.close()
        server.stop()
        agi.shutdown(grace=2)
    outbound.configure(clock=outbound.SYSTEM_CLOCK, spool_dir=None, sleep=outbound.time.sleep)
    recording_done.configure(None)


def attempts(Session, campaign_id):
    with Session() as s:
        return s.scalars(select(DialAttempt).where(DialAttempt.campaign_id == campaign_id)
                         .order_by(DialAttempt.id)).all()


def ours(seen, uniqueid):
    return [m for m in seen if uniqueid in (m.get("Uniqueid"), m.get("Linkedid"))]


@pytest.mark.parametrize("mode", ["progressive", "predictive"])
def test_no_new_line_while_the_answer_is_in_amd_and_routing(world, Session, users, mode):
    campaign_id, driver, server, seen = world(["answer"] * 6, mode=mode)
    driver.run_until(START.timestamp() + 0.5)
    assert len(server.actions("Originate")) == 1  # one ready agent: one line
    driver.run_until(START.timestamp() + RING + 1.5)  # answered 1.5 s ago: AMD still listening
    assert len(server.actions("Originate")) == 1
    with Session() as s:
        assert agent_states.current(s, users["tm"].id).state == "ready"
    driver.run_until(START.timestamp() + RING + 8.0)  # AMD said human, tm took it
    assert len(server.actions("Originate")) == 1
    (attempt,) = attempts(Session, campaign_id)
    assert attempt.amd == "human" and attempt.agent_id == users["tm"].id
    in_amd = (attempt.connected_at - attempt.answered_at).total_seconds()
    assert 1.5 <= in_amd <= 3.5  # AMD listened to the greeting and the silence after it, in simulated time
    uid = attempt.channel_id
    names = [m.name for m in ours(seen, uid)]
    assert names.index("OriginateResponse") < names.index("DialBegin")
    dial = next(m for m in ours(seen, uid) if m.name == "DialBegin")
    assert dial["Uniqueid"] == uid and dial["DestChannel"].startswith("PJSIP/8100-")


def test_recording_done_runs_before_the_hangup_with_the_channel_variables(world, Session, users):
    campaign_id, driver, server, seen = world(["answer"], talk=20.0)
    driver.run_until(START.timestamp() + RING + 40.0)
    (attempt,) = attempts(Session, campaign_id)
    assert attempt.outcome == "answered" and attempt.agent_id == users["tm"].id
    events = ours(seen, attempt.channel_id)
    names = [m.name for m in events]
    ours_hangup = next(i for i, m in enumerate(events)
                       if m.name == "Hangup" and m["Uniqueid"] == attempt.channel_id)
    run = names.index("HangupHandlerRun")
    assert names.index("HangupHandlerPush") < names.index("DialBegin") < run < ours_hangup
    assert run < names.index("MixMonitorStop") < ours_hangup
    status = [m["Value"] for m in events[run:ours_hangup] if m.name == "VarSet"
              and m["Variable"] == "DIALFUNNEL_STATUS"]
    assert status and status[-1] in ("STORED", "SKIPPED")  # the handler answered before the Hangup
    with Session() as s:
        rows = s.scalars(select(Recording)).all()
        assert [r.uniqueid for r in rows] == [attempt.channel_id]
        # MixMonitor's r()/t() sides: the far side's "喂?" is the customer's talk (issue 16)
        analysis = s.get(RecordingAnalysis, rows[0].id)
        assert (analysis.customer_share, analysis.agent_share) == (1.0, 0.0)


def test_nobody_free_plays_the_abandon_message(world, Session, users):
    campaign_id, driver, server, seen = world(["answer", "answer"])
    driver.run_until(START.timestamp() + 0.5)
    with Session() as s:  # tm steps away while the line rings
        agent_states.set_state(s, s.get(type(users["tm"]), users["tm"].id), "paused",
                               campaign_id=campaign_id, reason="break", clock=driver.clock)
        s.commit()
    driver.run_until(START.timestamp() + RING + 20.0)
    (attempt,) = attempts(Session, campaign_id)
    assert attempt.outcome == "abandoned" and attempt.agent_id is None
    events = ours(seen, attempt.channel_id)
    names = [m.name for m in events]
    abandon = events[names.index("UserEvent")]
    assert abandon["UserEvent"] == "DialfunnelAbandon"
    assert (abandon["Campaign"], abandon["Attempt"]) == (str(campaign_id), str(attempt.id))
    playback = next(m for m in events if m.name == "Newexten" and m["Application"] == "Playback")
    assert playback["AppData"] == "dialfunnel/abandon"
    assert names.index("UserEvent") < names.index("HangupHandlerRun") < names.index("Hangup")
    assert driver.dialer.counts["abandoned"] == 1


def test_a_machine_is_hung_up_and_no_agent_is_spent(world, Session, users):
    campaign_id, driver, server, seen = world(["machine", "answer"])
    driver.run_until(START.timestamp() + RING + 6.0)
    first = attempts(Session, campaign_id)[0]
    assert first.amd == "machine" and first.agent_id is None
    events = ours(seen, first.channel_id)
    names = [m.name for m in events]
    assert "DialBegin" not in names[names.index("OriginateResponse"):]
    assert names.index("HangupHandlerRun") < max(i for i, m in enumerate(events)
                                                 if m.name == "Hangup" and m["Uniqueid"] == first.channel_id)
    with Session() as s:
        assert agent_states.current(s, users["tm"].id).state in ("ready", "on_call")


def sequence(events, uniqueid):
    """What our answered channel did, as (event, application) pairs; the dialfunnel-config
    subroutine's Set lines left out (the simulator does not play them)."""
    return [(m["Event"] if isinstance(m, dict) else m.name, m.get("Application") or "")
            for m in events if m.get("Uniqueid") == uniqueid
            and (m["Event"] if isinstance(m, dict) else m.name) in SEQUENCE
            and m.get("Context") != "dialfunnel-config"]


def real_sequence(pick) -> list:
    with gzip.open(REAL_RUN, "rt") as f:
        events = [json.loads(line) for line in f if line.startswith("{")]
    uniqueid = next(e["Uniqueid"] for e in events if pick(e))
    return sequence(events, uniqueid)


@pytest.mark.parametrize("path", ["agent", "abandon"])
def test_the_answered_channel_does_what_the_real_pbx_did(world, Session, users, path):
    """ami-a5: the first answered call, put through to agent 8007; the abandoned one."""
    campaign_id, driver, server, seen = world(["answer", "answer"], talk=10.0)
    if path == "abandon":
        driver.run_until(START.timestamp() + 0.5)
        with Session() as s:
            agent_states.set_state(s, s.get(type(users["tm"]), users["tm"].id), "paused",
                                   campaign_id=campaign_id, reason="break", clock=driver.clock)
            s.commit()
        real = real_sequence(lambda e: e.get("UserEvent") == "DialfunnelAbandon")
    else:
        real = real_sequence(lambda e: e.get("Event") == "OriginateResponse" and e.get("Reason") == "4")
    driver.run_until(START.timestamp() + RING + 30.0)
    first = attempts(Session, campaign_id)[0]
    assert sequence(seen, first.channel_id) == real


def test_an_answer_nobody_reports_on_stops_counting_after_the_bound(world, Session):
    """A PBX that runs no outbound handler (nothing ever says where the call went): the answer
    holds the agent's line for HANDLER_SECONDS, not for ever."""
    campaign_id, driver, server, seen = world(["answer"] * 3, dialplan=False)
    driver.run_until(START.timestamp() + RING + HANDLER_SECONDS - 0.5)
    assert len(server.actions("Originate")) == 1
    driver.run_until(START.timestamp() + RING + HANDLER_SECONDS + 1.5)
    assert len(server.actions("Originate")) == 2


def test_the_hangup_handler_gets_the_channel_as_the_dialplan_left_it(world, Session, users, tmp_path):
    """What recording_done can read on the channel: the dialer's variables, the agent's
    transfer and dialled peer, the linkedid; and MixMonitor's file is complete by then."""
    heard = {}

    def probe(agi, session, args):
        heard["args"], heard["uniqueid"] = list(args), agi.uniqueid
        heard["file_there"] = Path(args[0]).exists()
        for name in ("DIALFUNNEL_CAMPAIGN", "DIALFUNNEL_ATTEMPT", "DIALFUNNEL_TRANSFER", "DIALEDPEERNAME",
                     "CHANNEL(linkedid)"):
            heard[name] = agi.get_variable(name)
        return "STORED"

    handlers = Registry()
    handlers.register("outbound", outbound.outbound)
    handlers.register("recording_done", probe)
    campaign_id, driver, server, seen = world(["answer"], talk=10.0, handlers=handlers)
    driver.run_until(START.timestamp() + RING + 30.0)
    (attempt,) = attempts(Session, campaign_id)
    assert heard["uniqueid"] == attempt.channel_id and heard["file_there"]
    assert heard["args"] == [str(tmp_path / "monitor" / f"{attempt.channel_id}.wav"), "outbound"]
    assert (heard["DIALFUNNEL_CAMPAIGN"], heard["DIALFUNNEL_ATTEMPT"]) == (str(campaign_id), str(attempt.id))
    assert heard["DIALFUNNEL_TRANSFER"] == "agent:8100"
    assert heard["DIALEDPEERNAME"].startswith("PJSIP/8100-")
    assert heard["CHANNEL(linkedid)"] == attempt.channel_id


def test_the_pacer_learns_each_answer_once_with_amds_verdict(world, Session):
    """Issue 17: a machine is not told to the pacer as a live answer (it answers like a person;
    AMD tells them apart a few seconds later): each attempt is one result, of its final class."""
    numbers = ["machine", "answer", "machine"]
    campaign_id, driver, server, seen = world(numbers, mode="predictive", talk=4.0)
    driver.run_until(START.timestamp() + 0.5)
    pacer = driver.dialer.campaigns[campaign_id].pacer
    driver.run_until(START.timestamp() + 80.0)
    rows = attempts(Session, campaign_id)
    assert len(rows) == len(numbers) and all(a.ended_at is not None for a in rows)
    assert sorted(a.amd for a in rows) == ["human", "machine", "machine"]
    ring = pacer.ring
    assert ring.count == len(rows)                                # one result per attempt
    assert sum(live for live, _ in ring._recent) == 1             # the person, no machine
    # the live share it paces by: 1 person in 3 answers, shrunk toward its prior
    w = ring.recent_weight
    assert ring.answer_rate(START.timestamp() + 80.0) == pytest.approx((1 + w * ring.prior_live) / (3 + w))


def run_unheard(driver, server, end: float) -> None:
    """Driver.run_until while the dialer's AMI connection is down: the simulator's calls and
    their FastAGI handler go on, the dialer ticks and hears nothing."""
    dialer, clock = driver.dialer, driver.clock
    while True:
        server.scheduler.settle()
        now = clock.now().timestamp()
        if now >= dialer.next_wakeup():
            dialer.tick()
        if now >= end:
            return
        due = [t for t in (server.scheduler.next_due(), dialer.next_wakeup(), end) if t is not None]
        clock.set(dt.datetime.fromtimestamp(max(min(due), now), dt.timezone.utc))


def connection_down(server, ami) -> None:
    server.refuse_connections = True
    server.drop_connections()
    deadline = time.monotonic() + 10
    while ami.connected and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not ami.connected


def connection_back(server, ami) -> None:
    connects = ami.connects
    server.refuse_connections = False
    deadline = time.monotonic() + 10
    while ami.connects == connects and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ami.connects > connects


@pytest.mark.parametrize("back_at", [20.0, 90.0], ids=["still-talking", "already-over"])
def test_an_answer_the_dialer_did_not_hear_is_booked_answered_and_never_retried(world, Session, users,
                                                                               back_at):
    """Issue 17: the dialer's AMI connection drops while the call rings; the customer answers
    and is put through to tm (the outbound handler, on the PBX's side, writes it down) while the
    dialer hears nothing. When the connection comes back, the call, still up or over, is tm's
    answered call, not a failure whose lead is dialled again."""
    campaign_id, driver, server, seen = world(["answer", "answer"], talk=40.0, reconnect=True)
    driver.run_until(START.timestamp() + 1.0)           # ringing
    (attempt,) = attempts(Session, campaign_id)
    connection_down(server, driver.dialer.ami)
    run_unheard(driver, server, START.timestamp() + back_at)
    with Session() as s:
        assert s.get(DialAttempt, attempt.id).agent_id == users["tm"].id   # the handler's writing
    connection_back(server, driver.dialer.ami)
    driver.run_until(START.timestamp() + 200.0)
    rows = attempts(Session, campaign_id)
    first = rows[0]
    assert (first.outcome, first.agent_id) == ("answered", users["tm"].id)
    assert 35.0 <= first.talk_seconds <= 45.0
    assert sum(1 for a in rows if a.number == first.number) == 1        # never dialled again
    assert len(rows) == 2 and rows[1].outcome == "answered"              # the other lead, after
    assert driver.dialer.counts["answered"] == 2
    with Session() as s:
        lead = s.get(CampaignLead, first.lead_id)
        assert (lead.status, lead.last_outcome) == ("done", "answered")
