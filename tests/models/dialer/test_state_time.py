"""Time in each agent state per agent and day (models.dialer.state_time): inbound and outbound
in one state, pause time by code, occupancy and utilisation, spans cut at midnight."""
from __future__ import annotations

import datetime as dt

import pytest

from models.dialer.agent_states import inbound_connected, inbound_ended, set_queues, set_state
from models.dialer.state_time import state_time

from tests.models.dialer.test_agent_states import make_campaign

DAY = dt.date(2026, 11, 26)    # the clock fixture: 10:00 in Shanghai


def test_a_blended_morning(session, users, clock):
    tm = users["tm"]
    campaign = make_campaign(session, clock, [tm])
    set_queues(session, tm, ["sales"], allowed=("sales",), clock=clock)
    set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)       # 10:00
    clock.advance(minutes=10)
    set_state(session, tm, "paused", reason="meal", clock=clock)                # 10:10
    clock.advance(minutes=30)
    set_state(session, tm, "ready", clock=clock)                                # 10:40
    clock.advance(minutes=10)
    inbound_connected(session, tm.id, clock=clock)                              # 10:50
    clock.advance(minutes=10)
    inbound_ended(session, tm.id, clock=clock)                                  # 11:00
    clock.advance(minutes=5)
    set_state(session, tm, "paused", reason="training", clock=clock)            # 11:05
    clock.advance(minutes=15)
    set_state(session, tm, "logged_out", clock=clock)                           # 11:20
    session.commit()
    [row] = state_time(session, DAY, DAY, now=clock.now() + dt.timedelta(hours=5))
    minutes = {k: v / 60 for k, v in row.seconds.items()}
    assert minutes == {"ready": 20, "on_call": 10, "wrap_up": 5, "paused": 45}
    assert row.logged_in == 80 * 60
    assert {k: v / 60 for k, v in row.paused_by_reason.items()} == {"meal": 30, "training": 15}
    assert row.occupancy == pytest.approx(15 / 35)          # (call + wrap-up) / (in - paused)
    assert row.utilisation == pytest.approx((15 + 15) / 80)  # training is productive
    assert state_time(session, DAY, DAY, now=clock.now(), user_ids=(users["tm2"].id,)) == []


def test_spans_are_cut_at_midnight_and_an_open_one_ends_now(session, users, clock):
    tm2 = users["tm2"]
    campaign = make_campaign(session, clock, [tm2])
    clock.advance(hours=13, minutes=50)                                         # 23:50
    set_state(session, tm2, "paused", campaign_id=campaign.id, reason="break", clock=clock)
    session.commit()
    now = clock.now() + dt.timedelta(minutes=40)                                # 00:30, still paused
    rows = state_time(session, DAY, DAY + dt.timedelta(days=1), now=now)
    assert [(r.day, r.seconds["paused"] / 60) for r in rows] == [
        (DAY, 10), (DAY + dt.timedelta(days=1), 30)]
    assert rows[0].occupancy is None and rows[0].utilisation == 0
