"""Every answered call ends in a wrap-up (issue 13, models/telephony/wrap_ups.py): the call row
gets the disposition and note, the customer one contact record linked to the call's recording,
the callback and its reminder; the disposition's actions run (do-not-call, dead number, stage);
a dialer call claims a shared customer. Calls are made through the call log's writer."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from models.dialer.agent_states import current, set_state, take_ready_agent, call_ended
from models.dialer.dialing import finish_attempt, mark_answered
from models.dialer.dnc import is_blocked
from models.dialer.wrap_up import finish_wrap_up
from models.errors import DomainError, NotFound, PermissionDenied
from models.schema import (
    CampaignLead,
    ContactRecord,
    Customer,
    DialAttempt,
    Recording,
    StageHistory,
    StageRule,
)
from models.schema.calls import Call
from models.telephony import dispositions as rules
from models.telephony.call_history import customer_calls
from models.telephony.wrap_ups import pending_count, pending_wrap_ups, wrap_up_call

from tests.call_helpers import answered_call, dialer_call, record
from tests.models.dialer.test_agent_states import make_campaign

SH = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def tm(users, session):
    users["tm"].extension = "8001"
    users["tm2"].extension = "8002"
    session.commit()
    return users["tm"]


def call_of(session, linkedid) -> Call:
    session.expire_all()
    return session.scalar(select(Call).where(Call.linkedid == linkedid))


def records_of(session, customer):
    return session.scalars(select(ContactRecord)
                           .where(ContactRecord.customer_id == customer.id)).all()


def test_an_inbound_call_waits_for_its_wrap_up_which_writes_the_crm(session, tm, clock,
                                                                   make_customer):
    customer = make_customer("甲公司", owner="tm", mobile="13800138000")
    linkedid = answered_call(session, clock, "13800138000", "8001", talk=95)
    rec = record(session, clock, linkedid, tm)
    call = call_of(session, linkedid)
    assert [c.id for c in pending_wrap_ups(session, tm)] == [call.id]
    assert pending_count(session, tm) == 1
    clock.advance(seconds=200)
    when = dt.datetime(2026, 11, 28, 15, 30, tzinfo=SH)
    done = wrap_up_call(session, tm, call.id, "callback", "  周五下午再打  ", when, clock=clock)
    session.commit()
    call = call_of(session, linkedid)
    assert (call.disposition, call.note) == ("callback", "周五下午再打")
    [rec_row] = records_of(session, customer)
    assert done.record.id == rec_row.id
    assert (rec_row.user_id, rec_row.method, rec_row.progress) == (tm.id, "phone", "稍后回访")
    assert rec_row.content == "呼入通话，1分35秒。\n周五下午再打"
    assert rec_row.next_callback_at == when and rec_row.remind and rec_row.remind_at == when
    assert session.get(Recording, rec.id).contact_record_id == rec_row.id
    customer = session.get(Customer, customer.id)
    assert customer.next_callback_at == when and customer.contact_mark == "contacted"
    assert pending_wrap_ups(session, tm) == [] and pending_count(session, tm) == 0
    with pytest.raises(DomainError) as err:
        wrap_up_call(session, tm, call.id, "interested", "", None, clock=clock)
    assert err.value.key == "wrap_up.already_done"


def test_refusals_write_nothing(session, tm, users, clock, make_customer):
    customer = make_customer("乙公司", owner="tm", mobile="13800138001")
    call = call_of(session, answered_call(session, clock, "13800138001", "8001"))
    with pytest.raises(PermissionDenied):
        wrap_up_call(session, users["tm2"], call.id, "interested", clock=clock)
    with pytest.raises(NotFound):
        wrap_up_call(session, tm, call.id + 1000, "interested", clock=clock)
    rules.set_active(session, "other", False)
    session.commit()
    for code, note, at, key in [
            (None, "", None, "agent_state.disposition_required"),
            ("maybe", "", None, "disposition.unknown"),
            ("other", "", None, "disposition.inactive"),
            ("callback", "", None, "wrap_up.callback_needs_time"),
            ("callback", "", clock.now() - dt.timedelta(minutes=1), "wrap_up.callback_in_past"),
            ("interested", "很长" * 1001, None, "wrap_up.note_too_long")]:
        with pytest.raises(DomainError) as err:
            wrap_up_call(session, tm, call.id, code, note, at, clock=clock)
        assert err.value.key == key
        session.rollback()
    assert call_of(session, call.linkedid).disposition is None and records_of(session, customer) == []
    assert pending_count(session, tm) == 1


def test_a_call_from_an_unknown_number_keeps_its_wrap_up_on_the_call_only(session, tm, clock):
    call = call_of(session, answered_call(session, clock, "13900000000", "8001"))
    assert call.customer_id is None
    done = wrap_up_call(session, tm, call.id, "wrong_person", "打错了", clock=clock)
    session.commit()
    assert done.record is None
    call = call_of(session, call.linkedid)
    assert (call.disposition, call.note) == ("wrong_person", "打错了")
    assert session.scalar(select(ContactRecord.id)) is None


def test_do_not_call_and_dead_number_act_on_the_number(session, tm, clock, make_customer):
    asked = make_customer("丙公司", owner="tm", mobile="13800138002")
    call = call_of(session, answered_call(session, clock, "13800138002", "8001"))
    wrap_up_call(session, tm, call.id, "do_not_call", "", clock=clock)
    session.commit()
    assert is_blocked(session, "+8613800138002")
    dead = make_customer("丁公司", owner="tm", mobile="13800138003")
    campaign = make_campaign(session, clock, [tm])
    session.add(CampaignLead(campaign_id=campaign.id, customer_id=dead.id,
                             number="+8613800138003", status="queued", attempts=0))
    session.commit()
    call = call_of(session, answered_call(session, clock, "13800138003", "8001"))
    done = wrap_up_call(session, tm, call.id, "dead_number", "", clock=clock)
    session.commit()
    session.expire_all()
    assert session.get(Customer, dead.id).number_status == "dead"
    assert session.scalar(select(CampaignLead.status)
                          .where(CampaignLead.customer_id == dead.id)) == "dead"
    assert len(records_of(session, dead)) == 1 and done.record.progress == "空号/错号"


def test_a_stage_change_is_made_or_suggested_under_the_stage_rules(session, tm, clock,
                                                                  make_customer):
    rules.create_disposition(session, dict(code="quoted", label_zh="已报价", label_en="Quoted",
                                           active="1", stage_action="make",
                                           stage_target="potential"))
    rules.create_disposition(session, dict(code="keen", label_zh="很感兴趣", label_en="Keen",
                                           active="1", stage_action="suggest",
                                           stage_target="opportunity"))
    made = make_customer("戊公司", owner="tm", mobile="13800138004", stage="target")
    call = call_of(session, answered_call(session, clock, "13800138004", "8001"))
    done = wrap_up_call(session, tm, call.id, "quoted", "", clock=clock)
    session.commit()
    assert done.stage_made == "potential" and done.stage_refused is None
    assert session.get(Customer, made.id).stage == "potential"
    assert session.scalar(select(StageHistory.kind).where(StageHistory.customer_id == made.id)
                          .order_by(StageHistory.id.desc()).limit(1)) == "promote"
    call = call_of(session, answered_call(session, clock, "13800138004", "8001"))
    done = wrap_up_call(session, tm, call.id, "keen", "", clock=clock)
    session.commit()
    assert done.suggestion == ("promote", "opportunity") and done.stage_made is None
    assert session.get(Customer, made.id).stage == "potential"
    # the rule forbids promoting from "reserve": refused as usual, the wrap-up stands
    session.get(StageRule, "target").promote_allowed = False
    session.commit()
    held = make_customer("己公司", owner="tm", mobile="13800138005", stage="target")
    call = call_of(session, answered_call(session, clock, "13800138005", "8001"))
    done = wrap_up_call(session, tm, call.id, "quoted", "客户要报价", clock=clock)
    session.commit()
    assert done.stage_refused is not None and done.stage_refused.key == "stage_rule.forbids"
    assert session.get(Customer, held.id).stage == "target"
    assert call_of(session, call.linkedid).disposition == "quoted"
    assert len(records_of(session, held)) == 1


@pytest.fixture
def dialer_call_to(session, tm, clock):
    """dialer_call_to(customer) -> (attempt, linkedid): tm talked with the customer through a
    campaign, the call log has the call; tm is in the dialer's wrap-up."""
    campaign = make_campaign(session, clock, [tm], name="年末回访")

    def make(customer):
        set_state(session, tm, "ready", campaign_id=campaign.id, clock=clock)
        attempt = DialAttempt(campaign_id=campaign.id, customer_id=customer.id,
                              number=customer.mobile_e164, channel_id=f"dial-{customer.id}",
                              dialer_id="d1", started_at=clock.now(), talk_seconds=0.0)
        session.add(attempt)
        session.flush()
        mark_answered(session, attempt.channel_id, clock=clock)
        assert take_ready_agent(session, attempt, clock=clock).id == tm.id
        session.commit()
        linkedid = dialer_call(session, attempt, "8001", talk=70, start=clock.now())
        clock.advance(seconds=75)
        finish_attempt(session, attempt.channel_id, reason=4, cause=16, clock=clock)
        call_ended(session, attempt, clock=clock)
        session.commit()
        return attempt, linkedid
    return make


def test_the_dialers_wrap_up_writes_the_call_row_and_claims_a_shared_customer(
        session, tm, clock, dialer_call_to, make_customer):
    shared = make_customer("庚共享", owner=None, mobile="13800138006")
    attempt, linkedid = dialer_call_to(shared)
    call = call_of(session, linkedid)
    assert (call.direction, call.attempt_id, call.user_id) == ("dialer", attempt.id, tm.id)
    assert pending_wrap_ups(session, tm) == []          # the dialer panel wraps it up
    with pytest.raises(DomainError) as err:
        wrap_up_call(session, tm, call.id, "interested", clock=clock)
    assert err.value.key == "wrap_up.in_dialer_panel"
    session.rollback()
    done = finish_wrap_up(session, tm, "ready", disposition="interested", note="要报价",
                          clock=clock)
    session.commit()
    call = call_of(session, linkedid)
    assert (call.disposition, call.note) == ("interested", "要报价")
    [record_row] = records_of(session, shared)
    assert record_row.content.startswith("外呼活动「年末回访」通话") and record_row.progress == "有意向"
    assert done.claimed and session.get(Customer, shared.id).ownership == "personal"
    assert pending_wrap_ups(session, tm) == []


def test_a_wrong_person_does_not_claim_and_a_refused_claim_loses_nothing(
        session, tm, users, clock, dialer_call_to, make_customer):
    wrong = make_customer("辛共享", owner=None, mobile="13800138007")
    dialer_call_to(wrong)
    done = finish_wrap_up(session, tm, "ready", disposition="wrong_person", clock=clock)
    session.commit()
    assert not done.claimed and done.claim_refused is None
    assert session.get(Customer, wrong.id).ownership == "shared"
    full = make_customer("壬共享", owner=None, mobile="13800138008")
    dialer_call_to(full)
    tm.role.daily_claim_quota = 0
    session.commit()
    done = finish_wrap_up(session, tm, "ready", disposition="interested", clock=clock)
    session.commit()
    assert done.claim_refused is not None and done.claim_refused.key == "claim.quota_exceeded"
    assert len(records_of(session, full)) == 1
    assert session.get(Customer, full.id).ownership == "shared"


def test_a_colleagues_customer_stays_his_and_the_call_is_logged_for_both(
        session, tm, users, clock, dialer_call_to, make_customer):
    theirs = make_customer("癸私人", owner="tm2", mobile="13800138009")
    _, linkedid = dialer_call_to(theirs)
    done = finish_wrap_up(session, tm, "ready", disposition="interested", note="他的客户",
                          clock=clock)
    session.commit()
    assert not done.claimed and done.claim_refused is None
    customer = session.get(Customer, theirs.id)
    assert customer.ownership == "personal" and customer.operator_ids == [users["tm2"].id]
    [record_row] = records_of(session, theirs)
    assert record_row.user_id == tm.id
    [entry] = customer_calls(session, users["tm2"], theirs.id)      # the owner sees it
    assert (entry.call.linkedid, entry.agent, entry.call.disposition) == (
        linkedid, "李红光", "interested")


def test_a_dialer_call_left_without_wrap_up_becomes_pending(session, tm, clock, dialer_call_to,
                                                          make_customer):
    shared = make_customer("子共享", owner=None, mobile="13800138010")
    _, linkedid = dialer_call_to(shared)
    assert finish_wrap_up(session, tm, "logged_out", disposition=None, clock=clock) is None
    session.commit()
    assert current(session, tm.id).state == "logged_out"
    [call] = pending_wrap_ups(session, tm)
    assert call.linkedid == linkedid
    done = wrap_up_call(session, tm, call.id, "interested", "补记", clock=clock)
    session.commit()
    assert done.claimed and len(records_of(session, shared)) == 1
    assert pending_wrap_ups(session, tm) == []
