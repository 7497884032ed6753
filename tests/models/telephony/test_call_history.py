"""What people see of the call log (models/telephony/call_history.py): a customer's calls only
for those who may open the customer, recordings only for those who may hear them, and the
unanswered inbound calls for managers and the matched customer's agent."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest

from models.crm.recordings import create_recording
from models.errors import NotYours
from models.telephony import calls
from models.telephony.call_history import customer_calls, unanswered_inbound
from models.telephony.calls import Chan

SERIAL = itertools.count(1)


def answered_call(session, clock, number, extension, *, talk=60, start=None):
    """An inbound call from ``number`` answered by the phone ``extension``; returns its linkedid."""
    n = next(SERIAL)
    linkedid = f"1800.{n}"
    caller = Chan(f"PJSIP/carrier-{n:08x}", linkedid, linkedid, 4, number, None,
                  "dialfunnel-inbound", "4008001234")
    agent = Chan(f"PJSIP/{extension}-{n:08x}", f"1800.{n}9", linkedid, 0, extension, None,
                 "dialfunnel-agents", "s")
    t0 = start or clock.now()
    calls.channel_seen(session, caller, t0)
    calls.dial_begin(session, caller, agent, t0 + dt.timedelta(seconds=1))
    calls.dial_end(session, caller, agent, "ANSWER", t0 + dt.timedelta(seconds=4))
    for ch in (agent, caller):
        calls.channel_ended(session, ch, 16, t0 + dt.timedelta(seconds=4 + talk))
    session.commit()
    return linkedid


def abandoned_call(session, clock, number, *, start=None):
    """An inbound call from ``number`` that waited 20 s in the sales queue and hung up."""
    n = next(SERIAL)
    linkedid = f"1900.{n}"
    caller = Chan(f"PJSIP/carrier-{n:08x}", linkedid, linkedid, 4, number, None,
                  "dialfunnel-inbound", "4008001234")
    t0 = start or clock.now()
    calls.channel_seen(session, caller, t0)
    calls.queue_joined(session, caller, "sales", t0 + dt.timedelta(seconds=5))
    calls.queue_left(session, caller, t0 + dt.timedelta(seconds=25), abandoned=True)
    calls.channel_ended(session, caller, 16, t0 + dt.timedelta(seconds=25))
    session.commit()
    return linkedid


def record(session, clock, linkedid, user):
    rec = create_recording(session, uniqueid=linkedid, linkedid=linkedid, file_key="k.mp3",
                           fmt="mp3", duration_ms=60000, size_bytes=1000, user_id=user.id,
                           clock=clock)
    session.commit()
    return rec


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
