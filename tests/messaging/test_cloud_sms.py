"""Alibaba Cloud and Tencent Cloud SMS end to end over loopback: the settings name the
gateway, the sender submits through the test servers (which check every signature), the
providers' status and reply callbacks are POSTed to our callback server and land in the
database; throttling is retried later, a forged callback is refused."""
from __future__ import annotations

import http.client
import json
import logging
import socket
import threading

import pytest
from sqlalchemy import func, select

from config.settings import SettingsError, load_settings
from messaging import aliyun, tencent
from messaging.callbacks import CallbackServer
from messaging.sender import Sender
from messaging.setup import gateway_from_settings, start_sender
from models.clock import SYSTEM_CLOCK
from models.schema import ContactRecord, SmsMessage, SmsPart
from models.sms.config import update_sms_settings
from models.sms.optouts import is_opted_out
from models.sms.bulk import create_job
from models.sms.sending import send_sms
from models.sms.templates import save_template
from tests.messaging.sms_http_servers import AliyunSmsServer, TencentSmsServer

TOKEN = "cb-token-for-tests"
ALIYUN_ENV = {"DIALFUNNEL_SMS_GATEWAY": "aliyun",
              "DIALFUNNEL_SMS_ALIYUN_ACCESS_KEY_ID": "LTAI5tTestKeyId",
              "DIALFUNNEL_SMS_ALIYUN_ACCESS_KEY_SECRET": "s3cret-for-tests",
              "DIALFUNNEL_SMS_ALIYUN_SIGN_NAME": "达盟科技",
              "DIALFUNNEL_SMS_ALIYUN_TEMPLATE_CODE": "SMS_000001",
              "DIALFUNNEL_SMS_HTTP_TIMEOUT": "3"}
TENCENT_ENV = {"DIALFUNNEL_SMS_GATEWAY": "tencent",
               "DIALFUNNEL_SMS_TENCENT_SECRET_ID": "AKIDtestSecretIdForLoopback00000",
               "DIALFUNNEL_SMS_TENCENT_SECRET_KEY": "testSecretKeyForLoopback00000000",
               "DIALFUNNEL_SMS_TENCENT_SDK_APP_ID": "1400006666",
               "DIALFUNNEL_SMS_TENCENT_SIGN_NAME": "达盟科技",
               "DIALFUNNEL_SMS_TENCENT_TEMPLATE_ID": "449739",
               "DIALFUNNEL_SMS_HTTP_TIMEOUT": "3"}


class Aliyun:
    name, env, Server, limit = "aliyun", ALIYUN_ENV, AliyunSmsServer, AliyunSmsServer.LIMIT
    secrets = {"LTAI5tTestKeyId": "s3cret-for-tests"}
    endpoint_key = "DIALFUNNEL_SMS_ALIYUN_ENDPOINT"

    @staticmethod
    def sent_text(received: dict) -> str:
        assert received["SignName"] == "达盟科技" and received["TemplateCode"] == "SMS_000001"
        return json.loads(received["TemplateParam"])["content"]

    @staticmethod
    def filled(received: dict) -> tuple[str, list[str], list[str] | None]:
        """The template code, the values in order and their names (``${name}`` in the
        provider's template)."""
        params = json.loads(received["TemplateParam"])
        return received["TemplateCode"], list(params.values()), list(params)

    @staticmethod
    def status(message_id: str, ok: bool) -> bytes:
        return json.dumps([{"phone_number": "13800138000", "send_time": "2026-11-26 10:00:01",
                            "report_time": "2026-11-26 10:00:09", "success": ok,
                            "err_code": "DELIVERED" if ok else "MK:0001",
                            "err_msg": "用户接收成功" if ok else "用户停机", "sms_size": "1",
                            "biz_id": message_id, "out_id": ""}], ensure_ascii=False).encode()

    @staticmethod
    def reply(text: str, n: int) -> bytes:
        return json.dumps([{"phone_number": "13800138000", "content": text,
                            "send_time": f"2026-11-26 10:0{n}:00", "dest_code": "",
                            "sequence_id": str(n)}], ensure_ascii=False).encode()


class Tencent:
    name, env, Server, limit = "tencent", TENCENT_ENV, TencentSmsServer, TencentSmsServer.PHONE_LIMIT
    secrets = {"AKIDtestSecretIdForLoopback00000": "testSecretKeyForLoopback00000000"}
    endpoint_key = "DIALFUNNEL_SMS_TENCENT_ENDPOINT"

    @staticmethod
    def sent_text(received: dict) -> str:
        body = received["body"]
        assert body["SignName"] == "达盟科技" and body["TemplateId"] == "449739"
        assert body["SmsSdkAppId"] == "1400006666"
        [text] = body["TemplateParamSet"]
        return text

    @staticmethod
    def filled(received: dict) -> tuple[str, list[str], list[str] | None]:
        body = received["body"]       # Tencent's template takes {1}, {2}...: values by position
        return body["TemplateId"], body["TemplateParamSet"], None

    @staticmethod
    def status(message_id: str, ok: bool) -> bytes:
        return json.dumps([{"user_receive_time": "2026-11-26 10:00:09", "nationcode": "86",
                            "mobile": "13800138000", "report_status": "SUCCESS" if ok else "FAIL",
                            "errmsg": "DELIVRD" if ok else "MN:0001",
                            "description": "用户短信送达成功" if ok else "空号",
                            "sid": message_id}], ensure_ascii=False).encode()

    @staticmethod
    def reply(text: str, n: int) -> bytes:
        return json.dumps({"extend": "", "mobile": "13800138000", "nationcode": "86",
                           "sign": "达盟科技", "text": text, "time": 1795658400 + 60 * n},
                          ensure_ascii=False).encode()


@pytest.fixture(params=[Aliyun, Tencent], ids=["aliyun", "tencent"])
def provider(request):
    return request.param


@pytest.fixture
def api(provider):
    # the gateways sign with the real time; the server checks it against the real time too
    with provider.Server(provider.secrets, SYSTEM_CLOCK) as server:
        yield server


@pytest.fixture
def settings(provider, api):
    return load_settings({**provider.env, provider.endpoint_key: api.url})


@pytest.fixture
def sender(Session, settings, clock):
    return Sender(Session, gateway_from_settings(settings), sender_id="s1", rate_per_second=1000,
                  clock=clock)


@pytest.fixture
def callbacks(Session):
    with CallbackServer(Session, token=TOKEN) as server:
        yield server


@pytest.fixture
def signed(session, users):
    update_sms_settings(session, {"signature": "达盟科技"})
    session.commit()


def post(server: CallbackServer, path: str, body: bytes, method: str = "POST") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _message(Session, message_id) -> SmsMessage:
    with Session() as s:
        return s.get(SmsMessage, message_id)


def _count(Session, model, *where) -> int:
    with Session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_sent_delivered_replied_and_opted_out(Session, session, users, make_customer, provider,
                                              api, sender, callbacks, signed, clock):
    customer = make_customer(mobile="13800138000")
    message = send_sms(session, users["tm"], customer.id, "{customer_name}您好，资料已发送",
                       clock=clock)
    session.commit()
    assert message.text.startswith("【达盟科技】")
    assert sender.run_once() == 1
    [received] = api.received
    # the provider adds 【达盟科技】 from the sign name: the text goes without it
    assert provider.sent_text(received) == message.text.removeprefix("【达盟科技】")
    sent = _message(Session, message.id)
    assert (sent.status, sent.gateway) == ("sent", provider.name)
    with Session() as s:
        gateway_id = s.scalar(select(SmsPart.gateway_message_id)
                              .where(SmsPart.message_id == message.id))

    ack = (200, (aliyun if provider is Aliyun else tencent).CALLBACK_ACK)
    base = f"/sms/callback/{provider.name}"
    assert post(callbacks, f"{base}/status?token={TOKEN}", provider.status(gateway_id, True)) == ack
    assert _message(Session, message.id).status == "delivered"

    assert post(callbacks, f"/sms/callback/{TOKEN}/{provider.name}/reply",
                provider.reply("收到，谢谢", 1)) == ack
    with Session() as s:
        assert not is_opted_out(s, "+8613800138000")
    assert post(callbacks, f"{base}/reply?token={TOKEN}", provider.reply("TD", 2)) == ack
    with Session() as s:
        replies = s.scalars(select(SmsMessage).where(SmsMessage.direction == "in")
                            .order_by(SmsMessage.id)).all()
        assert [(r.text, r.customer_id, r.gateway) for r in replies] == [
            ("收到，谢谢", customer.id, provider.name), ("TD", customer.id, provider.name)]
        assert is_opted_out(s, "+8613800138000")
        assert s.scalar(select(func.count()).select_from(ContactRecord)
                        .where(ContactRecord.method == "sms")) == 3


def test_a_cloud_template_is_filled_with_the_variables_its_body_names(
        Session, session, users, make_customer, provider, api, sender, signed, clock):
    """The provider sends its own approved text: it gets the values of our template's
    variables (by name for Alibaba Cloud, in order for Tencent Cloud), not our whole text."""
    users["tm"].extension = "8001"
    update_sms_settings(session, {"phone": "020-88886666"})
    body = "{customer_name}您好，我是{salesperson_name}（{salesperson_phone}），{customer_name}的资料已发送"
    template = save_template(session, users["admin"], {"name": "资料已发送", "body": body,
                                                       "gateway_code": "SMS_777"}, clock=clock)
    one = make_customer("华东机械", mobile="13800138000")
    two = make_customer("３Ｄ打印工坊", mobile="13800138001", owner="mgr")
    send_sms(session, users["tm"], one.id, body, template_id=template.id, clock=clock)
    create_job(session, users["mgr"], name="通知", body=body, rate_per_minute=6000,
               source={"ids": [two.id]}, template_id=template.id, clock=clock)
    plain = send_sms(session, users["tm"], one.id, "您好", clock=clock)
    session.commit()
    assert sender.run_once() == 3
    assert [provider.filled(r) for r in api.received[:2]] == [
        ("SMS_777", ["华东机械", "李红光", "020-88886666转8001"],
         ["customer_name", "salesperson_name", "salesperson_phone"]
         if provider is Aliyun else None),
        ("SMS_777", ["３Ｄ打印工坊", "王经理", "020-88886666"],
         ["customer_name", "salesperson_name", "salesperson_phone"]
         if provider is Aliyun else None)]
    # a message from no template still goes as the default template's one text
    assert provider.sent_text(api.received[2]) == _message(Session, plain.id).text.removeprefix(
        "【达盟科技】")


def test_a_failed_receipt_keeps_the_providers_reason(Session, session, users, make_customer,
                                                    provider, api, sender, callbacks, clock):
    message = send_sms(session, users["tm"], make_customer(mobile="13800138000").id, "您好",
                       clock=clock)
    session.commit()
    sender.run_once()
    with Session() as s:
        gateway_id = s.scalar(select(SmsPart.gateway_message_id))
    status, _ = post(callbacks, f"/sms/callback/{provider.name}/status?token={TOKEN}",
                     provider.status(gateway_id, False))
    failed = _message(Session, message.id)
    assert (status, failed.status) == (200, "failed")
    assert failed.reason in ("MK:0001: 用户停机", "MN:0001: 空号")


def test_throttled_is_queued_again_and_sent_later(Session, session, users, make_customer,
                                                  provider, api, sender, clock):
    message = send_sms(session, users["tm"], make_customer(mobile="13800138000").id, "您好",
                       clock=clock)
    session.commit()
    api.refusals.append(provider.limit)
    assert sender.run_once() == 1
    again = _message(Session, message.id)
    assert (again.status, again.attempts) == ("queued", 1)
    assert again.reason.startswith(f"{provider.name} refused: {provider.limit[-2]}")
    assert sender.run_once() == 0                   # not before its retry time
    clock.advance(seconds=30)
    assert sender.run_once() == 1
    assert _message(Session, message.id).status == "sent"
    assert len(api.received) == 2                   # the refused request and the accepted one


def test_a_refusal_or_a_missing_template_fails_the_message_with_the_reason(
        Session, session, users, make_customer, provider, api, clock):
    customer = make_customer(mobile="13800138000")
    first = send_sms(session, users["tm"], customer.id, "您好", clock=clock)
    second = send_sms(session, users["tm"], customer.id, "再见", clock=clock)
    session.commit()
    refusal = (("isv.SMS_SIGNATURE_ILLEGAL", "签名不合法") if provider is Aliyun else
               ("request", "FailedOperation.SignatureIncorrectOrUnapproved", "signature is not approved"))
    api.refusals.append(refusal)
    no_template = {k: v for k, v in provider.env.items() if "TEMPLATE" not in k}
    gateway = gateway_from_settings(load_settings({**provider.env, provider.endpoint_key: api.url}))
    Sender(Session, gateway, sender_id="s1", rate_per_second=1000, clock=clock, batch=1).run_once()
    untemplated = gateway_from_settings(load_settings({**no_template, provider.endpoint_key: api.url}))
    Sender(Session, untemplated, sender_id="s2", rate_per_second=1000, clock=clock).run_once()
    refused, unsent = _message(Session, first.id), _message(Session, second.id)
    assert (refused.status, refused.reason) == (
        "failed", f"{provider.name} refused: {refusal[-2]}: {refusal[-1]}")
    assert unsent.status == "failed" and "template" in unsent.reason
    assert len(api.received) == 1


@pytest.mark.parametrize("path", ["/sms/callback/{name}/status",
                                  "/sms/callback/{name}/status?token=guess",
                                  "/sms/callback/guess/{name}/status"])
def test_a_callback_without_the_token_is_refused(Session, session, users, make_customer,
                                                 provider, api, sender, callbacks, clock, path,
                                                 caplog):
    caplog.set_level(logging.DEBUG)
    message = send_sms(session, users["tm"], make_customer(mobile="13800138000").id, "您好",
                       clock=clock)
    session.commit()
    sender.run_once()
    with Session() as s:
        gateway_id = s.scalar(select(SmsPart.gateway_message_id))
    forged = provider.status(gateway_id, False)
    status, body = post(callbacks, path.format(name=provider.name), forged)
    assert (status, body) == (403, b"wrong or missing callback token")
    assert _message(Session, message.id).status == "sent"
    assert _count(Session, SmsPart, SmsPart.receipt_at.is_not(None)) == 0
    assert post(callbacks, f"/sms/callback/{TOKEN}/{provider.name}/status",
                provider.status(gateway_id, True))[0] == 200
    assert _message(Session, message.id).status == "delivered"
    assert "wrong or missing callback token" in caplog.text and TOKEN not in caplog.text


@pytest.mark.parametrize("path, body, status, says", [
    ("/sms/callback/aliyun/status", b"not json", 400, "aliyun callback: not JSON"),
    ("/sms/callback/aliyun/reply", b'[{"content": "TD"}]', 400, "aliyun callback: missing 'phone_number'"),
    ("/sms/callback/tencent/status", b'{"sid": "1"}', 400, "tencent callback: expected a JSON list"),
    ("/sms/callback/tencent/reply", b'{"mobile": "1", "nationcode": "86", "text": "TD", "time": "x"}',
     400, "tencent callback: bad time 'x'"),
    ("/sms/callback/smpp/status", b"[]", 404, "not found"),
    ("/sms/callback/aliyun/receipts", b"[]", 404, "not found"),
    ("/elsewhere", b"[]", 404, "not found"),
])
def test_a_bad_callback_is_refused_clearly_and_stores_nothing(Session, path, body, status, says):
    with CallbackServer(Session) as server:
        assert post(server, path, body) == (status, says.encode())
        assert post(server, path, b"", method="GET")[0] == 405
    assert _count(Session, SmsMessage) == 0 and _count(Session, SmsPart) == 0


def test_settings_name_the_cloud_gateways_and_refuse_missing_credentials():
    gateway = gateway_from_settings(load_settings(ALIYUN_ENV))
    assert isinstance(gateway, aliyun.AliyunSms)
    assert (gateway.sign_name, gateway.template_code, gateway.text_param, gateway.region,
            gateway.endpoint, gateway.signing, gateway.timeout) == (
        "达盟科技", "SMS_000001", "content", "cn-hangzhou", "https://dysmsapi.aliyuncs.com/",
        "HMAC-SHA1", 3)
    gateway = gateway_from_settings(load_settings(TENCENT_ENV))
    assert isinstance(gateway, tencent.TencentSms)
    assert (gateway.sdk_app_id, gateway.template_id, gateway.region, gateway.endpoint) == (
        "1400006666", "449739", "ap-guangzhou", "https://sms.tencentcloudapi.com/")
    with pytest.raises(SettingsError, match="sms_aliyun_access_key_secret"):
        load_settings({**ALIYUN_ENV, "DIALFUNNEL_SMS_ALIYUN_ACCESS_KEY_SECRET": ""})
    with pytest.raises(SettingsError, match="sms_tencent_secret_key, sms_tencent_sdk_app_id"):
        load_settings({k: v for k, v in TENCENT_ENV.items()
                       if not k.endswith(("SECRET_KEY", "SDK_APP_ID"))})
    with pytest.raises(SettingsError, match="sms_aliyun_signing"):
        load_settings({**ALIYUN_ENV, "DIALFUNNEL_SMS_ALIYUN_SIGNING": "MD5"})
    with pytest.raises(SettingsError, match="sms_tencent_endpoint must be an http"):
        load_settings({**TENCENT_ENV, "DIALFUNNEL_SMS_TENCENT_ENDPOINT": "sms.tencentcloudapi.com"})
    with pytest.raises(SettingsError, match="sms_callback_port"):
        load_settings({"DIALFUNNEL_SMS_CALLBACK_PORT": "70000"})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_start_sender_serves_the_callbacks_until_stopped(Session, session, users, make_customer,
                                                         api, provider, clock):
    port = _free_port()
    settings = load_settings({**provider.env, provider.endpoint_key: api.url,
                              "DIALFUNNEL_SMS_CALLBACK_PORT": str(port),
                              "DIALFUNNEL_SMS_CALLBACK_TOKEN": TOKEN})
    message = send_sms(session, users["tm"], make_customer(mobile="13800138000").id, "您好",
                       clock=clock)
    session.commit()
    stop = threading.Event()
    _, thread = start_sender(settings, Session, stop, gateway_from_settings(settings))
    try:
        server = _Address(port)
        for _ in range(100):
            if _message(Session, message.id).status == "sent":
                break
            stop.wait(0.05)
        with Session() as s:
            gateway_id = s.scalar(select(SmsPart.gateway_message_id))
        assert post(server, f"/sms/callback/{TOKEN}/{provider.name}/status",
                    provider.status(gateway_id, True))[0] == 200
        assert _message(Session, message.id).status == "delivered"
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    with pytest.raises(ConnectionRefusedError):
        post(_Address(port), "/sms/callback/aliyun/status", b"[]")


class _Address:
    def __init__(self, port):
        self.port = port
