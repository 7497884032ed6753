"""The dialer hears the carrier before the answer, end to end over real sockets: the PBX
simulator fails calls over a SIP trunk as a Chinese carrier does (an announcement first, then a
cause that says little: 480 for 关机), plays that early media to the dialer's listener as the
dialplan's EAGI forwarder would, and the dialer ends the call with what was said."""
from __future__ import annotations

from agi.early_media.hook import EarlyMediaHook
from agi.early_media.server import EarlyMediaServer
from agi.dialer.engine import Dialer
from agi.dialer.process import EARLY_MEDIA_CONTEXT
from agi.dialer.simulation import Driver, SimulatedAgents, start_with_ready_team
from agi.ami.client import AMIClient
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock
from agi.pbxsim.early_media import EarlyMediaPlayer
from models.dialer import campaigns
from models.schema import Customer
from tests.agi.dialer.test_dialer_causes import SIP, START, first_attempts, leads

NUMBERS = {"21": "absent", "22": "unallocated", "23": "noanswer"}   # 关机, 空号, rings on
FALLBACK_AFTER = 25.0        # the carrier fails the call with its cause this long after it rang


def build(Session, users, clock):
    with Session() as s:
        admin = s.merge(users["admin"])
        for n, suffix in enumerate(NUMBERS):
            s.add(Customer(name=f"早媒体客户{n}", ownership="shared", stage="target",
                           phone=f"1390000{suffix}", phone_e164=f"+861390000{suffix}",
                           mobile=f"1390000{suffix}", mobile_e164=f"+861390000{suffix}",
                           created_at=clock.now(), updated_at=clock.now()))
        s.flush()
        campaign = campaigns.create_campaign(s, admin, clock=clock, name="早媒体活动",
                                             mode="progressive", filter_stage="target")
        team = [s.merge(users["tm"]), s.merge(users["tm2"]), s.merge(users["admin"])]
        start_with_ready_team(s, admin, campaign, team, clock=clock)
        s.commit()
        return campaign.id


def listening_dialer(Session, server, clock):
    """The dialer with its early-media listener, the simulator's carrier pointed at it."""
    ami = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret",
                    events="call,user", reconnect=False)
    hook = EarlyMediaHook(ami)
    listener = EarlyMediaServer(hook).start()
    server.early_media = EarlyMediaPlayer(listener.address)
    dialer = Dialer(Session, ami, clock=clock, dialer_id="early", trunk=SIP,
                    pacer_mode="progressive", early_media=hook, context=EARLY_MEDIA_CONTEXT)
    return ami, listener, dialer


def test_announcements_end_the_calls_before_the_carriers_cause(Session, users):
    clock = FakeClock(START)
    campaign_id = build(Session, users, clock)
    timing = {k: {"setup_time": FALLBACK_AFTER} for k in ("absent", "unallocated")}
    scenario = Scenario(numbers={f"+861390000{k}": v for k, v in NUMBERS.items()}, timing=timing)
    server = AMIServer(scenario=scenario, clock=clock).start()
    ami, listener, dialer = listening_dialer(Session, server, clock)
    try:
        dialer.attach()
        ami.connect()
        driver = Driver(dialer, server, ami, clock, SimulatedAgents(Session, clock, campaign_id))
        driver.run_until(START.timestamp() + 45)
        first = first_attempts(Session, campaign_id)
        played = dict(server.early_media.played)
        originates = server.actions("Originate")
    finally:
        ami.close()
        listener.stop()
        server.stop()
    assert sorted(played.values()) == ["ringback", "switched_off", "unallocated"]
    assert all(m.get("EarlyMedia") == "true" and m.get("Context") == EARLY_MEDIA_CONTEXT
               for m in originates)
    off, empty, ringing = first["21"], first["22"], first["23"]
    # 关机: the carrier's 480 would have said "noanswer" (cause 19): the words say "absent"
    assert (off.outcome, off.cause) == ("absent", 20)
    assert (empty.outcome, empty.cause) == ("unallocated", 1)
    assert (off.heard, empty.heard, ringing.heard) == ("switched_off", "unallocated", None)
    for attempt in (off, empty):
        assert (attempt.ended_at - attempt.started_at).total_seconds() < FALLBACK_AFTER
    assert ringing.outcome == "noanswer"            # a ringing line is never cut short
    by_number = leads(Session)
    assert by_number["22"].status == "dead"
    assert by_number["21"].status == "queued"       # 关机: tried again later


def test_an_answered_call_goes_on_from_early_media_to_the_outbound_handler(Session, users, tmp_path):
    """The dialplan's dialfunnel-early-media hands an answered call to dialfunnel-outbound: the
    simulator (with its FastAGI dialplan, as the demo runs it) does the same, so AMD and the
    agent still take the answers when the dialer listens to early media."""
    from agi.fastagi.server import FastAGIServer
    from agi.handlers import outbound, recording_done, registry
    from recordings.store import RecordingStore
    clock = FakeClock(START)
    numbers = {"31": "answer"}
    with Session() as s:
        admin = s.merge(users["admin"])
        s.add(Customer(name="早媒体接通", ownership="shared", stage="target", phone="13900000031",
                       phone_e164="+8613900000031", created_at=clock.now(), updated_at=clock.now()))
        s.flush()
        campaign = campaigns.create_campaign(s, admin, clock=clock, name="早媒体接通",
                                             mode="progressive", filter_stage="target")
        tm = s.merge(users["tm"])
        tm.extension = "8100"
        start_with_ready_team(s, admin, campaign, [tm], clock=clock)
        campaign_id = campaign.id
        s.commit()
    spool = tmp_path / "monitor"
    spool.mkdir()
    agi = FastAGIServer(registry, Session, port=0).start()
    scenario = Scenario(numbers={f"+86139000000{k}": v for k, v in numbers.items()},
                        timing={"answer": {"ring_time": 3.0, "answer_delay": 0.0, "talk_time": 30.0}})
    server = AMIServer(scenario=scenario, clock=clock, recordings_incoming=spool,
                       fastagi=("127.0.0.1", agi.port)).start()
    outbound.configure(clock=clock, spool_dir=spool, sleep=server.scheduler.sleep)
    recording_done.configure(RecordingStore(tmp_path / "recordings", spool))
    ami, listener, dialer = listening_dialer(Session, server, clock)
    try:
        dialer.attach()
        ami.connect()
        driver = Driver(dialer, server, ami, clock, SimulatedAgents(Session, clock, campaign_id, 20.0))
        driver.run_until(START.timestamp() + 15)
        attempt = first_attempts(Session, campaign_id)["31"]
        [originate] = server.actions("Originate")
    finally:
        ami.close()
        listener.stop()
        server.stop()
        agi.shutdown(grace=2)
        outbound.configure(clock=outbound.SYSTEM_CLOCK, spool_dir=None, sleep=outbound.time.sleep)
        recording_done.configure(None)
    assert originate.get("Context") == EARLY_MEDIA_CONTEXT
    assert attempt.amd == "human" and attempt.agent_id == users["tm"].id
    assert attempt.connected_at is not None
