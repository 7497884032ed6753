"""The sender end to end: a salesperson's SMS goes out over SMPP (loopback SMSC), its receipt
makes it delivered, a reply lands on the customer and 退订 opts the number out; a throttled
message is tried again later; two senders never send one message twice."""
import threading

import pytest
from sqlalchemy import func, select

from messaging.sender import Sender
from messaging.smpp.client import SmppClient
from messaging.smpp.server import SmppServer
from models.schema import ContactRecord, SmsMessage
from models.sms.bulk import create_job
from models.sms.optouts import is_opted_out
from models.sms.sending import send_sms


@pytest.fixture
def smsc():
    with SmppServer(system_id="df", password="pw", own_number="10690001") as server:
        yield server


def _client(smsc):
    return SmppClient("127.0.0.1", smsc.port, "df", "pw", source_addr="10690001", timeout=3,
                      reconnect_s=0.1, throttle_wait_s=0.01)


@pytest.fixture
def sender(Session, smsc, clock):
    made = Sender(Session, _client(smsc), sender_id="s1", rate_per_second=1000, clock=clock)
    made.start_gateway()
    yield made
    made.gateway.close()


def _status(Session, message_id):
    with Session() as s:
        return s.get(SmsMessage, message_id).status


def test_sent_delivered_replied_and_opted_out(Session, session, users, make_customer, smsc,
                                              sender, clock):
    customer = make_customer(mobile="13800138000")
    message = send_sms(session, users["tm"], customer.id, "{customer_name}您好，" + "详情" * 40,
                       clock=clock)
    session.commit()
    assert sender.run_once() == 1
    [sent] = smsc.messages()
    assert sent["text"] == message.text and sent["to"] == "8613800138000"
    assert len(sent["ids"]) == message.segments == 2
    assert smsc.wait_for(lambda: _status(Session, message.id) == "delivered")

    smsc.reply("+8613800138000", "收到，谢谢")
    smsc.reply("+8613800138000", "退订")
    assert smsc.wait_for(lambda: _count(Session, SmsMessage.direction == "in") == 2)
    with Session() as s:
        replies = s.scalars(select(SmsMessage).where(SmsMessage.direction == "in")
                            .order_by(SmsMessage.id)).all()
        assert [r.text for r in replies] == ["收到，谢谢", "退订"]
        assert {r.customer_id for r in replies} == {customer.id}
        assert is_opted_out(s, "+8613800138000")
        assert s.scalar(select(func.count()).select_from(ContactRecord)
                        .where(ContactRecord.method == "sms")) == 3


def _count(Session, *where):
    with Session() as s:
        return s.scalar(select(func.count()).select_from(SmsMessage).where(*where))


def test_an_undeliverable_number_fails_with_the_reason(Session, session, users, make_customer,
                                                       smsc, sender, clock):
    smsc.undeliverable["8613900000000"] = "UNDELIV 001"
    customer = make_customer(mobile="13900000000")
    message = send_sms(session, users["tm"], customer.id, "您好", clock=clock)
    session.commit()
    sender.run_once()
    assert smsc.wait_for(lambda: _status(Session, message.id) == "failed")
    with Session() as s:
        assert s.get(SmsMessage, message.id).reason == "UNDELIV err:001"


def test_throttled_is_queued_again_and_sent_later(Session, session, users, make_customer, smsc,
                                                  sender, clock):
    customer = make_customer(mobile="13800138000")
    message = send_sms(session, users["tm"], customer.id, "您好", clock=clock)
    session.commit()
    smsc.throttle(1)
    sender.run_once()
    with Session() as s:
        row = s.get(SmsMessage, message.id)
        assert (row.status, row.reason, row.attempts) == ("queued", "ESME_RTHROTTLED", 1)
    assert sender.run_once() == 0                   # not before its retry time
    clock.advance(seconds=30)
    assert sender.run_once() == 1
    assert len(smsc.submitted) == 1
    assert smsc.wait_for(lambda: _status(Session, message.id) == "delivered")


def test_two_senders_at_once_send_each_message_once(Session, session, users, make_customer,
                                                    smsc, sender, clock):
    customers = [make_customer(mobile="1380013%04d" % i) for i in range(30)]
    create_job(session, users["mgr"], name="问候", body="您好", rate_per_minute=6000,
               source={"ids": [c.id for c in customers]}, clock=clock)
    session.commit()
    other = Sender(Session, _client(smsc), sender_id="s2", rate_per_second=1000, clock=clock,
                   batch=3)
    sender.batch = 3
    rounds = [threading.Thread(target=lambda s=s: [s.run_once() for _ in range(12)])
              for s in (sender, other)]
    try:
        for t in rounds:
            t.start()
        for t in rounds:
            t.join(30)
    finally:
        other.gateway.close()
    assert len(smsc.submitted) == 30
    assert len({p["to"] for p in smsc.submitted}) == 30
    assert _count(Session, SmsMessage.status.in_(("sent", "delivered"))) == 30
