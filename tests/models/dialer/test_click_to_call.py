"""Click-to-call requests (models/dialer/click_to_call.py): what is queued, every refusal
queues (and so dials) nothing, one claim per request, states only move forward."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from models.company import set_setting
from models.crm.contacts import add_contact as create_contact
from models.dialer import dnc
from models.errors import DomainError, NotFound, NotYours
from models.schema import Event
from models.schema.calls import Call, CallRequest
from models.dialer import click_to_call as c2c


@pytest.fixture
def tm(users, session):
    users["tm"].extension = "8001"
    session.commit()
    return users["tm"]


def queued(session):
    return session.scalar(select(func.count()).select_from(CallRequest))


def test_a_request_is_queued_with_the_resolved_number_and_claimed_once(session, tm, clock, make_customer):
    customer = make_customer("上海浦东物流有限公司", mobile="138 0013 8000", phone="021-5555 0000")
    request = c2c.request_call(session, tm, customer.id, "mobile", clock=clock)
    session.commit()
    assert (request.state, request.number, request.extension, request.customer_id) == (
        "queued", "+8613800138000", "8001", customer.id)
    assert request.channel_id.startswith("c2c-")
    [claim] = c2c.claim_requests(session, "dialer-a", clock=clock)
    session.commit()
    assert (claim.id, claim.extension, claim.number) == (request.id, "8001", "+8613800138000")
    assert c2c.claim_requests(session, "dialer-b", clock=clock) == []
    session.refresh(request)
    assert (request.state, request.dialer_id) == ("dialing", "dialer-a")
    kinds = session.scalars(select(Event.payload).where(Event.kind == "call_request")).all()
    assert [k["state"] for k in kinds] == ["queued", "dialing"]


def test_the_landline_and_a_contacts_number(session, tm, clock, make_customer):
    customer = make_customer(phone="021-5555 0000")
    contact = create_contact(session, tm, customer.id, {"name": "王经理", "mobile": "13900000001"}, clock=clock)
    session.commit()
    first = c2c.request_call(session, tm, customer.id, "phone", clock=clock)
    assert first.number == "+862155550000"
    c2c.advance(session, first.channel_id, "failed", reason="click_to_call.cancelled", clock=clock)
    second = c2c.request_call(session, tm, customer.id, f"contact:{contact.id}:mobile", clock=clock)
    assert (second.number, second.contact_id) == ("+8613900000001", contact.id)


def test_dialable_digits_for_the_dialplan():
    assert c2c.dialable("+8613800138000") == "13800138000"
    assert c2c.dialable("+862155550000") == "02155550000"
    assert c2c.dialable("+16505550100") == "0016505550100"


def test_a_customer_the_user_may_not_see_is_refused(session, tm, clock, make_customer):
    theirs = make_customer(owner="tm2", mobile="13800138000")
    with pytest.raises(NotYours):
        c2c.request_call(session, tm, theirs.id, "mobile", clock=clock)
    assert queued(session) == 0


def test_a_do_not_call_number_is_refused(session, users, tm, clock, make_customer):
    customer = make_customer(mobile="13800138000", phone="021-5555 0000")
    dnc.add_number(session, users["admin"], "13800138000", clock=clock)
    with pytest.raises(DomainError) as err:
        c2c.request_call(session, tm, customer.id, "mobile", clock=clock)
    assert err.value.key == "click_to_call.do_not_call"
    customer.do_not_call = True
    with pytest.raises(DomainError) as err:
        c2c.request_call(session, tm, customer.id, "phone", clock=clock)
    assert err.value.key == "click_to_call.do_not_call"
    assert queued(session) == 0


def test_outside_the_allowed_hours_when_the_company_forbids_it(session, tm, clock, make_customer):
    customer = make_customer(mobile="13800138000")
    set_setting(session, "calls.manual_hours_only", "1")
    set_setting(session, "calls.manual_hours_start", "09:00")
    set_setting(session, "calls.manual_hours_end", "18:00")
    clock.set(dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.timezone.utc))   # 20:00 in Shanghai
    with pytest.raises(DomainError) as err:
        c2c.request_call(session, tm, customer.id, "mobile", clock=clock)
    assert err.value.key == "click_to_call.outside_hours"
    assert queued(session) == 0
    clock.set(dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.timezone.utc))    # 11:00 in Shanghai
    assert c2c.request_call(session, tm, customer.id, "mobile", clock=clock).state == "queued"


def test_no_extension_no_number_a_second_call_and_a_bad_target(session, users, tm, clock, make_customer):
    customer = make_customer(owner=["tm", "tm2"], mobile="13800138000")
    with pytest.raises(DomainError) as err:
        c2c.request_call(session, users["tm2"], customer.id, "mobile", clock=clock)
    assert err.value.key == "click_to_call.no_extension"
    with pytest.raises(DomainError) as err:
        c2c.request_call(session, tm, customer.id, "phone", clock=clock)   # no landline
    assert err.value.key == "click_to_call.no_number"
    with pytest.raises(DomainError) as err:
        c2c.request_call(session, tm, customer.id, "email", clock=clock)
    assert err.value.key == "click_to_call.bad_target"
    assert queued(session) == 0
    c2c.request_call(session, tm, customer.id, "mobile", clock=clock)
    with pytest.raises(DomainError) as err:
        c2c.request_call(session, tm, customer.id, "mobile", clock=clock)
    assert err.value.key == "click_to_call.already_calling"
    assert queued(session) == 1


def test_another_customers_contact_is_refused(session, tm, clock, make_customer):
    mine = make_customer(mobile="13800138000")
    theirs = make_customer(owner="tm2")
    contact = create_contact(session, session.get(type(tm), theirs.operator_ids[0]), theirs.id,
                             {"name": "赵六", "mobile": "13900000001"}, clock=clock)
    with pytest.raises(NotFound):
        c2c.request_call(session, tm, mine.id, f"contact:{contact.id}:mobile", clock=clock)
    assert queued(session) == 0


def test_calling_back_an_unanswered_call(session, users, tm, clock, make_customer):
    customer = make_customer(mobile="13800138000")
    missed = Call(linkedid="in-1", direction="inbound", state="ended", from_number="+8613800138000",
                  started_at=clock.now(), ended_at=clock.now(), customer_id=customer.id)
    stranger = Call(linkedid="in-2", direction="inbound", state="ended", from_number="+8613700000000",
                    started_at=clock.now(), ended_at=clock.now())
    session.add_all([missed, stranger])
    session.commit()
    with pytest.raises(NotFound):   # matched no customer of tm's: a manager's to call back
        c2c.request_call(session, tm, None, f"call:{stranger.id}", clock=clock)
    request = c2c.request_call(session, tm, None, f"call:{missed.id}", clock=clock)
    assert (request.number, request.customer_id, request.source_call_id) == (
        "+8613800138000", customer.id, missed.id)
    users["mgr"].extension = "8002"
    other = c2c.request_call(session, users["mgr"], None, f"call:{stranger.id}", clock=clock)
    assert (other.number, other.customer_id) == ("+8613700000000", None)


def test_a_stale_request_and_a_number_blocked_since_fail_at_the_claim(session, users, tm, clock, make_customer):
    customer = make_customer(mobile="13800138000", phone="021-5555 0000")
    stale = c2c.request_call(session, tm, customer.id, "mobile", clock=clock)
    session.commit()
    clock.advance(seconds=61)
    assert c2c.claim_requests(session, "d", clock=clock) == []
    session.refresh(stale)
    assert (stale.state, stale.reason) == ("failed", "click_to_call.expired")
    blocked = c2c.request_call(session, tm, customer.id, "phone", clock=clock)
    dnc.add_number(session, users["admin"], "021-5555 0000", clock=clock)
    assert c2c.claim_requests(session, "d", clock=clock) == []
    session.refresh(blocked)
    assert (blocked.state, blocked.reason) == ("failed", "click_to_call.do_not_call")


def test_states_move_forward_only_and_an_unanswered_end_is_a_failure(session, tm, clock, make_customer):
    customer = make_customer(mobile="13800138000", phone="021-5555 0000")
    request = c2c.request_call(session, tm, customer.id, "mobile", clock=clock)
    c2c.claim_requests(session, "d", clock=clock)
    session.add(Call(linkedid=request.channel_id, direction="click_to_call", state="up",
                     started_at=clock.now()))
    assert c2c.advance(session, request.channel_id, "ringing_customer", clock=clock)
    assert c2c.advance(session, request.channel_id, "ringing_agent", clock=clock) is None
    assert c2c.advance(session, request.channel_id, "talking", clock=clock).call_id is not None
    assert c2c.advance(session, request.channel_id, "ended", clock=clock).state == "ended"
    assert c2c.advance(session, request.channel_id, "failed", clock=clock) is None
    other = c2c.request_call(session, tm, customer.id, "phone", clock=clock)
    c2c.advance(session, other.channel_id, "ringing_agent", clock=clock)
    c2c.advance(session, other.channel_id, "ended", clock=clock)
    assert (other.state, other.reason) == ("failed", "click_to_call.not_answered")


def test_hang_up_and_status_are_the_users_own(session, users, tm, clock, make_customer):
    customer = make_customer(mobile="13800138000")
    request = c2c.request_call(session, tm, customer.id, "mobile", clock=clock)
    with pytest.raises(NotFound):
        c2c.status(session, users["tm2"], request.id)
    c2c.claim_requests(session, "d", clock=clock)
    c2c.request_hangup(session, tm, request.id)
    assert c2c.hangups_wanted(session, "d") == [request.channel_id]
    assert c2c.status(session, tm, request.id)["state"] == "dialing"
    assert "number" not in c2c.status(session, tm, request.id)
