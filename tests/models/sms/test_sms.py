"""The SMS rules: templates and signature, refusals, the outbox, receipts, replies, opt-outs."""
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from models.crm.contacts import add_contact
from models.dialer.dnc import add_number
from models.errors import InvalidValue, NotFound, NotYours, PermissionDenied
from models.schema import ContactRecord, Order, SmsMessage, SmsOptOut
from models.sms.config import is_opt_out, sign, unsign, update_sms_settings
from models.sms.delivery import (claim, mark_failed, mark_retry, mark_submitted, record_receipt,
                                 record_reply)
from models.sms.optouts import is_opted_out
from models.sms.sending import SmsRefused, customer_messages, send_sms
from models.sms.templates import preview, save_template, variables_for

AT = dt.datetime(2026, 11, 26, 3, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def company(session, users):
    update_sms_settings(session, {"signature": "达盟科技", "address": "上海市徐汇区漕溪北路88号",
                                  "website": "https://example.cn", "phone": "021-62345678"})
    users["tm"].extension = "8001"
    session.commit()


def test_template_variables_and_signature(session, users, make_customer, company, clock):
    customer = make_customer("上海宏达贸易有限公司", contact_person="王先生", mobile="13800138000")
    session.add(Order(number="DD-2026-001", customer_id=customer.id, seller_id=users["tm"].id,
                      ordered_on=dt.date(2026, 11, 20), amount=Decimal("1205.30"),
                      created_at=AT, updated_at=AT))
    session.flush()
    order = session.scalar(select(Order))
    variables = variables_for(session, users["tm"], customer, order=order)
    shown = preview(session, "{contact_name}您好，我是{salesperson_name}（{salesperson_phone}），"
                    "订单{order_number}金额{order_amount}。地址：{company_address} {company_website}",
                    variables)
    assert shown["text"] == ("【达盟科技】王先生您好，我是李红光（021-62345678转8001），"
                             "订单DD-2026-001金额1,205.30元。地址：上海市徐汇区漕溪北路88号 "
                             "https://example.cn")
    assert shown["encoding"] == "ucs2" and shown["segments"] == 2 and shown["per_segment"] == 67


def test_unsign_takes_off_only_the_signature_sign_put_first(session, company):
    signed = sign(session, "您好，【内部】资料已发送")
    assert signed == "【达盟科技】您好，【内部】资料已发送"
    assert unsign(session, signed) == "您好，【内部】资料已发送"
    assert unsign(session, "【通知】您好") == "【通知】您好"
    assert unsign(session, "您好【达盟科技】") == "您好【达盟科技】"


def test_a_template_with_an_unknown_variable_is_refused(session, users, company):
    with pytest.raises(InvalidValue) as err:
        save_template(session, users["admin"], {"name": "问候", "body": "您好{nickname}"})
    assert err.value.key == "sms.unknown_variable"
    with pytest.raises(PermissionDenied):
        save_template(session, users["tm"], {"name": "问候", "body": "您好{customer_name}"})
    assert save_template(session, users["admin"], {"name": "问候", "body": "您好{customer_name}"}).id


def test_send_queues_logs_a_contact_record_and_refuses_opted_out_and_dnc(
        session, users, make_customer, company, clock):
    customer = make_customer(mobile="13800138000")
    message = send_sms(session, users["tm"], customer.id, "{customer_name}您好", clock=clock)
    assert (message.status, message.to_number, message.direction) == ("queued", "+8613800138000",
                                                                      "out")
    assert message.text == f"【达盟科技】{customer.name}您好" and message.segments == 1
    record = session.get(ContactRecord, message.contact_record_id)
    assert record.method == "sms" and message.text in record.content
    assert record.user_id == users["tm"].id

    add_number(session, users["tm"], "13800138000", clock=clock)
    with pytest.raises(SmsRefused) as err:
        send_sms(session, users["tm"], customer.id, "再次问候", clock=clock)
    assert err.value.key == "sms.do_not_call"

    other = make_customer(mobile="13800138009")
    record_reply(session, "smpp", "+8613800138009", "106900", "退订", AT)
    with pytest.raises(SmsRefused) as err:
        send_sms(session, users["tm"], other.id, "问候", clock=clock)
    assert err.value.key == "sms.opted_out"


def test_only_customers_one_may_open_and_only_mobiles(session, users, make_customer, company,
                                                       clock):
    mine = make_customer(owner="tm", mobile="13800138000")
    with pytest.raises(NotYours):
        send_sms(session, users["tm2"], mine.id, "您好", clock=clock)
    with pytest.raises(NotYours):
        customer_messages(session, users["tm2"], mine.id)
    landline = make_customer(owner="tm", phone="021-62345678")
    with pytest.raises(InvalidValue) as err:
        send_sms(session, users["tm"], landline.id, "您好", clock=clock)
    assert err.value.key == "sms.no_mobile"


def test_to_a_contact_of_the_customer_only(session, users, make_customer, company, clock):
    customer = make_customer(owner="tm")
    contact = add_contact(session, users["tm"], customer.id, {"name": "赵敏", "mobile": "13912345678"},
                          clock=clock)
    other = make_customer(owner="tm")
    message = send_sms(session, users["tm"], customer.id, "{contact_name}您好",
                       contact_id=contact.id, clock=clock)
    assert message.to_number == "+8613912345678" and "赵敏您好" in message.text
    with pytest.raises(NotFound):
        send_sms(session, users["tm"], other.id, "您好", contact_id=contact.id, clock=clock)


def test_two_senders_never_claim_one_message(session, Session, users, make_customer, company,
                                            clock):
    customer = make_customer(mobile="13800138000")
    for _ in range(3):
        send_sms(session, users["tm"], customer.id, "您好", clock=clock)
    session.commit()
    with Session() as one, Session() as two:
        first = claim(one, "a", AT, limit=2)
        one.commit()
        second = claim(two, "b", AT, limit=5)
        two.commit()
    assert len(first) == 2 and len(second) == 1
    assert {m.id for m in first}.isdisjoint({m.id for m in second})


def test_receipts_make_a_long_message_delivered_only_when_every_part_is(
        session, users, make_customer, company, clock):
    customer = make_customer(mobile="13800138000")
    message = send_sms(session, users["tm"], customer.id, "长" * 100, clock=clock)
    assert message.segments == 2
    [claimed] = claim(session, "a", AT)
    # the second part's receipt comes before the submit is recorded
    assert record_receipt(session, "smpp", "m2", "delivered", None, AT) is None
    mark_submitted(session, claimed.id, "smpp", ["m1", "m2"], AT)
    assert message.status == "sent"
    record_receipt(session, "smpp", "m1", "delivered", None, AT + dt.timedelta(seconds=5))
    assert message.status == "delivered" and message.done_at == AT + dt.timedelta(seconds=5)


def test_a_failed_receipt_fails_the_message_with_its_reason(session, users, make_customer,
                                                            company, clock):
    customer = make_customer(mobile="13800138000")
    message = send_sms(session, users["tm"], customer.id, "您好", clock=clock)
    claim(session, "a", AT)
    mark_submitted(session, message.id, "smpp", ["x1"], AT)
    record_receipt(session, "smpp", "x1", "failed", "UNDELIV err:001", AT)
    assert (message.status, message.reason) == ("failed", "UNDELIV err:001")


def test_retry_and_failure_of_a_claimed_message(session, users, make_customer, company, clock):
    customer = make_customer(mobile="13800138000")
    message = send_sms(session, users["tm"], customer.id, "您好", clock=clock)
    claim(session, "a", AT)
    mark_retry(session, message.id, "ESME_RTHROTTLED", AT + dt.timedelta(seconds=30))
    assert claim(session, "a", AT) == []
    assert claim(session, "a", AT + dt.timedelta(seconds=30)) == [message]
    mark_failed(session, message.id, "ESME_RINVDSTADR", AT)
    assert (message.status, message.attempts) == ("failed", 2)


def test_a_reply_attaches_to_the_customer_last_texted_and_td_opts_out(
        session, users, make_customer, company, clock):
    customer = make_customer(mobile="13800138000")
    make_customer(mobile="13800138000")     # another with the same mobile, never texted
    send_sms(session, users["tm"], customer.id, "您好", clock=clock)
    reply = record_reply(session, "smpp", "8613800138000", "10690001", "好的，谢谢", AT)
    assert (reply.customer_id, reply.direction, reply.status) == (customer.id, "in", "received")
    assert reply.user_id == users["tm"].id
    record = session.get(ContactRecord, reply.contact_record_id)
    assert record.method == "sms" and "好的，谢谢" in record.content
    assert not is_opted_out(session, "+8613800138000")
    record_reply(session, "smpp", "+8613800138000", "10690001", " td ", AT)
    assert is_opted_out(session, "+8613800138000")
    assert session.get(SmsOptOut, "+8613800138000").reason


def test_a_reply_from_an_unknown_number_is_kept_without_customer(session, users, company):
    reply = record_reply(session, "smpp", "+8613700000000", "10690001", "你是谁", AT)
    assert reply.customer_id is None and reply.contact_record_id is None


def test_opt_out_words_are_configurable(session, users, company):
    assert is_opt_out(session, "退订") and is_opt_out(session, "我要退订。")
    assert is_opt_out(session, "TD") and is_opt_out(session, "t d")
    assert not is_opt_out(session, "STD") and not is_opt_out(session, "好的")
    update_sms_settings(session, {"opt_out_words": "退订 TD 别发了"})
    assert is_opt_out(session, "别发了！") and not is_opt_out(session, "N")


def test_a_receipt_while_its_submit_is_recorded_waits_its_turn(Session, session, users,
                                                               make_customer, company, clock):
    """The receipt's transaction holds the part; the submit's waits for it, then finds it
    (without the lock PostgreSQL's READ COMMITTED lets both insert it: a unique violation)."""
    import threading
    customer = make_customer(mobile="13800138000")
    message = send_sms(session, users["tm"], customer.id, "您好", clock=clock)
    claim(session, "a", AT)
    session.commit()
    receipt = Session()
    record_receipt(receipt, "smpp", "r1", "delivered", None, AT)
    errors = []

    def submit():
        try:
            with Session.begin() as other:
                mark_submitted(other, message.id, "smpp", ["r1"], AT)
        except Exception as exc:   # noqa: BLE001  (the test reports it)
            errors.append(exc)
    worker = threading.Thread(target=submit)
    worker.start()
    worker.join(0.5)
    receipt.commit()
    receipt.close()
    worker.join(30)
    assert errors == []
    session.expire_all()
    assert session.get(SmsMessage, message.id).status == "delivered"


def test_a_message_whose_sender_died_fails_with_a_warning_not_twice(session, users,
                                                                   make_customer, company, clock):
    from models.sms.delivery import fail_stalled
    customer = make_customer(mobile="13800138000")
    message = send_sms(session, users["tm"], customer.id, "您好", clock=clock)
    claim(session, "dead-sender", AT)
    assert fail_stalled(session, AT + dt.timedelta(minutes=9)) == 0
    assert fail_stalled(session, AT + dt.timedelta(minutes=11)) == 1
    session.refresh(message)
    assert (message.status, message.reason) == ("failed", "sms.sender_lost")
    assert claim(session, "other", AT + dt.timedelta(minutes=12)) == []
