"""What putting an answered call through costs in Python: the outbound handler takes an agent
(and writes the screen pop) for every live answer, and the dialer closes it and moves the agent
to wrap-up (bench/dialer_sim.py: about a thousand of each an hour at 50 agents)."""
from __future__ import annotations

from models.dialer.agent_states import call_ended, set_state, take_ready_agent
from models.dialer.dialing import finish_attempt, mark_answered
from models.schema import DialAttempt

from tests.models.dialer.test_agent_states import make_campaign
from tests.python_calls import python_calls


# a call's take plus its end: about 8,220 on SQLite and 11,270 on PostgreSQL; 8,850 and 12,110
# with the ORM's flush of the connected attempt and a User loaded at the end for nobody
BUDGET = {"sqlite": 8500, "postgresql": 11700}


def test_taking_an_agent_and_ending_the_call_stay_within_their_python_budget(Session, engine, users,
                                                                              clock, make_customer):
    with Session() as s:
        campaign_id = make_campaign(s, clock, [users["tm"]], name="预算").id
        customers = [make_customer(f"客户{i}", owner=None, mobile=f"1380013800{i}").id for i in range(4)]
        s.commit()
    takes, ends = [], []
    for i, customer_id in enumerate(customers):
        with Session() as s:
            set_state(s, s.get(type(users["tm"]), users["tm"].id), "ready", campaign_id=campaign_id,
                      disposition="interested" if i else None, clock=clock)
            attempt = DialAttempt(campaign_id=campaign_id, customer_id=customer_id,
                                  number=f"+861380013800{i}", channel_id=f"chan-{i}", dialer_id="d1",
                                  started_at=clock.now(), talk_seconds=0.0)
            s.add(attempt)
            s.commit()
        with Session() as s:
            attempt = mark_answered(s, f"chan-{i}", clock=clock)
            taken = []
            takes.append(python_calls(lambda: taken.append(take_ready_agent(s, attempt, clock=clock))))
            assert taken[0].id == users["tm"].id
            s.commit()
        clock.advance(seconds=60)
        with Session() as s:
            ends.append(python_calls(lambda: call_ended(
                s, finish_attempt(s, f"chan-{i}", reason=4, cause=16, clock=clock), clock=clock)))
            s.commit()
        clock.advance(seconds=20)
    costs = [take + end for take, end in zip(takes, ends)]
    assert max(costs[2:]) <= BUDGET[engine.dialect.name], (takes, ends)   # the first fill caches
