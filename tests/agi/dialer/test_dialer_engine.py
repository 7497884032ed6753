"""The dialer end to end: the real engine, hopper and rules against the PBX simulator over a
real AMI socket, on a clock moved by hand (agi.dialer.simulation)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from agi.ami.client import AMIClient
from agi.dialer.engine import Dialer, other_channel_id
from agi.dialer.simulation import Driver, SimulatedAgents, start_with_ready_team
from agi.pbxsim.ami_scenarios import Scenario
from agi.pbxsim.ami_server import AMIServer
from agi.pbxsim.clock import FakeClock
from models.dialer import agent_states, campaign_stats, campaigns
from models.schema import CampaignLead, Customer, DialAttempt

START = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 in Shanghai

OUTCOME_OF = {  # last digits of the number → what the simulated far side does
    "01": "busy", "02": "noanswer", "03": "unallocated", "04": "absent", "05": "invalid",
    "06": "congestion", "07": "answer", "08": "answer",
}


@pytest.fixture
def world(Session, users):
    """A running campaign with the two telemarketers on its team, both ready."""
    clock = FakeClock(START)

    def build(numbers: dict[str, str], *, answer_timing=None, mode="progressive"):
        with Session() as s:
            admin = s.merge(users["admin"])
            for n, suffix in enumerate(numbers):
                s.add(Customer(name=f"拨号客户{n}", ownership="shared", stage="target",
                               phone=f"1380013{suffix}", phone_e164=f"+861380013{suffix}",
                               mobile=f"1380013{suffix}", mobile_e164=f"+861380013{suffix}",
                               created_at=clock.now(), updated_at=clock.now()))
            s.flush()
            campaign = campaigns.create_campaign(s, admin, clock=clock, name="测试活动", mode=mode,
                                                 filter_stage="target", ring_timeout_s=25)
            team = [s.merge(users["tm"]), s.merge(users["tm2"])]
            for i, user in enumerate(team):
                user.extension = f"810{i}"
            start_with_ready_team(s, admin, campaign, team, clock=clock)
            campaign_id = campaign.id
            s.commit()
        timing = {"answer": answer_timing or {"ring_time": 3.0, "answer_delay": 0.0, "talk_time": 40.0}}
        scenario = Scenario(numbers={f"+861380013{k}": v for k, v in numbers.items()}, timing=timing)
        server = AMIServer(scenario=scenario, clock=clock).start()
        ami = AMIClient("127.0.0.1", server.port, "dialfunnel", "dialfunnel-secret",
                        events="call,user", reconnect=False)
        dialer = Dialer(Session, ami, clock=clock, dialer_id="test", trunk="Local/{number}@out",
                        route_answers=True, pacer_mode=mode)
        dialer.attach()
        driver = Driver(dialer, server, ami, clock, SimulatedAgents(Session, clock, campaign_id, 20.0))
        ami.connect()
        built.append((server, ami))
        return campaign_id, dialer, driver, server, clock

    built: list = []
    yield build
    for server, ami in built:
        ami.close()
        server.stop()


def attempts(Session, campaign_id):
    with Session() as s:
        return s.scalars(select(DialAttempt).where(DialAttempt.campaign_id == campaign_id)
                         .order_by(DialAttempt.id)).all()


def test_every_outcome_is_classified_and_booked(world, Session):
    campaign_id, dialer, driver, server, clock = world(dict(OUTCOME_OF))
    driver.run_until(START.timestamp() + 180)
    rows = attempts(Session, campaign_id)
    first = {}
    for a in rows:
        first.setdefault(a.number[-2:], a)
    expected = {"01": "busy", "02": "noanswer", "03": "unallocated", "04": "absent", "05": "invalid",
                "06": "congestion", "07": "answered", "08": "answered"}
    assert {k: first[k].outcome for k in expected} == expected
    assert all(a.ended_at is not None for a in rows)
    with Session() as s:
        status = dict(s.execute(select(Customer.phone, Customer.number_status)).all())
        leads = {lead.number[-2:]: lead for lead in s.scalars(select(CampaignLead))}
    assert status["138001303"] == "unallocated" and status["138001304"] == "unknown"   # 关机: later
    assert status["138001305"] == "invalid"
    assert leads["03"].status == "dead" and leads["07"].status == "done"
    assert leads["01"].status in ("queued", "dialling", "exhausted")
    # dead numbers were dialled once and never again; answered calls were connected to an agent
    assert sum(1 for a in rows if a.number.endswith(("03", "04", "05"))) == 3
    assert all(a.agent_id is not None and a.talk_seconds > 30 for a in rows if a.outcome == "answered")
    # what the dialer sent: ChannelId/OtherChannelId for correlation, the campaign's ring timeout
    originates = server.actions("Originate")
    assert len({m["ChannelId"] for m in originates}) == len(originates) == len(rows)
    assert all(m["OtherChannelId"] == other_channel_id(m["ChannelId"]) and m["Timeout"] == "25000"
               for m in originates)


def test_a_live_answer_with_no_free_agent_is_abandoned_after_two_seconds(world, Session, users):
    campaign_id, dialer, driver, server, clock = world(
        {"07": "answer", "08": "answer"},
        answer_timing={"ring_time": 3.0, "answer_delay": 0.0, "talk_time": 300.0})
    driver.run_until(START.timestamp() + 1)
    assert len(attempts(Session, campaign_id)) == 2  # progressive: a line per ready agent
    with Session() as s:  # one agent steps away while both lines ring
        agent_states.set_state(s, s.get(type(users["tm2"]), users["tm2"].id), "paused",
                               campaign_id=campaign_id, reason="break", clock=clock)
        s.commit()
    driver.run_until(START.timestamp() + 4.5)
    hangups_before = len(server.actions("Hangup"))
    driver.run_until(START.timestamp() + 6.0)
    rows = attempts(Session, campaign_id)
    connected = [a for a in rows if a.agent_id is not None]
    waiting = [a for a in rows if a.agent_id is None]
    assert len(connected) == 1 and connected[0].agent_id == users["tm"].id
    assert len(waiting) == 1 and waiting[0].outcome == "abandoned"
    # it waited the full two seconds after its answer before the dialer hung it up
    assert (waiting[0].ended_at - waiting[0].answered_at).total_seconds() == pytest.approx(2.0, abs=0.01)
    assert len(server.actions("Hangup")) >= hangups_before + 1
    assert dialer.counts["abandoned"] == 1
    with Session() as s:
        lead = s.scalar(select(CampaignLead).where(CampaignLead.number == waiting[0].number))
    # an abandoned number is not dialled again for 72 hours
    assert (lead.next_attempt_at - waiting[0].ended_at).total_seconds() >= 72 * 3600 - 1


def test_preview_the_agent_chooses_then_the_dialer_places_the_call(world, Session, users):
    from models.dialer import preview
    campaign_id, dialer, driver, server, clock = world({"07": "answer", "08": "answer"}, mode="preview")
    driver.run_until(START.timestamp() + 10)
    assert server.actions("Originate") == []  # preview: nothing is dialled until an agent asks
    with Session() as s:
        tm = s.get(type(users["tm"]), users["tm"].id)
        attempt = preview.preview_next(s, tm, campaign_id, clock=clock)
        attempt_id, number = attempt.id, attempt.number
        s.commit()
    driver.run_until(START.timestamp() + 20)
    assert server.actions("Originate") == []  # seen, not yet dialled
    with Session() as s:
        preview.request_dial(s, s.get(type(users["tm"]), users["tm"].id), attempt_id, clock=clock)
        s.commit()
    driver.run_until(START.timestamp() + 80)
    originates = server.actions("Originate")
    assert [m["Channel"] for m in originates] == [f"Local/{number}@out"]
    with Session() as s:
        attempt = s.get(DialAttempt, attempt_id)
        assert attempt.outcome == "answered" and attempt.agent_id == users["tm"].id
        assert attempt.dialer_id == "test" and attempt.talk_seconds > 30
        assert agent_states.current(s, users["tm"].id).state in ("wrap_up", "ready")


def test_agents_who_leave_with_lines_out_get_no_new_line_and_the_cap_holds_after(world, Session, users):
    """Issue 11: one agent left a predictive campaign with calls in flight and the abandon rate
    ran to 40 % against a 3 % cap. The lines already out still count (their answers are
    abandons in the 24 h rate); no line is dialled from the moment nobody can take a call; and
    while the rate is at the cap the pacer dials no more than one line per ready agent."""
    numbers = {f"{n:02d}": "answer" for n in range(10, 70)}
    campaign_id, dialer, driver, server, clock = world(
        numbers, mode="predictive",
        answer_timing={"ring_time": 8.0, "answer_delay": 0.0, "talk_time": 300.0})
    dialer.pacer_options = {"theta_start": 0.3, "prior_answer": 0.2}   # a bold pacer
    driver.run_until(START.timestamp() + 1)
    out = len(server.actions("Originate"))
    assert out > 2          # predictive: more lines than the two ready agents
    with Session() as s:
        for user in (users["tm"], users["tm2"]):
            agent_states.set_state(s, s.get(type(user), user.id), "logged_out", clock=clock)
        s.commit()
    driver.run_until(START.timestamp() + 30)
    assert len(server.actions("Originate")) == out     # nothing dialled for agents who left
    with Session() as s:
        stats = campaign_stats.live_stats(s, campaign_id, clock=clock)
    assert stats["abandoned"] == out and stats["abandon_rate_24h"] == 100.0 and stats["over_cap"]

    # the dialer restarts (its pacer forgets the abandons; the 24 h rate does not) and one
    # agent comes back to a campaign over its cap
    dialer.campaigns.clear()
    dialer._next_refresh = 0.0
    with Session() as s:
        agent_states.set_state(s, s.get(type(users["tm"]), users["tm"].id), "ready",
                               campaign_id=campaign_id, clock=clock)
        s.commit()
    dialer.tick_now()
    driver.run_until(START.timestamp() + 31)
    assert len(server.actions("Originate")) == out + 1   # one line for one ready agent


def test_agents_on_inbound_queue_calls_are_not_dialled_for(world, Session, users):
    """Issue 14 (blended): both agents are logged in to a queue and the predictive campaign and
    both take an inbound call. The pacer must not count them as on a campaign call (soon free):
    nothing is dialled until one of them is ready again."""
    numbers = {f"{n:02d}": "answer" for n in range(10, 40)}
    campaign_id, dialer, driver, server, clock = world(
        numbers, mode="predictive",
        answer_timing={"ring_time": 8.0, "answer_delay": 0.0, "talk_time": 300.0})
    dialer.pacer_options = {"theta_start": 0.3, "prior_answer": 0.2, "prior_talk": 20.0,
                            "prior_wrap": 2.0}   # a bold pacer expecting short calls
    with Session() as s:
        for user in (users["tm"], users["tm2"]):
            agent_states.set_queues(s, s.get(type(user), user.id), ["sales"], allowed=("sales",),
                                    clock=clock)
            assert agent_states.inbound_connected(s, user.id, clock=clock)
        assert agent_states.agent_snapshot(s, campaign_id) == []
        s.commit()
    driver.run_until(START.timestamp() + 60)
    assert server.actions("Originate") == []
    with Session() as s:          # one queue call ends: wrap-up is still not the campaign's
        assert agent_states.inbound_ended(s, users["tm"].id, clock=clock)
        s.commit()
    driver.run_until(START.timestamp() + 70)
    assert server.actions("Originate") == []
    with Session() as s:
        agent_states.set_state(s, s.get(type(users["tm"]), users["tm"].id), "ready", clock=clock)
        s.commit()
    dialer.tick_now()
    driver.run_until(START.timestamp() + 71)
    assert len(server.actions("Originate")) >= 1    # a ready agent: the campaign dials again


def test_a_tick_sends_its_lines_as_one_batch_and_a_refused_one_ends_alone(world, Session, monkeypatch):
    """The lines of a tick go out in one pipelined batch (AMIClient.originate_many); Asterisk
    refusing the first of them (here: its Channel blanked on the way) closes that attempt at
    once, as a refused Originate always did, and the next one rings and ends as usual."""
    campaign_id, dialer, driver, server, clock = world({"07": "answer", "08": "answer", "01": "busy"})
    ami, batches = dialer.ami, []
    real = ami.originate_many

    def spy(requests):
        requests = list(requests)
        batches.append([r["channel_id"] for r in requests])
        if len(batches) == 1:
            requests[0] = dict(requests[0], channel="")
        return real(requests)

    monkeypatch.setattr(ami, "originate_many", spy)
    monkeypatch.setattr(ami, "originate", lambda *a, **kw: pytest.fail("a line originated alone"))
    driver.run_until(START.timestamp())   # the first tick: a line per ready agent
    first = attempts(Session, campaign_id)
    assert len(first) == 2 and batches == [[a.channel_id for a in first]]
    assert [m["ChannelId"] for m in server.actions("Originate")] == batches[0]
    refused, sent = first
    assert refused.ended_at is not None and refused.outcome == "failed" and sent.ended_at is None
    assert dialer.counts["dialled"] == 1 and dialer.counts["ami_errors"] == 0
    assert list(dialer.lines) == [sent.channel_id]
    driver.run_until(START.timestamp() + 180)
    rows = attempts(Session, campaign_id)
    assert all(a.ended_at is not None for a in rows) and not dialer.lines
    assert {a.outcome for a in rows if a.id != refused.id} <= {"answered", "busy"}
    assert "answered" in {a.outcome for a in rows}
    assert dialer.counts["dialled"] == len(rows) - 1 == len(server.actions("Originate")) - 1
