"""What an agent's state change costs in Python: every call of a campaign moves its agent two or
three times (taken, wrap-up, ready; bench/dialer_sim.py: thousands an hour), so a move is held
to a budget of Python calls, the way tests/models/dialer/test_dialing_costs.py holds statements."""
from __future__ import annotations

from sqlalchemy import select

from models.dialer import agent_states
from models.schema import AgentState, AgentStateLog

from tests.python_calls import python_calls

BUDGET = 1100   # about 800 on SQLite, 900 on PostgreSQL; 1,800 when each move built its statements,
               # 2,900 when it built its own alias


def test_a_move_stays_within_its_python_budget(Session, users, clock):
    user_id = users["tm"].id
    with Session() as s:
        s.add(AgentState(user_id=user_id, state="ready", since=clock.now()))
        s.commit()
    costs = []
    for n in range(6):
        clock.advance(seconds=5)
        with Session() as s:
            seen = agent_states.current(s, user_id)
            state = "wrap_up" if seen.state == "ready" else "ready"
            moved = []
            costs.append(python_calls(lambda: moved.append(agent_states._move(
                s, user_id, seen, clock.now(), state=state, campaign_id=None))))
            s.commit()
        assert moved == [True]
    with Session() as s:
        spans = s.execute(select(AgentStateLog.state, AgentStateLog.ended_at)
                          .where(AgentStateLog.user_id == user_id).order_by(AgentStateLog.id)).all()
        assert s.get(AgentState, user_id).state == "ready"
    assert [state for state, _ in spans] == ["wrap_up", "ready"] * 3
    assert [ended is None for _, ended in spans] == [False] * 5 + [True]
    assert max(costs[2:]) <= BUDGET, costs      # the first moves fill SQLAlchemy's caches


def test_an_agents_own_move_reads_the_row_once(Session, engine, users, clock):
    """set_state runs at every end of a wrap-up (a thousand an hour at 50 agents): one read of
    the agent's row, the move, and no read back of what it just wrote."""
    from sqlalchemy import event

    from tests.models.dialer.test_agent_states import make_campaign
    with Session() as s:
        campaign_id = make_campaign(s, clock, [users["tm"]], name="一次读").id
        s.commit()
    reads = []
    for state in ("ready", "logged_out", "ready"):     # the first makes the agent's row
        clock.advance(seconds=5)
        seen = []

        def keep(conn, cursor, statement, *args):
            if statement.startswith("SELECT") and " FROM agent_states " in " ".join(statement.split()) + " ":
                seen.append(statement)
        with Session() as s:
            event.listen(engine, "before_cursor_execute", keep)
            try:
                now = agent_states.set_state(s, s.get(type(users["tm"]), users["tm"].id), state,
                                             campaign_id=campaign_id, clock=clock)
            finally:
                event.remove(engine, "before_cursor_execute", keep)
            s.commit()
            assert now == agent_states.current(s, users["tm"].id)
        reads.append(len(seen))
    assert reads[1:] == [1, 1], reads
