"""Voice campaigns (T9) on the real PBX's path: the dialer paces by lines (the campaign's and the
trunk's limits), the simulator runs dialfunnel-outbound (AGI(outbound) with AMD, then the ivr
branch: AGI(ivr?flow=...) over FastAGI, or the machine's message after its beep), the clock
moved by hand. Real sockets throughout: AMI, FastAGI."""
from __future__ import annotations

import datetime as dt
import shutil

import pytest
from sqlalchemy import select

from agi.ami.client import AMIClient
from agi.dialer.engine import Dialer
from agi.dialer.simulation import Driver
from agi.fastagi.dispatch import Registry
from agi.fastagi.server import FastAGIServer
from agi.handlers import outbound, recording_done
from agi.handlers.ivr import make_ivr_handler
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock
from ivr_flows.flows import DEFAULT_DIR
from models.dialer import campaigns, dnc
from models.schema import CampaignLead, ContactRecord, Customer, DialAttempt
from models.schema.ivr import IVRCall
from recordings.store import RecordingStore

START = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 in Shanghai
T0 = START.timestamp()
RING = 3.0
PROMPT = 10.0     # each prompt of the test flow (two: the notice, then goodbye)
CALL = RING + 3.0 + 2 * PROMPT   # ringing, AMD hearing the "喂?", the flow
FLOW = "notice_test"
WATCHED = ("Newexten", "VarSet", "Hangup", "OriginateResponse")


@pytest.fixture
def world(Session, users, tmp_path):
    """build(campaigns=[(outcomes, fields)], trunk_lines=0) → (campaign ids, driver, seen)."""
    clock = FakeClock(START)
    spool = tmp_path / "monitor"
    spool.mkdir()
    flows = tmp_path / "flows"
    flows.mkdir()
    for name in ("prompts.yaml", "press1_talk.yaml"):
        shutil.copy(DEFAULT_DIR / name, flows / name)
    (flows / f"{FLOW}.yaml").write_text(
        "start: say\nsteps:\n  say:\n    prompt: closed\n    next: bye\n"
        "  bye:\n    hangup: goodbye\n", encoding="utf-8")
    built: list = []

    def build(specs, *, trunk_lines=0, zones=None, blocked=(), keys=None):
        ids, numbers, n = [], {}, 0
        with Session() as s:
            admin = s.merge(users["admin"])
            for index, (outcomes, fields) in enumerate(specs):
                stage = ("target", "potential", "reserve")[index]
                for outcome in outcomes:
                    number = f"+861390000{n:04d}"
                    s.add(Customer(name=f"语音客户{n}", ownership="shared", stage=stage,
                                   phone=number[3:], phone_e164=number,
                                   time_zone=(zones or {}).get(n, "Asia/Shanghai"),
                                   created_at=clock.now(), updated_at=clock.now()))
                    numbers[number] = outcome
                    n += 1
                s.flush()
                for number in blocked:
                    dnc.add_number(s, admin, number, reason="test", clock=clock)
                campaign = campaigns.create_campaign(
                    s, admin, clock=clock, name=f"通知{index}", mode="voice",
                    filter_stage=stage, ring_timeout_s=25, **{"ivr_flow": FLOW, **fields})
                campaigns.change_status(s, admin, campaign.id, "start", clock=clock)
                ids.append(campaign.id)
            s.commit()
        registry = Registry()
        registry.register("outbound", outbound.outbound)
        registry.register("recording_done", recording_done.recording_done)
        registry.register("ivr", make_ivr_handler(flows_dir=flows, clock=clock))
        agi = FastAGIServer(registry, Session, port=0).start()
        scenario = Scenario(numbers=numbers, outbound_keys=keys or {}, timing={
            "answer": {"ring_time": RING, "answer_delay": 0.0, "prompt_time": PROMPT},
            "machine": {"ring_time": RING, "answer_delay": 0.0, "message_time": 5.0},
            "busy": {"ring_time": 2.0}, "noanswer": {"ring_time": 25.0}})
        server = AMIServer(scenario=scenario, clock=clock, recordings_incoming=spool,
                           fastagi=("127.0.0.1", agi.port)).start()
        outbound.configure(clock=clock, spool_dir=spool, sleep=server.scheduler.sleep)
        recording_done.configure(RecordingStore(tmp_path / "recordings", spool))
        ami = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret",
                        events="call,user,dialplan", reconnect=False)
        seen: list = []
        for name in WATCHED:
            ami.on(name, seen.append)
        dialer = Dialer(Session, ami, clock=clock, dialer_id="voice", trunk="Local/{number}@out",
                        trunk_lines=trunk_lines)
        dialer.attach()
        driver = Driver(dialer, server, ami, clock)
        ami.connect()
        built.append((server, ami, agi))
        return ids, driver, seen

    yield build
    for server, ami, agi in built:
        ami.close()
        server.stop()
        agi.shutdown(grace=2)
    outbound.configure(clock=outbound.SYSTEM_CLOCK, spool_dir=None, sleep=outbound.time.sleep)
    recording_done.configure(None)


def attempts(Session, campaign_id=None):
    with Session() as s:
        stmt = select(DialAttempt).order_by(DialAttempt.id)
        if campaign_id is not None:
            stmt = stmt.where(DialAttempt.campaign_id == campaign_id)
        return s.scalars(stmt).all()


def run_watching(driver, until, step=0.5):
    """Run to `until` (seconds after START); the most lines up at once, per campaign and in all."""
    most: dict = {}
    t = T0
    while t < T0 + until:
        t += step
        driver.run_until(t)
        lines = list(driver.dialer.lines.values())
        most["all"] = max(most.get("all", 0), len(lines))
        for line in lines:
            count = sum(1 for other in lines if other.campaign_id == line.campaign_id)
            most[line.campaign_id] = max(most.get(line.campaign_id, 0), count)
    return most


def test_lines_never_exceed_the_campaign_limit_and_every_number_is_heard(world, Session):
    (cid,), driver, seen = world([(["answer"] * 10, {"max_lines": 3})])
    most = run_watching(driver, 4 * CALL + 10)
    assert most[cid] == 3                      # the limit, used to the full and never passed
    done = attempts(Session, cid)
    assert len(done) == 10 and all(a.outcome == "answered" and a.agent_id is None for a in done)
    assert all(2 * PROMPT <= a.talk_seconds <= 2 * PROMPT + 4 for a in done)  # AMD + the flow
    with Session() as s:
        rows = s.scalars(select(IVRCall).order_by(IVRCall.id)).all()
        statuses = s.scalars(select(CampaignLead.status).where(CampaignLead.campaign_id == cid)).all()
    assert sorted(r.uniqueid for r in rows) == sorted(a.channel_id for a in done)
    assert {r.flow for r in rows} == {FLOW}
    assert set(statuses) == {"done"}


def test_the_trunk_limit_is_shared_by_the_campaigns(world, Session):
    (a, b), driver, seen = world([(["answer"] * 6, {"max_lines": 4}),
                                  (["answer"] * 6, {"max_lines": 4})], trunk_lines=5)
    most = run_watching(driver, 3 * CALL + 10)
    assert most["all"] == 5 and most[a] <= 4 and most[b] <= 4
    assert most[a] >= 1 and most[b] >= 1      # both campaigns get lines
    assert len(attempts(Session)) == 12


def test_an_answered_call_runs_the_ivr_agi_with_the_campaign_flow(world, Session):
    (cid,), driver, seen = world([(["answer"], {"max_lines": 2})])
    driver.run_until(T0 + CALL + 5)
    (attempt,) = attempts(Session, cid)
    mine = [m for m in seen if m.get("Uniqueid") == attempt.channel_id]
    sets = {(m["Variable"], m["Value"]) for m in mine if m.name == "VarSet"}
    assert ("DIALFUNNEL_IVR", FLOW) in sets and ("DIALFUNNEL_STATUS", "IVR") in sets
    agis = [m["AppData"] for m in mine if m.name == "Newexten" and m["Application"] == "AGI"]
    assert agis[0].endswith("/outbound") and agis[1].endswith(f"/ivr?flow={FLOW}")
    assert not any(m.name == "Newexten" and m["Application"] == "Dial" for m in mine)
    with Session() as s:
        row = s.scalar(select(IVRCall).where(IVRCall.uniqueid == attempt.channel_id))
        assert row.flow == FLOW and row.path[0] == "say"
        # a call the flow heard leaves no system record: the flow writes its outcome
        assert s.scalars(select(ContactRecord)).all() == []
    assert attempt.outcome == "answered" and attempt.amd == "human"


@pytest.mark.parametrize("action", ["message", "hangup"])
def test_a_machine_gets_the_message_after_its_beep_or_is_hung_up(world, Session, action):
    (cid,), driver, seen = world([(["machine"], {"max_lines": 1, "machine_action": action,
                                                 "machine_message": "notice-vm"})])
    driver.run_until(T0 + RING + 30)
    (attempt,) = attempts(Session, cid)
    assert attempt.outcome == "machine" and attempt.amd == "machine"
    mine = [m for m in seen if m.get("Uniqueid") == attempt.channel_id]
    plays = [m for m in mine if m.name == "Newexten" and m["Application"] == "Playback"]
    assert not any(m.name == "Newexten" and m["AppData"].endswith("ivr?flow=" + FLOW) for m in mine)
    answered_at, ended_at = attempt.answered_at.timestamp(), attempt.ended_at.timestamp()
    if action == "message":
        assert [m["AppData"] for m in plays] == ["dialfunnel/notice-vm"]
        # the greeting (0.5 s + 6 s) and its beep (0.4 s) went by before the message began
        assert ended_at - answered_at >= 6.9 + 5.0
    else:
        assert plays == [] and ended_at - answered_at < 6.0
    with Session() as s:
        (record,) = s.scalars(select(ContactRecord)).all()
        lead = s.scalar(select(CampaignLead).where(CampaignLead.campaign_id == cid))
    assert record.user_id is None and record.progress == "答录机"
    assert ("已留言" if action == "message" else "已挂断") in record.content
    assert lead.status == "done"


def test_compliance_still_applies(world, Session):
    """Do-not-call and the calling hours in the customer's zone keep numbers from being
    dialled; a busy number waits its retry delay; every unreached call leaves its record."""
    outcomes = ["busy", "answer", "answer", "cause-1", "noanswer"]
    (cid,), driver, seen = world([(outcomes, {"max_lines": 5, "retry_rules": {"busy": {"delay_min": 10, "max": 1}}})],
                                 zones={2: "America/New_York"},     # 21:00 there: closed
                                 blocked=["+8613900000001"])
    driver.run_until(T0 + 9 * 60)
    dialled = [a.number for a in attempts(Session, cid)]
    assert sorted(dialled) == ["+8613900000000", "+8613900000003", "+8613900000004"]
    driver.run_until(T0 + 11 * 60)                       # the busy one's retry is due
    dialled = [a.number for a in attempts(Session, cid)]
    assert dialled.count("+8613900000000") == 2 and "+8613900000002" not in dialled
    with Session() as s:
        records = s.execute(select(Customer.phone_e164, ContactRecord.progress, ContactRecord.content)
                            .join(Customer, Customer.id == ContactRecord.customer_id)
                            .order_by(ContactRecord.id)).all()
        leads = dict(s.execute(select(CampaignLead.number, CampaignLead.status)
                               .where(CampaignLead.campaign_id == cid)).all())
    by_number: dict = {}
    for number, progress, content in records:
        by_number.setdefault(number, []).append(progress)
    assert by_number == {"+8613900000000": ["忙线", "忙线"], "+8613900000003": ["空号"],
                         "+8613900000004": ["无人接听"]}
    assert any("原因码 1" in content for _, _, content in records)
    assert leads["+8613900000001"] == "dnc" and leads["+8613900000003"] == "dead"
    assert leads["+8613900000000"] == "exhausted" and leads["+8613900000002"] == "queued"


def test_the_callee_keys_1_or_9_in_the_press1_flow(world, Session):
    """The simulator keys in an outbound flow as the scenario says: 9 puts the number on the
    do-not-call list, 1 asks for an agent (none free: a callback is booked), none plays on."""
    keys = {"+8613900000000": ["1"], "+8613900000001": ["9"]}
    (cid,), driver, seen = world([(["answer"] * 3, {"max_lines": 3, "ivr_flow": "press1_talk"})],
                                 keys=keys)
    driver.run_until(T0 + 4 * CALL)
    number_of = {a.channel_id: a.number for a in attempts(Session, cid)}
    with Session() as s:
        paths = {number_of[row.uniqueid]: row.path for row in s.scalars(select(IVRCall))}
        blocked = dnc.is_blocked(s, "+8613900000001")
        kept = dnc.is_blocked(s, "+8613900000000") or dnc.is_blocked(s, "+8613900000002")
    assert "opt_out" in paths["+8613900000001"] and blocked and not kept
    assert paths["+8613900000000"][:3] == ["offer", "to_agent", "callback"]
    assert "to_agent" not in paths["+8613900000002"] and "opt_out" not in paths["+8613900000002"]
