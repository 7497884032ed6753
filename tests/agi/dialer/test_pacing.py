"""Pacing: estimators, decisions of each pacer, and a short seeded model simulation."""
from __future__ import annotations

import math
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agi.dialer.pacing import (
    AdaptTaperedPacer,
    AgentView,
    NaivePacer,
    PredictivePacer,
    ProgressivePacer,
    Snapshot,
    launch,
    make_pacer,
)
from agi.dialer.pacing_estimators import AbandonControl, RingModel, TalkModel, WrapModel
from agi.dialer.pacing_sim import World, draw_outcome, simulate

NOW = 1_800_000_000.0


def snap(agents=(), lines=(), waiting=0, now=NOW, cap=0.03, ring_timeout=25.0):
    return Snapshot(now=now, agents=tuple(AgentView(s, e) for s, e in agents), lines=tuple(lines),
                    waiting=waiting, abandon_cap=cap, ring_timeout=ring_timeout)


def trained(answer: float, n: int = 1500, seed: int = 5) -> PredictivePacer:
    """A predictive pacer fed results, talk and wrap times of the benchmark world."""
    rng = random.Random(seed)
    world = World(answer=answer)
    pacer = PredictivePacer()
    for i in range(n):   # one dial every 2 s, the last a minute ago (every result is in)
        kind, after = draw_outcome(rng, world)
        pacer.on_result(NOW - 60.0 - 2.0 * (n - i) + after, kind, after)
    for _ in range(300):
        pacer.on_talk_end(NOW, rng.lognormvariate(math.log(150) - 0.32, 0.8))
        pacer.on_wrap_end(NOW, 20.0)
    return pacer


# --- estimators ----------------------------------------------------------------------------------
def test_ring_model_learns_answer_rate_and_its_timing():
    model = RingModel()
    rng = random.Random(1)
    for _ in range(2000):
        kind, after = draw_outcome(rng, World(answer=0.3))
        model.add(kind == "live", after)
    assert model.answer_rate() == pytest.approx(0.3, abs=0.03)
    rows = model.table(30, [0, 5, 10, 25])
    assert rows[0][-1] == pytest.approx(0.3, abs=0.03)      # a new line answers live in 25 s
    assert rows[0][1] < 0.02                                 # ... but not within 5 s
    # An old unanswered line is mostly a no-answer: live 30%*(5/20) against 32.5% ringing out.
    assert rows[20][-1] == pytest.approx(0.075 / (0.075 + 0.325), abs=0.06)
    assert rows[26][-1] < 0.05


def test_ring_model_forgets_beyond_its_window():
    model = RingModel(window=100)
    for _ in range(100):
        model.add(True, 10.0)
    for _ in range(100):
        model.add(False, 2.0)
    assert model.answer_rate() < 0.2


def test_talk_model_fits_lognormal_and_conditions_on_time_talked():
    model = TalkModel()
    rng = random.Random(2)
    for _ in range(1000):
        model.add(rng.lognormvariate(math.log(150) - 0.32, 0.8))
    assert model.mean() == pytest.approx(150, rel=0.1)
    assert model.sigma == pytest.approx(0.8, abs=0.08)
    fresh = model.done_within(0, [30, 60])
    assert 0 < fresh[0] < fresh[1] < 1
    assert model.done_within(100, [-5, 0]) == [0.0, 0.0]


def test_wrap_model_residual_of_a_fixed_wrap_up():
    model = WrapModel()
    for _ in range(50):
        model.add(20.0)
    assert model.mean() == 20.0
    assert model.done_within(15, [4.0, 5.0, 6.0]) == [0.0, 1.0, 1.0]
    overdue = model.done_within(40, [1.0, 30.0])
    assert 0 < overdue[0] < overdue[1] < 1


def test_abandon_control_keeps_the_count_at_target():
    control = AbandonControl(start=0.05, gain=0.2)
    rng = random.Random(3)
    for _ in range(2000):
        control.update(rng.random() < 0.03, 0.025)
    # abandons = target * answers - log(theta_end / theta_start) / gain, exactly
    expected = 0.025 * control.answers - math.log(control.theta / 0.05) / 0.2
    assert control.abandons == pytest.approx(expected, abs=1e-6)
    assert control.theta < 0.05


# --- predictive decisions ------------------------------------------------------------------------
def test_no_lines_when_agents_are_on_long_calls_and_lines_are_in_flight():
    pacer = trained(0.3)
    busy = snap(agents=[("on_call", 10.0)] * 20, lines=[3.0] * 40)
    assert pacer.lines_to_launch(busy) == 0


def test_ready_agents_get_more_lines_than_agents():
    pacer = trained(0.3)
    n = pacer.lines_to_launch(snap(agents=[("ready", 5.0)] * 5 + [("on_call", 30.0)] * 15))
    assert 5 < n < 30


def test_lower_answer_rate_means_more_lines():
    state = snap(agents=[("ready", 2.0)] * 4 + [("on_call", 60.0)] * 16, lines=[4.0] * 3)
    assert trained(0.15).lines_to_launch(state) > trained(0.3).lines_to_launch(state)


def test_lines_in_flight_count_against_new_ones():
    pacer = trained(0.3)
    agents = [("ready", 2.0)] * 4 + [("on_call", 60.0)] * 16
    alone = pacer.lines_to_launch(snap(agents=agents))
    assert pacer.lines_to_launch(snap(agents=agents, lines=[6.0] * 10)) < alone


def test_a_wrap_up_about_to_end_calls_for_lines_now():
    pacer = trained(0.3)
    others = [("on_call", 60.0)] * 16
    ending = pacer.lines_to_launch(snap(agents=others + [("wrap_up", 16.0)] * 4))
    starting = pacer.lines_to_launch(snap(agents=others + [("wrap_up", 0.0)] * 4))
    assert ending > starting


def test_abandon_overshoot_slows_the_pacer():
    pacer = trained(0.3)
    state = snap(agents=[("ready", 2.0)] * 4 + [("wrap_up", 12.0)] * 4 + [("on_call", 60.0)] * 12)
    before = pacer.lines_to_launch(state)
    for _ in range(10):
        pacer.on_abandoned(NOW)
    assert pacer.control.theta < 0.012 / 4
    assert pacer.lines_to_launch(state) < before


def test_answers_put_through_speed_it_up():
    pacer = trained(0.3)
    state = snap(agents=[("ready", 2.0)] * 2 + [("wrap_up", 12.0)] * 4 + [("on_call", 60.0)] * 14)
    before = pacer.lines_to_launch(state)
    for _ in range(400):
        pacer.on_connected(NOW, 0.0)
    assert pacer.lines_to_launch(state) > before


def test_abandon_target_follows_the_campaign_cap():
    pacer = PredictivePacer()
    pacer.lines_to_launch(snap(agents=[("ready", 0.0)], cap=0.02))
    assert pacer.abandon_target() == pytest.approx(0.018)
    assert PredictivePacer(target=0.01).abandon_target() == 0.01


def test_no_agents_no_lines():
    assert trained(0.3).lines_to_launch(snap()) == 0


def test_cold_start_is_cautious():
    n = PredictivePacer().lines_to_launch(snap(agents=[("ready", 0.0)] * 20))
    assert 20 <= n <= 60


def test_decision_is_cheap_with_50_agents_and_200_lines():
    pacer = trained(0.3)
    rng = random.Random(4)
    states = [snap(agents=[(rng.choice(("ready", "on_call", "on_call", "wrap_up")), rng.uniform(0, 400))
                           for _ in range(50)], lines=[rng.uniform(0, 25) for _ in range(200)])
              for _ in range(60)]
    spent = []
    for state in states:
        started = time.perf_counter()
        pacer.lines_to_launch(state)
        spent.append(time.perf_counter() - started)
    assert sorted(spent)[len(spent) // 2] < 0.005   # typically ~0.2 ms here


# --- reference pacers ----------------------------------------------------------------------------
agent_lists = st.lists(st.tuples(st.sampled_from(["ready", "on_call", "wrap_up"]),
                                 st.floats(0, 1000)), max_size=30)


@settings(max_examples=200, deadline=None)
@given(agents=agent_lists, lines=st.lists(st.floats(0, 30), max_size=40), waiting=st.integers(0, 5))
def test_progressive_never_exceeds_ready_agents(agents, lines, waiting):
    n = ProgressivePacer().lines_to_launch(snap(agents=agents, lines=lines, waiting=waiting))
    ready = sum(1 for s, _ in agents if s == "ready")
    assert 0 <= n <= ready
    assert n == max(0, ready - waiting - len(lines))


def test_preview_never_dials():
    assert make_pacer("preview").lines_to_launch(snap(agents=[("ready", 9.0)] * 5)) == 0


def test_naive_formula():
    pacer = NaivePacer(k=0.5)
    for _ in range(80):
        pacer.on_result(NOW, "live", 10.0)
        pacer.on_result(NOW, "busy", 3.0)
        pacer.on_result(NOW, "noanswer", 25.0)
        pacer.on_result(NOW, "dead", 2.0)
    for _ in range(10):
        pacer.on_wrap_end(NOW, 20.0)
    rate = (80 + 6) / (320 + 20)
    state = snap(agents=[("ready", 1.0)] * 3 + [("wrap_up", 10.0)] * 2 + [("wrap_up", 1.0)], lines=[5.0] * 2)
    # 3 free, 2 wrap-ups ending within 15 s (the one that just started does not count)
    assert pacer.lines_to_launch(state) == int(0.5 * (3 + 0.5 * 2) / rate + 0.5) - 2


def tapered_state(ready: int, on_call: int, now: float) -> Snapshot:
    return snap(agents=[("ready", 1.0)] * ready + [("on_call", 50.0)] * on_call, now=now)


def test_adapt_tapered_raises_its_level_while_agents_wait_and_caps_it():
    pacer = AdaptTaperedPacer()
    for second in range(16):
        pacer.lines_to_launch(tapered_state(5, 15, NOW + second))
    assert pacer.level == pytest.approx(1.25)  # 1 * (1 + 5/20) after 15 s
    for second in range(16, 400):
        pacer.lines_to_launch(tapered_state(5, 15, NOW + second))
    assert pacer.level == 3.0
    # "available only" tally: lines = level * ready agents - (lines in flight + waiting calls)
    state = snap(agents=[("ready", 1.0)] * 5 + [("on_call", 50.0)] * 15, lines=[3.0] * 4, waiting=1,
                 now=NOW + 400)
    assert pacer.lines_to_launch(state) == 3 * 5 - 4 - 1
    # VICIdial's default tally counts agents on calls too, and their calls as active
    pacer.available_only = False
    assert pacer.lines_to_launch(state) == 3 * 20 - (4 + 1 + 15)


def test_adapt_tapered_tapers_when_drops_pass_the_cap():
    pacer = AdaptTaperedPacer(shift_hours=8.0)
    for second in range(200):
        pacer.lines_to_launch(tapered_state(5, 15, NOW + second))
    assert pacer.level == 3.0
    for _ in range(60):
        pacer.on_result(NOW + 200, "live", 10.0)
    for _ in range(6):
        pacer.on_abandoned(NOW + 200)   # 10% > 3%
    # 4 hours before the shift ends: multiplied by 4 h / 10 h at each 15-second step
    start = NOW + 4 * 3600.0
    pacer.lines_to_launch(tapered_state(5, 15, start))
    assert pacer.level == pytest.approx(3.0 * 0.4)
    pacer.lines_to_launch(tapered_state(5, 15, start + 15))
    assert pacer.level == 1.0          # floored
    late = NOW + 9 * 3600.0            # after the shift: 1.0 whatever the differential
    for second in range(20):
        pacer.lines_to_launch(tapered_state(20, 0, late + second))
    assert pacer.level == 1.0


def test_adapt_tapered_without_drops_keeps_its_level():
    pacer = AdaptTaperedPacer()
    for second in range(200):
        pacer.lines_to_launch(tapered_state(5, 15, NOW + second))
    for _ in range(60):
        pacer.on_result(NOW + 200, "live", 10.0)
    pacer.on_abandoned(NOW + 200)      # 1/60 < 3%
    for second in range(200, 260):
        pacer.lines_to_launch(tapered_state(0, 20, NOW + second))
    assert pacer.level == 3.0


# --- make_pacer ----------------------------------------------------------------------------------
def test_make_pacer_modes_and_options():
    for mode in ("predictive", "progressive", "adapt_tapered", "naive", "preview"):
        assert make_pacer(mode).name == mode
    assert make_pacer("naive", k=0.7, target=0.02).k == 0.7          # options of other modes are left out
    assert make_pacer("predictive", target=0.02).abandon_target() == 0.02
    with pytest.raises(ValueError):
        make_pacer("turbo")
    with pytest.raises(TypeError):
        make_pacer("predictive", tagret=0.02)


# --- the model simulation ------------------------------------------------------------------------
def test_simulated_campaign_predictive_under_cap_and_ahead_of_progressive():
    world = World(agents=20, answer=0.3, hours=2.0, seed=11)
    ours = simulate(make_pacer("predictive"), world)
    progressive = simulate(make_pacer("progressive"), world)
    assert ours["lives"] > 500
    assert ours["abandon_pct"] <= 3.0
    assert progressive["abandon_pct"] == 0.0
    assert ours["talk_min_per_agent_hour"] >= 1.08 * progressive["talk_min_per_agent_hour"]
    assert ours["idle_pct"] < progressive["idle_pct"]


def test_simulation_is_seeded():
    world = World(agents=5, answer=0.15, hours=0.5, seed=3)
    assert simulate(make_pacer("naive"), world) | {"decide_us": 0, "decide_max_us": 0} == \
        simulate(make_pacer("naive"), world) | {"decide_us": 0, "decide_max_us": 0}


def test_at_the_abandon_cap_no_pacer_dials_more_than_one_line_per_ready_agent():
    from agi.dialer.pacing import launch
    free = snap([("ready", 0.0)] * 3, lines=[1.0])
    for mode in ("predictive", "naive", "adapt_tapered"):
        pacer = make_pacer(mode)
        assert launch(pacer, free) >= 2
        capped = Snapshot(**{**free.__dict__, "at_cap": True})
        assert launch(pacer, capped) == 2        # three ready agents, one line already out


def test_every_pacer_stays_within_the_free_lines():
    """The campaign's and the trunk's line limits (Snapshot.free_lines) cap every mode; a voice
    campaign needs no agent and dials every free line."""
    ready = [("ready", 5.0)] * 8
    base = snap(agents=ready)
    assert launch(ProgressivePacer(), base) == 8
    assert launch(ProgressivePacer(), Snapshot(**{**base.__dict__, "free_lines": 3})) == 3
    assert launch(trained(0.3), Snapshot(**{**base.__dict__, "free_lines": 0})) == 0
    voice = make_pacer("voice")
    assert launch(voice, Snapshot(**{**snap().__dict__, "free_lines": 60})) == 60
    assert launch(voice, Snapshot(**{**snap().__dict__, "free_lines": -2})) == 0
