"""What the screen pop of a campaign call costs: the outbound handler writes one for every call
it puts through to an agent (take_ready_agent), while the caller waits. Held to a number of
statements and of Python calls, for a pop with a card full of rows and a colleague's customer
it only counts."""
from __future__ import annotations

from sqlalchemy import event, select

from models.crm.contact_records import add_contact_record
from models.crm.contacts import add_contact
from models.dialer.agent_states import call_ended, set_state, take_ready_agent
from models.dialer.dialing import finish_attempt, mark_answered
from models.schema import DialAttempt, Event, User

from tests.call_helpers import answered_call, record
from tests.models.dialer.test_agent_states import make_campaign
from tests.python_calls import python_calls

# the take: the ready agents, the move (3), the agent, the attempt's update (6); the pop: its
# campaign, recent pops, extension, customers with their operators, contacts, records,
# recordings, names, calls, their agents, their recordings, may-hear, insert (13). 21 when the
# operators had a query of their own and the payload was written twice (an UPDATE for the
# campaign).
STATEMENTS = 19
# about 3,900 on SQLite and 6,300 on PostgreSQL; 8,200 and 11,200 with the customers, contacts,
# records and recent pops loaded as ORM objects and the statements built at each pop
BUDGET = {"sqlite": 4600, "postgresql": 7400}


def test_a_campaign_calls_pop_stays_within_its_statements_and_python_budget(
        Session, engine, users, clock, make_customer):
    number = "13907770000"
    with Session() as s:
        agent, colleague = s.get(User, users["tm"].id), s.get(User, users["tm2"].id)
        agent.extension, colleague.extension = "8701", "8702"
        campaign_id = make_campaign(s, clock, [agent], name="弹屏预算").id
        s.commit()
    customer_id = make_customer("弹屏预算客户", owner="tm", mobile=number).id
    colleagues_id = make_customer("同事的客户", owner="tm2").id   # a contact has the number
    with Session() as s:
        admin, tm = s.get(User, users["admin"].id), s.get(User, users["tm"].id)
        add_contact(s, admin, customer_id, dict(name="王经理", mobile="13907770002"),
                    clock=clock)
        add_contact_record(s, tm, customer_id, content="谈了报价", clock=clock)
        linkedid = answered_call(s, clock, number, "8702")
        record(s, clock, linkedid, s.get(User, users["tm2"].id))
        add_contact(s, admin, colleagues_id, dict(name="赵总", phone=number), clock=clock)
        s.commit()
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)
    event.listen(engine, "before_cursor_execute", count)
    counts, costs = [], []
    try:
        for i in range(4):
            with Session() as s:
                set_state(s, s.get(User, users["tm"].id), "ready", campaign_id=campaign_id,
                          disposition="interested" if i else None, clock=clock)
                s.add(DialAttempt(campaign_id=campaign_id, customer_id=customer_id,
                                  number="+86" + number, channel_id=f"pop-{i}", dialer_id="d1",
                                  started_at=clock.now(), talk_seconds=0.0))
                s.commit()
            with Session() as s:
                attempt = mark_answered(s, f"pop-{i}", clock=clock)
                taken = []
                statements.clear()
                costs.append(python_calls(lambda: taken.append(take_ready_agent(s, attempt,
                                                                                clock=clock))))
                counts.append(len(statements))
                assert taken[0].id == users["tm"].id
                s.commit()
                pop = s.scalars(select(Event).order_by(Event.id.desc())).first().payload
            assert (pop["status"], pop["hidden"], [c["id"] for c in pop["customers"]],
                    pop["campaign"]["name"]) == ("known", 1, [customer_id], "弹屏预算")
            card = pop["customers"][0]
            assert [len(card[k]) for k in ("contacts", "records", "calls")] == [1, 1, 1]
            clock.advance(seconds=60)
            with Session() as s:
                call_ended(s, finish_attempt(s, f"pop-{i}", reason=4, cause=16, clock=clock),
                           clock=clock)
                s.commit()
            clock.advance(seconds=20)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert max(counts) <= STATEMENTS, counts
    assert max(costs[1:]) <= BUDGET[engine.dialect.name], costs   # the first fills caches
