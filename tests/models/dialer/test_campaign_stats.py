"""Campaign figures: live view and reports over a hand-built campaign with known answers."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event

from models.dialer.campaign_stats import live_stats, report
from models.errors import DomainError, NotFound
from models.schema import AgentState, AgentStateLog

from tests.models.dialer.test_agent_states import make_attempt, make_campaign

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


def span(session, user, campaign, state, start, length=None, disposition=None):
    session.add(AgentStateLog(user_id=user.id, campaign_id=campaign.id, state=state,
                              started_at=start, disposition=disposition,
                              ended_at=start + length if length is not None else None))


@pytest.fixture
def scene(session, users, clock):
    """Now is 2026-11-26 10:00 Shanghai (02:00 UTC)."""
    tm, tm2 = users["tm"], users["tm2"]
    campaign = make_campaign(session, clock, [tm, tm2], name="双十二外呼")
    other = make_campaign(session, clock, [tm])
    now = clock.now()

    def attempt(ago, outcome=None, talk=0.0, agent=None, number=None, c=campaign, dialer="d1"):
        return make_attempt(session, clock, c, started=now - ago, outcome=outcome, talk=talk,
                            agent=agent, number=number, ended=outcome is not None, dialer_id=dialer)
    # Yesterday in Shanghai (2026-11-25): 08:00 and 23:30.
    attempt(26 * H, "answered", 120, tm)
    attempt(26 * H, "answered", 120, tm)
    attempt(26 * H, "abandoned")
    attempt(10 * H + 30 * M, "machine")              # 23:30 on the 25th
    attempt(26 * H, "busy")
    # Today: 00:30 (still the 25th in UTC) .. 10:00.
    attempt(9 * H + 30 * M, "noanswer")
    attempt(5 * H, "answered", 60, tm)
    attempt(4 * H, "answered", 180, tm2)
    attempt(3 * H, "answered", 60, tm)
    attempt(2 * H, "abandoned")
    attempt(70 * M, "noanswer")
    attempt(50 * M, "unallocated", number="+8613800000001")
    attempt(20 * M, "unallocated", number="+8613800000001").heard = "unallocated"
    attempt(10 * M, "invalid")
    attempt(1 * M)
    attempt(dt.timedelta(seconds=30))
    attempt(2 * M, agent=tm2, dialer=None)  # a customer tm2 is previewing: no call placed yet
    attempt(5 * M, "answered", 600, tm, c=other)          # another campaign: not counted
    attempt(5 * M, c=other)
    span(session, tm, campaign, "logged_out", now - 8 * H, 5 * H)
    span(session, tm, campaign, "ready", now - 3 * H, H)
    span(session, tm, campaign, "on_call", now - 2 * H, 30 * M)
    span(session, tm, campaign, "wrap_up", now - 90 * M, 15 * M, disposition="callback")
    span(session, tm, campaign, "ready", now - 15 * M)                 # open: 15 min so far
    span(session, tm2, campaign, "paused", now - 5 * H, H)
    span(session, tm2, other, "ready", now - 5 * H, 3 * H)
    session.add(AgentState(user_id=tm.id, campaign_id=campaign.id, state="ready",
                           since=now - 15 * M))
    session.add(AgentState(user_id=users["mgr"].id, campaign_id=other.id, state="ready",
                           since=now))
    session.commit()
    return campaign


def test_live_figures(session, scene, users, clock):
    stats = live_stats(session, scene.id, clock=clock)
    assert stats["campaign"]["name"] == "双十二外呼"
    assert stats["lines_in_flight"] == 2
    assert stats["attempts"] == 16 and stats["completed"] == 14
    assert stats["outcomes"] == dict(answered=5, abandoned=2, machine=1, busy=1, rejected=0,
                                     noanswer=2, absent=0, unallocated=2, changed=0, invalid=1,
                                     dead=0, noroute=0, congestion=0, failed=0)
    assert stats["announced"] == {"unallocated": 1}       # the carrier said 空号 on one
    assert stats["live_answers"] == 7
    assert stats["answer_rate"] == 50.0
    assert stats["abandon_rate"] == 28.6           # 2 / 7
    assert stats["abandon_rate_24h"] == 25.0       # 1 / 4: yesterday morning is out
    assert stats["abandon_cap_pct"] == 3.0 and stats["over_cap"] is True
    assert stats["dead_numbers"] == 2
    assert stats["talk_minutes"] == 9.0
    assert stats["agent_hours"] == 3.0              # 1 + 0.5 + 0.25 + 0.25 + 1
    assert stats["talk_per_agent_hour"] == 3.0
    assert stats["calls_per_hour"] == 5
    agents = {a["name"]: a for a in stats["agents"]}
    assert set(agents) == {users["tm"].full_name, users["tm2"].full_name}
    assert agents[users["tm"].full_name]["state"] == "ready"
    assert agents[users["tm"].full_name]["seconds"] == 900
    assert agents[users["tm2"].full_name]["state"] == "logged_out"
    assert stats["agents_by_state"] == dict(logged_out=1, ready=1, on_call=0, wrap_up=0, paused=0)
    clock.advance(minutes=45)
    later = live_stats(session, scene.id, clock=clock)
    assert later["agent_hours"] == 3.75 and later["calls_per_hour"] == 3


def test_an_empty_campaign_has_no_rates(session, users, clock):
    campaign = make_campaign(session, clock, [users["tm"]])
    stats = live_stats(session, campaign.id, clock=clock)
    assert (stats["answer_rate"], stats["abandon_rate"], stats["abandon_rate_24h"],
            stats["talk_per_agent_hour"]) == (None, None, None, None)
    assert stats["over_cap"] is False and stats["lines_in_flight"] == 0
    with pytest.raises(NotFound):
        live_stats(session, campaign.id + 50, clock=clock)


def test_report_by_company_day(session, scene, clock):
    rows = report(session, scene.id, "day", clock=clock)
    assert [r["day"] for r in rows] == [dt.date(2026, 11, 25), dt.date(2026, 11, 26)]
    first, second = rows
    assert (first["calls"], first["completed"], first["answered"], first["abandoned"],
            first["machine"], first["dead"]) == (5, 5, 2, 1, 1, 0)
    assert (first["answer_rate"], first["abandon_rate"], first["talk_minutes"]) == (60.0, 33.3, 4.0)
    assert first["agent_hours"] == 0 and first["talk_per_agent_hour"] is None
    assert (second["calls"], second["completed"], second["answered"], second["abandoned"],
            second["machine"], second["dead"]) == (11, 9, 3, 1, 0, 3)
    assert (second["answer_rate"], second["abandon_rate"], second["talk_minutes"]) == (44.4, 25.0, 5.0)
    assert second["agent_hours"] == 3.0 and second["talk_per_agent_hour"] == 1.7
    only = report(session, scene.id, "day", clock=clock, start=dt.date(2026, 11, 26),
                  end=dt.date(2026, 11, 26))
    assert only == [second]


def test_report_by_agent_and_by_outcome(session, scene, users, clock):
    rows = report(session, scene.id, "agent", clock=clock)
    by_name = {r["name"]: r for r in rows}
    tm, tm2 = by_name[users["tm"].full_name], by_name[users["tm2"].full_name]
    assert (tm["calls"], tm["talk_minutes"], tm["agent_hours"], tm["talk_per_agent_hour"]) == \
        (4, 6.0, 2.0, 3.0)
    assert tm["dispositions"]["callback"] == 1 and sum(tm["dispositions"].values()) == 1
    assert (tm2["calls"], tm2["talk_minutes"], tm2["agent_hours"]) == (1, 3.0, 1.0)
    assert len(rows) == 2
    outcomes = {r["outcome"]: r for r in report(session, scene.id, "outcome", clock=clock)}
    assert outcomes["answered"]["calls"] == 5 and outcomes["answered"]["share"] == 35.7
    assert outcomes["answered"]["talk_minutes"] == 9.0
    assert outcomes["unallocated"]["dead"] and not outcomes["busy"]["dead"]
    assert outcomes["failed"] == dict(outcome="failed", calls=0, share=0.0, talk_minutes=0.0,
                                      dead=False)
    assert sum(r["calls"] for r in outcomes.values()) == 14
    with pytest.raises(DomainError) as err:
        report(session, scene.id, "week", clock=clock)
    assert err.value.key == "campaign_stats.bad_report"


def test_live_stats_is_a_fixed_number_of_queries(session, engine, users, clock):
    campaign = make_campaign(session, clock, [users["tm"], users["tm2"]])
    statements = []

    def count(*_args):
        statements.append(1)

    def run():
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            live_stats(session, campaign.id, clock=clock)
            report(session, campaign.id, "day", clock=clock)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        session.commit()
        return len(statements)

    for i in range(10):
        make_attempt(session, clock, campaign, outcome="busy", ended=True,
                     started=clock.now() - i * M)
    few = run()
    for i in range(200):
        make_attempt(session, clock, campaign, outcome="answered", ended=True, talk=30,
                     started=clock.now() - dt.timedelta(hours=i % 30))
    assert run() == few
