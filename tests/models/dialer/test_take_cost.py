"""What putting an answered call through costs in Python: the outbound handler takes an agent
(and writes the screen pop) for every live answer, and the dialer closes it and moves the agent
to wrap-up (bench/dialer_sim.py: about a thousand of each an hour at 50 agents)."""
from __future__ import annotations

from models.dialer.agent_states import call_ended, set_state, take_ready_agent
from models.dialer.dialing import finish_attempt, mark_answered
from models.org.users import create_user
from models.schema import DialAttempt, User

from tests.models.dialer.test_agent_states import make_campaign
from tests.python_calls import python_calls


# a call's take plus its end: about 4,900 on SQLite, 7,350 on PostgreSQL (8,150 after the other
# dialer tests); was 8,250 / 11,300 (12,050) before the pop read its card in statements built once
BUDGET = {"sqlite": 5700, "postgresql": 9400}


def test_taking_an_agent_and_ending_the_call_stay_within_their_python_budget(Session, engine, users,
                                                                              clock, make_customer):
    with Session() as s:   # an agent of this test alone: the pop reads his recent pops
        agent = create_user(s, "budget_agent", "预算坐席", "pw-budget-1", "telemarketer", clock=clock)
        agent.extension = "8799"
        campaign_id = make_campaign(s, clock, [agent], name="预算").id
        agent_id = agent.id
        customers = [make_customer(f"客户{i}", owner=None, mobile=f"1390777000{i}").id for i in range(4)]
        s.commit()
    takes, ends = [], []
    for i, customer_id in enumerate(customers):
        with Session() as s:
            set_state(s, s.get(User, agent_id), "ready", campaign_id=campaign_id,
                      disposition="interested" if i else None, clock=clock)
            attempt = DialAttempt(campaign_id=campaign_id, customer_id=customer_id,
                                  number=f"+861390777000{i}", channel_id=f"chan-{i}", dialer_id="d1",
                                  started_at=clock.now(), talk_seconds=0.0)
            s.add(attempt)
            s.commit()
        with Session() as s:
            attempt = mark_answered(s, f"chan-{i}", clock=clock)
            taken = []
            takes.append(python_calls(lambda: taken.append(take_ready_agent(s, attempt, clock=clock))))
            assert taken[0].id == agent_id
            s.commit()
        clock.advance(seconds=60)
        with Session() as s:
            ends.append(python_calls(lambda: call_ended(
                s, finish_attempt(s, f"chan-{i}", reason=4, cause=16, clock=clock), clock=clock)))
            s.commit()
        clock.advance(seconds=20)
    costs = [take + end for take, end in zip(takes, ends)]
    assert max(costs[2:]) <= BUDGET[engine.dialect.name], (takes, ends)   # the first fill caches
