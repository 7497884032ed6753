"""A dialer call leaves its trace on the customer (issue 11): leaving wrap-up writes one
contact record (who, when, how long, the disposition, the agent's note) linked to the call's
recording; "call back later" sets the customer's callback and a reminder; a shared customer
is claimed (issue 13: automatically, unless the disposition does not claim)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from models.crm.recordings import create_recording
from models.dialer.agent_states import call_ended, current, set_state, take_ready_agent
from models.dialer.dialing import finish_attempt, mark_answered
from models.dialer.wrap_up import finish_wrap_up
from models.errors import DomainError, InvalidValue
from models.schema import ContactRecord, Customer, DialAttempt, Recording

from tests.models.dialer.test_agent_states import make_campaign
from tests.web_helpers import committing, post

SH = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def call(session, users, clock, make_customer):
    """call(customer) -> tm talked 95 s with the customer through a campaign; tm is in wrap-up."""
    campaign = make_campaign(session, clock, [users["tm"]], name="双十二回访")

    def make(customer):
        set_state(session, users["tm"], "ready", campaign_id=campaign.id, clock=clock)
        attempt = DialAttempt(campaign_id=campaign.id, customer_id=customer.id,
                              number=customer.mobile_e164 or "+8613800138000",
                              channel_id=f"chan-{customer.id}", dialer_id="d1",
                              started_at=clock.now(), talk_seconds=0.0)
        session.add(attempt)
        session.flush()
        mark_answered(session, attempt.channel_id, clock=clock)
        assert take_ready_agent(session, attempt, clock=clock).id == users["tm"].id
        session.commit()
        clock.advance(seconds=95)
        finish_attempt(session, attempt.channel_id, reason=4, cause=16, clock=clock)
        call_ended(session, attempt, clock=clock)
        session.commit()
        assert current(session, users["tm"].id).state == "wrap_up"
        return attempt
    return make


def records_of(session, customer):
    return session.scalars(select(ContactRecord).where(ContactRecord.customer_id == customer.id)).all()


def test_interested_writes_the_record_and_may_claim(session, users, clock, call, make_customer):
    customer = make_customer("甲共享", owner=None, mobile="13800138000")
    attempt = call(customer)
    rec = create_recording(session, uniqueid=attempt.channel_id, file_key="k.mp3", fmt="mp3",
                           duration_ms=95000, size_bytes=1, direction="outbound",
                           user_id=users["tm"].id, customer_id=customer.id,
                           started_at=attempt.started_at, attempt_id=attempt.id, clock=clock)
    session.commit()
    done = finish_wrap_up(session, users["tm"], "ready", disposition="interested",
                          note="要报价单，下周联系", clock=clock)
    session.commit()
    [record] = records_of(session, customer)
    assert (record.user_id, record.method, record.progress) == (users["tm"].id, "phone", "有意向")
    assert "双十二回访" in record.content and "1分35秒" in record.content
    assert record.content.endswith("要报价单，下周联系")
    assert session.get(Recording, rec.id).contact_record_id == record.id
    session.expire_all()
    customer = session.get(Customer, customer.id)
    assert done.claimed and customer.ownership == "personal"
    assert customer.operator_ids == [users["tm"].id] and customer.last_contacted_at is not None
    assert current(session, users["tm"].id).state == "ready"


def test_call_back_later_needs_a_time_and_sets_the_reminder(session, users, clock, call,
                                                            make_customer):
    customer = make_customer("乙", owner="tm", mobile="13800138001")
    call(customer)
    with pytest.raises(InvalidValue):
        finish_wrap_up(session, users["tm"], "ready", disposition="callback", clock=clock)
    session.rollback()
    with pytest.raises(InvalidValue):
        finish_wrap_up(session, users["tm"], "ready", disposition="callback",
                       callback_at=clock.now() - dt.timedelta(minutes=1), clock=clock)
    session.rollback()
    assert records_of(session, customer) == [] and current(session, users["tm"].id).state == "wrap_up"
    when = dt.datetime(2026, 11, 28, 15, 30, tzinfo=SH)
    finish_wrap_up(session, users["tm"], "paused", disposition="callback", callback_at=when,
                   reason="meal", clock=clock)
    session.commit()
    [record] = records_of(session, customer)
    assert record.next_callback_at == when and record.remind and record.progress == "稍后回访"
    assert session.get(Customer, customer.id).next_callback_at == when
    me = current(session, users["tm"].id)
    assert (me.state, me.reason) == ("paused", "meal")


def test_a_colleagues_customer_gets_the_record_and_a_refused_claim_loses_nothing(
        session, users, clock, call, make_customer):
    theirs = make_customer("丙私人", owner="tm2", mobile="13800138002")
    call(theirs)
    done = finish_wrap_up(session, users["tm"], "ready", disposition="not_interested",
                          clock=clock)
    session.commit()
    assert len(records_of(session, theirs)) == 1 and not done.claimed
    shared = make_customer("丁共享", owner=None, mobile="13800138003")
    call(shared)
    users["tm"].role.daily_claim_quota = 0
    session.commit()
    done = finish_wrap_up(session, users["tm"], "ready", disposition="interested",
                          clock=clock)
    session.commit()
    assert isinstance(done.claim_refused, DomainError) and len(records_of(session, shared)) == 1
    assert session.get(Customer, shared.id).ownership == "shared"


@pytest.fixture
def as_user(as_user, session):
    return committing(as_user, session)


def test_the_wrap_up_form_logs_the_call_on_the_customers_page(as_user, session, users, clock,
                                                             call, make_customer):
    customer = make_customer("戊共享", owner=None, mobile="13800138004")
    call(customer)
    tm = as_user("tm")
    panel = tm.get("/dialer/panel").get_data(as_text=True)
    assert 'name="note"' in panel and 'name="callback_date"' in panel and 'id="wrap-claim"' in panel
    response = post(tm, "/dialer/state", {"state": "ready", "disposition": "callback",
                                          "note": "周五下午再打", "callback_date": "2026-11-28",
                                          "callback_time": "15:30"})
    assert response.status_code == 302
    page = tm.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "周五下午再打" in page and "稍后回访" in page and "还没有联系记录" not in page
    session.expire_all()
    assert session.get(Customer, customer.id).next_callback_at == dt.datetime(
        2026, 11, 28, 7, 30, tzinfo=dt.timezone.utc)


def test_the_dialer_panel_offers_the_suggested_stage_then_goes_back_to_the_panel(
        as_user, session, users, clock, call, make_customer):
    from models.telephony.dispositions import create_disposition
    create_disposition(session, dict(code="keen", label_zh="很感兴趣", label_en="Keen",
                                     active="1", stage_action="suggest", stage_target="potential"))
    customer = make_customer("己私人", owner="tm", mobile="13800138005")
    call(customer)
    tm = as_user("tm")
    assert 'value="keen"' in tm.get("/dialer/panel").get_data(as_text=True)
    response = post(tm, "/dialer/state", {"state": "ready", "disposition": "keen"})
    assert response.status_code == 302 and "/calls/suggestion/" in response.location
    page = tm.get(response.location).get_data(as_text=True)
    assert 'name="next" value="/dialer"' in page and 'id="suggestion-accept"' in page
