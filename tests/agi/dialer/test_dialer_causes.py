"""The dialer against the PBX simulator over real AMI sockets: a SIP carrier's causes (one
channel, Reason 0 for every failure), the trunk's own dead-number rule, and the congestion
cause that comes after the OriginateResponse and our leg's Hangup (ami-a5)."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from agi.ami.client import AMIClient
from agi.dialer import engine
from agi.dialer.engine import Dialer
from agi.dialer.process import start_dialer
from agi.dialer.simulation import Driver, SimulatedAgents, start_with_ready_team
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock
from config.settings import Settings
from models.dialer import campaigns
from models.dialer.dialing import dead_causes_for
from models.schema import CampaignLead, Customer, DialAttempt
from models.schema.campaigns import DIAL_OUTCOMES

START = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 in Shanghai
SIP = "PJSIP/{number}@dialfunnel-trunk"


@pytest.fixture
def world(Session, users):
    """build(outcomes by last two digits, trunk=..., ...) → (campaign id, driver, clock)."""
    built = []

    def build(outcomes: dict[str, str], *, trunk: str, dead_causes=None, timing=None):
        clock = FakeClock(START)
        with Session() as s:
            admin = s.merge(users["admin"])
            for n, suffix in enumerate(outcomes):
                s.add(Customer(name=f"原因客户{n}", ownership="shared", stage="target",
                               phone=f"1390000{suffix}", phone_e164=f"+861390000{suffix}",
                               mobile=f"1390000{suffix}", mobile_e164=f"+861390000{suffix}",
                               created_at=clock.now(), updated_at=clock.now()))
            s.flush()
            campaign = campaigns.create_campaign(s, admin, clock=clock, name="原因活动",
                                                 mode="progressive", filter_stage="target")
            team = [s.merge(users["tm"]), s.merge(users["tm2"])]
            start_with_ready_team(s, admin, campaign, team, clock=clock)
            campaign_id = campaign.id
            s.commit()
        scenario = Scenario(numbers={f"+861390000{k}": v for k, v in outcomes.items()},
                            timing=timing or {})
        server = AMIServer(scenario=scenario, clock=clock).start()
        ami = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret",
                        events="call,user", reconnect=False)
        kwargs = {} if dead_causes is None else {"dead_causes": dead_causes}
        dialer = Dialer(Session, ami, clock=clock, dialer_id="causes", trunk=trunk,
                        pacer_mode="progressive", **kwargs)
        dialer.attach()
        built.append((server, ami))
        ami.connect()
        driver = Driver(dialer, server, ami, clock, SimulatedAgents(Session, clock, campaign_id))
        return campaign_id, driver, server

    yield build
    for server, ami in built:
        ami.close()
        server.stop()


def first_attempts(Session, campaign_id) -> dict[str, DialAttempt]:
    with Session() as s:
        rows = s.scalars(select(DialAttempt).where(DialAttempt.campaign_id == campaign_id)
                         .order_by(DialAttempt.id)).all()
    first = {}
    for a in rows:
        first.setdefault(a.number[-2:], a)
    return first


def leads(Session) -> dict[str, CampaignLead]:
    with Session() as s:
        return {lead.number[-2:]: lead for lead in s.scalars(select(CampaignLead))}


SIP_CASES = {  # last digits: (simulated carrier response, outcome, cause stored)
    "11": ("sip-486", "busy", 17), "12": ("sip-404", "unallocated", 1),
    "13": ("sip-480", "noanswer", 19), "14": ("sip-484", "invalid", 28),
    "15": ("sip-503", "congestion", 34), "16": ("sip-603", "rejected", 21),
    "17": ("sip-410", "changed", 22), "18": ("sip-408", "noanswer", 18),
    "19": ("noanswer", "noanswer", 19),   # ringing past the Originate's Timeout
}


def test_a_sip_carriers_causes_become_outcomes(world, Session, users):
    campaign_id, driver, server = world({k: v[0] for k, v in SIP_CASES.items()}, trunk=SIP)
    driver.run_until(START.timestamp() + 60)
    first = first_attempts(Session, campaign_id)
    assert {k: (a.outcome, a.cause, a.reason) for k, a in first.items()} == \
        {k: (outcome, cause, 3 if k == "19" else 0) for k, (_, outcome, cause) in SIP_CASES.items()}
    # one PJSIP channel per call, no ;2 half: the Originate names the trunk
    assert {m["Channel"] for m in server.actions("Originate")} == \
        {f"PJSIP/+861390000{k}@dialfunnel-trunk" for k in SIP_CASES}
    by_number = leads(Session)
    with Session() as s:
        status = dict(s.execute(select(Customer.phone, Customer.number_status)).all())
    assert by_number["17"].status == "dead" and status["139000017"] == "changed"
    assert by_number["12"].status == "dead" and status["139000012"] == "unallocated"
    rejected = by_number["16"]     # declined on the handset: not busy, tried again hours later
    assert (rejected.status, rejected.last_outcome, rejected.attempts) == ("queued", "rejected", 1)
    assert rejected.next_attempt_at == first["16"].ended_at + dt.timedelta(minutes=240)
    assert status["139000016"] == "unknown"


def test_the_trunks_dead_number_rule(world, Session):
    """A carrier that sends 404 (cause 1) for temporary failures: its trunk lists only 22 and 28."""
    trunk = "PJSIP/{number}@carrier-b"
    dead = dead_causes_for({"carrier-b": (22, 28), "*": (1, 20, 22, 28)}, trunk)
    campaign_id, driver, server = world({"12": "sip-404", "17": "sip-410"}, trunk=trunk,
                                        dead_causes=dead)
    driver.run_until(START.timestamp() + 20)
    first = first_attempts(Session, campaign_id)
    assert (first["12"].outcome, first["12"].cause) == ("failed", 1)
    assert (first["17"].outcome, first["17"].cause) == ("changed", 22)
    by_number = leads(Session)
    assert by_number["12"].status == "queued" and by_number["17"].status == "dead"


def test_the_dialer_process_takes_its_trunks_rule_from_the_settings(Session):
    settings = dataclasses.replace(Settings(), dialer_trunk="PJSIP/{number}@carrier-b",
                                   dead_causes={"carrier-b": (22,), "*": (1, 22)}, dialer_id="p")
    with AMIServer(clock=FakeClock(START), auth_fail_delay=0) as server:
        dialer, thread = start_dialer(settings, Session, port=server.port,
                                      secret="dialfunnel-secret", clock=FakeClock(START))
        dialer.stop()
        thread.join(10)
    assert not thread.is_alive() and dialer.dead_causes == {22}


@pytest.mark.parametrize("lag, cause", [(0.0, 34), (2.0, 34), (8.0, None)])
def test_congestion_keeps_the_attempt_open_for_its_late_cause(world, Session, lag, cause):
    """ami-a5: OriginateResponse Reason 8, our ;1 leg's Hangup with cause 0, then the ;2 Hangup
    with 34. The attempt waits for that cause up to HANGUP_WAIT after the response."""
    campaign_id, driver, server = world({"21": "congestion"}, trunk="Local/{number}@out",
                                        timing={"congestion": {"cause_lag": lag}})
    driver.run_until(START.timestamp() + 0.5 + lag)
    attempt = first_attempts(Session, campaign_id)["21"]
    if lag < engine.HANGUP_WAIT:       # closed the moment the far side's cause came
        assert attempt.ended_at is not None
    driver.run_until(START.timestamp() + 15)
    attempt = first_attempts(Session, campaign_id)["21"]
    assert (attempt.outcome, attempt.reason, attempt.cause) == ("congestion", 8, cause)
    waited = (attempt.ended_at - attempt.started_at).total_seconds()
    if cause is None:      # the cause came too late: closed after the wait, with what it had
        assert engine.HANGUP_WAIT <= waited <= engine.HANGUP_WAIT + engine.TICK_SECONDS
    else:
        assert waited == pytest.approx(lag, abs=0.01)


def test_every_outcome_tells_the_pacer_something():
    assert set(DIAL_OUTCOMES) - {"answered", "abandoned", "machine"} <= set(engine._PACER_KIND)
