"""The predictive pacer in every clock hour of hard worlds (the pure model, agi.dialer.pacing_sim):
under the abandon cap in each hour, and at least progressive dialling's talk time. Small, short
worlds; bench/pacing_model.py runs the full days."""
from __future__ import annotations

import pytest

from agi.dialer.pacing import make_pacer
from agi.dialer.pacing_estimators import HourBudget, RingModel
from agi.dialer.pacing_sim import World, parse_profile, simulate


def hours_over_cap(result: dict, cap: float = 0.03) -> list[dict]:
    return [h for h in result["hours"] if h["abandons"] > cap * h["lives"]]


def test_lunch_dip_and_recovery_under_the_cap_in_every_hour():
    """Answers fall from 30% to 10% at 12:00 and come back at 13:30; AMD takes 2 s. The old pacer
    (live share over the last 2,000 results) went over the cap in the dip's hours."""
    world = World(agents=14, amd=2.0, start_hour=11.5, hours=2.5, seed=1,
                  answer_profile=parse_profile("11:0.3,12:0.1,13.5:0.3"))
    ours = simulate(make_pacer("predictive"), world)
    progressive = simulate(make_pacer("progressive"), world)
    assert [h["hour"] for h in ours["hours"]] == [11.5, 12.5, 13.5]
    assert all(h["lives"] > 100 for h in ours["hours"])
    assert hours_over_cap(ours) == []
    for mine, theirs in zip(ours["hours"], progressive["hours"]):
        assert mine["talk_min_per_agent_hour"] >= theirs["talk_min_per_agent_hour"]


def test_500_agents_from_a_cold_start_stay_under_the_cap():
    """No history, 500 agents ready at once: the first wave's dead numbers come back within
    seconds and its live answers 5-25 s later; the old pacer read the early results as a
    collapsed answer rate and over-dialled."""
    world = World(agents=500, amd=2.0, hours=0.1, seed=2)
    ours = simulate(make_pacer("predictive"), world)
    assert ours["lives"] > 1000
    assert ours["abandon_pct"] <= 3.0
    progressive = simulate(make_pacer("progressive"), world)
    assert ours["talk_min_per_agent_hour"] >= progressive["talk_min_per_agent_hour"]


def test_few_agents_on_long_calls_never_below_progressive():
    """Four agents on 10-minute calls answer ~20 calls an hour: one abandon breaks the hour's
    cap, so the pacer dials ahead only where it risks next to nothing."""
    world = World(agents=4, talk_mean=600.0, amd=2.0, hours=2.0, seed=3)
    ours = simulate(make_pacer("predictive"), world)
    assert ours["abandons"] == 0
    progressive = simulate(make_pacer("progressive"), world)
    assert ours["talk_min_per_agent_hour"] >= 0.98 * progressive["talk_min_per_agent_hour"]
    assert ours["dials"] >= progressive["dials"] * 0.95


def test_live_share_comes_from_settled_lines_only():
    """Results arrive in ring-time order: a burst of dials reports its dead numbers first."""
    model = RingModel(prior_live=0.35, recent=400, settle=30.0)
    for i in range(300):                     # dialled at t=0: 30% live after 10 s, the rest dead at 2 s
        live = i % 10 < 3
        model.add(live, 10.0 if live else 2.0, now=10.0 if live else 2.0)
    assert model.answer_rate(now=5.0) == pytest.approx(0.35)   # nothing settled yet: the prior
    assert model.answer_rate(now=40.0) == pytest.approx((90 + 20 * 0.35) / 320)


def test_hour_budget_tightens_as_the_hour_spends_its_abandons():
    budget = HourBudget(reserve=1.0)
    start = 3600.0 * 500
    for i in range(200):                     # 200 answers in the first 20 minutes, none abandoned
        budget.add(start + 6.0 * i, False)
    now = start + 1200.0
    assert budget.scale(now, 0.03, 0.027) == 1.0
    for _ in range(8):
        budget.add(now, True)
    assert 1e-3 < budget.scale(now, 0.03, 0.027) < 0.8
    for _ in range(10):
        budget.add(now, True)
    assert budget.scale(now, 0.03, 0.027) == 1e-3
    for i in range(400):                     # answers go on at the same pace
        budget.add(now + 6.0 * i, False)
    assert budget.scale(start + 3600.0, 0.03, 0.027) == 1.0    # a new hour, a new budget


def test_hour_budget_of_a_team_that_answers_less_than_one_abandon_allows():
    """~20 answers an hour: 3% of them is under one abandon, so no risk is affordable."""
    budget = HourBudget(reserve=1.0)
    for i in range(20):
        budget.add(3600.0 * 500 + 180.0 * i, False)
    assert budget.scale(3600.0 * 500 + 3600.0, 0.03, 0.027) == 1e-3


def test_hour_budget_paces_by_the_recent_abandon_rate_when_it_runs_over_the_target():
    """The same hour so far, but abandons in the last 10 minutes: the rest of the hour is
    expected to go on at that pace, so the threshold comes down further."""
    start = 3600.0 * 500
    early, late = HourBudget(), HourBudget()
    for _ in range(6):
        early.add(start, True)
    for i in range(200):
        early.add(start + 6.0 * i, False)
        late.add(start + 6.0 * i, False)
    for _ in range(6):
        late.add(start + 1199.0, True)
    assert late.scale(start + 1200.0, 0.03, 0.027) < early.scale(start + 1200.0, 0.03, 0.027)
