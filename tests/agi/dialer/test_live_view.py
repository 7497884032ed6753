"""The dialer's live view (agi.dialer.live_view): agents polled once a tick, only the rows that
changed; the same agents agent_snapshot gives, whatever moved them."""
from __future__ import annotations

import re

from sqlalchemy import event

from agi.dialer.live_view import AgentBoard
from models.dialer import agent_states, campaigns
from models.schema import User
from tests.agi.dialer.test_dialer_engine import START, world  # noqa: F401  (the fixture)


def _agent_selects(engine):
    """The SELECTs on agent_states run from now on (a list that fills)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if re.match(r"\s*SELECT\b", statement) and re.search(r"\bFROM agent_states\b", statement):
            seen.append(statement)
    event.listen(engine, "before_cursor_execute", record)
    return seen, lambda: event.remove(engine, "before_cursor_execute", record)


def test_a_tick_reads_the_agents_once_whatever_the_campaigns(world, Session, users, engine):  # noqa: F811
    """Two running campaigns: one query on agent_states a tick (not one per campaign), and a
    pause pressed on the web reaches the next decision."""
    campaign_id, dialer, driver, server, clock = world({f"{n:02d}": "noanswer" for n in range(10, 20)})
    with Session() as s:
        admin, tm2 = s.merge(users["admin"]), s.get(User, users["tm2"].id)
        other = campaigns.create_campaign(s, admin, clock=clock, name="第二个活动", mode="progressive",
                                          filter_stage="target", ring_timeout_s=25)
        campaigns.set_team(s, admin, other.id, [tm2.id])
        campaigns.refresh_leads(s, other, clock=clock)
        campaigns.change_status(s, admin, other.id, "start", clock=clock)
        agent_states.set_state(s, tm2, "logged_out", clock=clock)
        agent_states.set_state(s, tm2, "ready", campaign_id=other.id, clock=clock)
        s.commit()
        other_id = other.id
    driver.run_until(START.timestamp() + 6)      # both campaigns refreshed and dialling
    assert set(dialer.campaigns) == {campaign_id, other_id}
    selects, stop = _agent_selects(engine)
    try:
        dialer.tick()
        assert len(selects) == 1
        with Session() as s:
            agent_states.set_state(s, s.get(User, users["tm"].id), "paused", reason="break", clock=clock)
            s.commit()
        selects.clear()
        dialer.tick()
        assert len(selects) == 1
    finally:
        stop()
    assert [state for _, state, _ in dialer.board.agents(campaign_id)] == ["paused"]
    assert [state for _, state, _ in dialer.board.agents(other_id)] == ["ready"]


def test_the_board_is_agent_snapshot_after_every_kind_of_move(Session, users, clock):
    """Ready, paused, an inbound call and its wrap-up (left out), a change of campaign, a logout:
    after each, only the moved row is newer than the last poll, and the board gives
    agent_snapshot's agents."""
    board = AgentBoard()
    with Session() as s:
        admin = s.merge(users["admin"])
        tm, tm2 = s.get(User, users["tm"].id), s.get(User, users["tm2"].id)
        made = []
        for name in ("甲", "乙"):
            c = campaigns.create_campaign(s, admin, clock=clock, name=name, mode="progressive",
                                          filter_stage="target", ring_timeout_s=25)
            campaigns.set_team(s, admin, c.id, [tm.id, tm2.id])
            campaigns.change_status(s, admin, c.id, "start", clock=clock)
            made.append(c.id)
        s.commit()
        a, b = made
        moves = [
            lambda: agent_states.set_state(s, tm, "ready", campaign_id=a, clock=clock),
            lambda: agent_states.set_state(s, tm2, "ready", campaign_id=a, clock=clock),
            lambda: agent_states.set_state(s, tm, "paused", reason="break", clock=clock),
            lambda: agent_states.set_queues(s, tm2, ["sales"], allowed=("sales",), clock=clock),
            lambda: agent_states.inbound_connected(s, tm2.id, clock=clock),
            lambda: agent_states.inbound_ended(s, tm2.id, clock=clock),
            lambda: agent_states.set_state(s, tm2, "ready", clock=clock),
            lambda: agent_states.set_state(s, tm, "logged_out", clock=clock),
            lambda: agent_states.set_state(s, tm, "ready", campaign_id=b, clock=clock),
        ]
        moved = [tm, tm2, tm, None, tm2, tm2, tm2, tm, tm]   # a queue login moves no state
        for step, move in enumerate(moves):
            clock.advance(seconds=7)
            move()
            s.commit()
            if step:   # the change counter names the row that moved, and only it
                assert [r.user_id for r in agent_states.changed_since(s, board.version)] == [
                    u.id for u in [moved[step]] if u], step
            board.poll(s, clock.now().timestamp())
            for cid in made:
                expected = [(u, st, since.timestamp()) for u, st, since in agent_states.agent_snapshot(s, cid)]
                assert board.agents(cid) == expected, (step, cid)
