"""The SMPP 3.4 client against the SMSC over loopback TCP: bind, long messages as concatenated
UCS-2 parts, receipts, replies, a dropped bind and reconnect, throttling, enquire_link."""
import struct
import threading

import pytest

from messaging.gateway import GatewayError
from messaging.smpp import pdu as P
from messaging.smpp.client import SmppClient
from messaging.smpp.server import SmppServer


class Inbox:
    def __init__(self):
        self.receipts, self.replies = [], []
        self.changed = threading.Event()

    def receipt(self, receipt):
        self.receipts.append(receipt)

    def reply(self, reply):
        self.replies.append(reply)


@pytest.fixture
def smsc():
    with SmppServer(system_id="df", password="pw") as server:
        yield server


@pytest.fixture
def inbox():
    return Inbox()


@pytest.fixture
def client(smsc, inbox):
    made = SmppClient("127.0.0.1", smsc.port, "df", "pw", source_addr="10690000", timeout=3,
                      reconnect_s=0.1, throttle_wait_s=0.01)
    made.start(inbox.receipt, inbox.reply)
    yield made
    made.close()


def test_pdus_round_trip_as_the_specification_lays_them_out():
    data = P.encode(P.Pdu(P.BIND_TRANSCEIVER, 7, params=dict(
        system_id="df", password="pw", interface_version=0x34)))
    assert struct.unpack(">IIII", data[:16]) == (len(data), 0x00000009, 0, 7)
    assert data[16:] == b"df\0pw\0\0\x34\0\0\0"
    back = P.decode(data)
    assert back.params["system_id"] == "df" and back.name == "bind_transceiver"
    refused = P.encode(P.Pdu(P.SUBMIT_SM | P.RESP, 3, P.ESME_RTHROTTLED,
                             params={"message_id": "x"}))
    assert len(refused) == 16     # a refused response has no body
    with pytest.raises(P.PduError):
        P.encode(P.Pdu(P.BIND_TRANSCEIVER, 1, params={"system_id": "x" * 16}))


def test_a_short_chinese_message_goes_as_one_ucs2_submit(smsc, client):
    ids = client.submit("+8613800138000", "【达盟】您好")
    [part] = smsc.submitted
    assert ids == [part["message_id"]]
    assert (part["to"], part["text"], part["data_coding"], part["esm_class"]) == (
        "8613800138000", "【达盟】您好", 8, 0)
    assert part["registered_delivery"] == 1 and smsc.binds == 1


def test_a_long_message_is_concatenated_with_a_udh(smsc, client):
    text = "【达盟】" + "欢迎致电达盟科技，" * 12
    ids = client.submit("+8613800138000", text)
    assert len(ids) == 2 == len(smsc.submitted) and len(set(ids)) == 2
    first, second = smsc.submitted
    assert first["esm_class"] & 0x40 and second["esm_class"] & 0x40
    assert first["concat"][0] == second["concat"][0]
    assert (first["concat"][1:], second["concat"][1:]) == ((2, 1), (2, 2))
    assert len(first["text"]) == 67
    assert smsc.messages() == [{"to": "8613800138000", "text": text, "ids": ids}]


def test_gsm7_text_goes_with_the_default_alphabet(smsc, client):
    client.submit("+8613800138000", "Code 1234 {ok} €5")
    assert smsc.submitted[0]["data_coding"] == 0
    assert smsc.submitted[0]["text"] == "Code 1234 {ok} €5"


def test_receipts_come_back_for_every_part_and_failures_carry_the_reason(smsc, client, inbox):
    smsc.undeliverable["8613900000000"] = "UNDELIV 001"
    ids = client.submit("+8613800138000", "长" * 100)
    bad = client.submit("+8613900000000", "您好")
    assert smsc.wait_for(lambda: len(inbox.receipts) == 3)
    by_id = {r.gateway_message_id: r for r in inbox.receipts}
    assert [by_id[i].status for i in ids] == ["delivered", "delivered"]
    assert (by_id[bad[0]].status, by_id[bad[0]].reason) == ("failed", "UNDELIV err:001")
    assert smsc.wait_for(lambda: smsc.deliver_responses == [0, 0, 0])


def test_replies_short_and_long_are_handed_on(smsc, client, inbox):
    smsc.reply("+8613800138000", "退订")
    long_reply = "请把贵公司的地址和网址发给我，" * 6
    smsc.reply("+8613800138001", long_reply)
    assert smsc.wait_for(lambda: len(inbox.replies) == 2)
    first, second = inbox.replies
    assert (first.from_number, first.to_number, first.text) == ("8613800138000", "10690000",
                                                                "退订")
    assert second.text == long_reply


def test_a_refused_bind(smsc):
    wrong = SmppClient("127.0.0.1", smsc.port, "df", "nope", timeout=3)
    with pytest.raises(GatewayError) as err:
        wrong.submit("+8613800138000", "您好")
    assert "ESME_RINVPASWD" in err.value.reason and err.value.retry
    assert smsc.submitted == []


def test_a_dropped_bind_is_bound_again_and_held_receipts_arrive(smsc, client, inbox):
    smsc.receipt_delay_s = 0.3
    [sent] = client.submit("+8613800138000", "您好")
    assert smsc.drop_binds() == 1
    assert smsc.wait_for(lambda: smsc.binds == 2)
    assert smsc.wait_for(lambda: [r.gateway_message_id for r in inbox.receipts] == [sent])
    assert len(client.submit("+8613800138000", "又见面了")) == 1


def test_throttling_hands_the_first_part_back_and_retries_later_parts(smsc, client):
    smsc.throttle(1)
    with pytest.raises(GatewayError) as err:
        client.submit("+8613800138000", "您好")
    assert err.value.reason == "ESME_RTHROTTLED" and err.value.retry
    assert smsc.submitted == []
    smsc.throttle(2, after=1)
    ids = client.submit("+8613800138000", "长" * 100)
    assert len(ids) == 2 and len(smsc.submitted) == 2
    smsc.throttle(10, after=1)
    with pytest.raises(GatewayError):
        client.submit("+8613800138000", "长" * 100)


def test_a_bad_destination_is_a_permanent_refusal(smsc, client):
    with pytest.raises(GatewayError) as err:
        client.submit("+86ABC", "您好")
    assert err.value.reason == "ESME_RINVDSTADR" and not err.value.retry


def test_enquire_link_keeps_a_quiet_link(smsc, inbox):
    quiet = SmppClient("127.0.0.1", smsc.port, "df", "pw", enquire_link_s=0.1, timeout=3)
    quiet.start(inbox.receipt, inbox.reply)
    try:
        assert smsc.wait_for(lambda: smsc.enquire_links >= 2)
        assert smsc.binds == 1
    finally:
        quiet.close()


def test_the_smscs_enquire_link_is_answered_and_its_unbind_bound_again(smsc, client):
    assert smsc.to_every_session(P.ENQUIRE_LINK) == 1
    assert smsc.wait_for(lambda: smsc.responses == ["enquire_link_resp"])
    smsc.to_every_session(P.UNBIND)
    assert smsc.wait_for(lambda: "unbind_resp" in smsc.responses)
    assert smsc.wait_for(lambda: smsc.binds == 2)
    assert len(client.submit("+8613800138000", "您好")) == 1
