"""What people see of the call log (models/telephony/call_history.py): a customer's calls only
for those who may open the customer, recordings only for those who may hear them, and the
unanswered inbound calls for managers and the matched customer's agent."""
from __future__ import annotations

import datetime as dt

import pytest

from models.errors import NotYours
from models.telephony.call_history import customer_calls, unanswered_inbound

from tests.call_helpers import abandoned_call, answered_call, record


def test_the_owner_sees_the_calls_newest_first_with_agent_outcome_and_recording(
        session, users, clock, make_customer):
    users["tm"].extension = "8001"
    c = make_customer(owner="tm", mobile="13800138000")
    first = answered_call(session, clock, "13800138000", "8001", talk=90)
    later = abandoned_call(session, clock, "13800138000", start=clock.now() + dt.timedelta(hours=1))
    rec = record(session, clock, first, users["tm"])
    got = customer_calls(session, users["tm"], c.id)
    assert [e.call.linkedid for e in got] == [later, first]
    abandoned, answered = got
    assert (answered.agent, answered.outcome, answered.seconds) == ("李红光", "answered", 90.0)
    assert [(h.recording.id, h.may_hear) for h in answered.recordings] == [(rec.id, True)]
    assert (abandoned.agent, abandoned.outcome, abandoned.seconds, abandoned.recordings) == (
        None, "abandoned", 25.0, [])


def test_a_salesperson_never_sees_a_colleagues_personal_customers_calls(
        session, users, clock, make_customer):
    users["tm"].extension = "8001"
    c = make_customer(owner="tm", mobile="13800138000")
    answered_call(session, clock, "13800138000", "8001")
    for name in ("tm2", "rep"):
        with pytest.raises(NotYours):
            customer_calls(session, users[name], c.id)
    assert len(customer_calls(session, users["mgr"], c.id)) == 1


def test_the_recording_is_playable_only_within_the_roles_permission(
        session, users, clock, make_customer):
    users["tm"].extension = "8001"
    c = make_customer(owner=None, mobile="13800138000")     # shared: every user may open it
    linkedid = answered_call(session, clock, "13800138000", "8001")
    record(session, clock, linkedid, users["tm"])
    heard = {name: [h.may_hear for e in customer_calls(session, u, c.id) for h in e.recordings]
             for name, u in users.items()}
    assert heard == {"tm": [True], "tm2": [False], "rep": [False], "mgr": [True], "admin": [True]}


def test_a_removed_recording_is_listed_but_not_playable(session, users, clock, make_customer):
    users["tm"].extension = "8001"
    c = make_customer(owner="tm", mobile="13800138000")
    rec = record(session, clock, answered_call(session, clock, "13800138000", "8001"), users["tm"])
    rec.deleted_at = clock.now()
    session.commit()
    [entry] = customer_calls(session, users["tm"], c.id)
    assert [(h.recording.id, h.may_hear) for h in entry.recordings] == [(rec.id, False)]


def test_unanswered_inbound_calls_for_managers_and_the_matched_customers_agent(
        session, users, clock, make_customer):
    users["tm"].extension = "8001"
    mine = make_customer("李红光的客户", owner="tm", mobile="13800138000")
    abandoned_call(session, clock, "13800138000")
    abandoned_call(session, clock, "13900139000", start=clock.now() + dt.timedelta(minutes=1))
    answered_call(session, clock, "13800138000", "8001", start=clock.now() + dt.timedelta(minutes=2))

    def seen(name):
        return [(e.call.from_number, e.outcome, customer)
                for e, customer in unanswered_inbound(session, users[name])]
    everyone = [("+8613900139000", "abandoned", None),
                ("+8613800138000", "abandoned", mine.name)]
    assert seen("mgr") == seen("admin") == everyone
    assert seen("tm") == everyone[1:]
    assert seen("tm2") == seen("rep") == []
