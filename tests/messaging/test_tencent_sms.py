"""Tencent Cloud SMS: TC3-HMAC-SHA256 against the "signature v3" documentation's example, and
SendSms through a loopback server that checks every signature itself."""
from __future__ import annotations

import datetime as dt
import json
import socket
import time

import pytest

from messaging import tencent
from messaging.gateway import Gateway, GatewayError, Receipt, Reply
from messaging.http_util import CallbackError, SmsHttpError, SmsProviderError
from models.clock import FakeClock
from tests.messaging.sms_http_servers import TencentSmsServer, tencent_signature

# The documentation's example: DescribeInstances on cvm, timestamp 1551113065.
DOC_PAYLOAD = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
DOC_CANONICAL = ("POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n"
                 "content-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064")
DOC_STRING_TO_SIGN = ("TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
                      "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031")

NOW = dt.datetime(2026, 12, 7, 2, 30, 5, tzinfo=dt.timezone.utc)
SECRET_ID = "AKIDtestSecretIdForLoopback00000"
SECRET_KEY = "testSecretKeyForLoopback00000000"


def test_canonical_request_and_string_to_sign_match_the_documentation():
    canonical = tencent.canonical_request("cvm.tencentcloudapi.com", DOC_PAYLOAD)
    assert canonical == DOC_CANONICAL
    assert tencent.string_to_sign(1551113065, "cvm", canonical) == DOC_STRING_TO_SIGN


@pytest.mark.parametrize("secret_id, secret_key, expected", [
    # the current page masks the example key with *******
    ("AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", "Gu5t9xGARNpq86cd98joQYCN3*******",
     "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"),
    # earlier editions spell it EXAMPLE
    ("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
     "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"),
])
def test_authorization_matches_the_documentation(secret_id, secret_key, expected):
    assert tencent.authorization(secret_id, secret_key, 1551113065, "cvm", DOC_CANONICAL) == (
        f"TC3-HMAC-SHA256 Credential={secret_id}/2019-02-25/cvm/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={expected}")
    # the fixture server's own derivation agrees with the documentation too
    assert tencent_signature(secret_key, "2019-02-25", "cvm", DOC_STRING_TO_SIGN) == expected


def test_the_date_in_the_scope_is_the_utc_date():
    # 2019-02-26 00:44:25 in Beijing is still the 25th in UTC (the documentation's warning)
    assert tencent.credential_scope(1551113065, "sms") == "2019-02-25/sms/tc3_request"


@pytest.fixture
def clock():
    return FakeClock(NOW)


@pytest.fixture
def server(clock):
    with TencentSmsServer({SECRET_ID: SECRET_KEY}, clock) as srv:
        yield srv


def gateway(server, clock, secret_key=SECRET_KEY, **kw):
    kw.setdefault("timeout", 2)
    return tencent.TencentSms(SECRET_ID, secret_key, "1400006666", "迪风科技", template_id="449739",
                              endpoint=server.url, clock=clock, **kw)


def test_submit_is_signed_and_returns_the_serial_number(server, clock):
    ids = gateway(server, clock).submit("+8613800138000", "您好，我们的网址是 example.cn。")
    assert ids == ["2645:000000000000000000000000000001"]
    [seen] = server.received
    assert seen["body"] == {"PhoneNumberSet": ["+8613800138000"], "SmsSdkAppId": "1400006666",
                            "SignName": "迪风科技", "TemplateId": "449739",
                            "TemplateParamSet": ["您好，我们的网址是 example.cn。"]}
    headers = seen["headers"]
    assert headers["X-TC-Action"] == "SendSms" and headers["X-TC-Version"] == "2021-01-11"
    assert headers["X-TC-Region"] == "ap-guangzhou"
    assert headers["X-TC-Timestamp"] == str(int(NOW.timestamp()))
    assert headers["Authorization"].startswith(
        f"TC3-HMAC-SHA256 Credential={SECRET_ID}/2026-12-07/sms/tc3_request, SignedHeaders=content-type;host, ")


def test_template_parameters_go_in_order(server, clock):
    gateway(server, clock).submit("+8613800138000", "ignored", template_code="449740",
                                  params={"name": "王先生", "amount": 1205.3})
    assert server.received[0]["body"]["TemplateId"] == "449740"
    assert server.received[0]["body"]["TemplateParamSet"] == ["王先生", "1205.3"]


def test_a_per_number_rate_limit_carries_the_providers_code_and_message(server, clock):
    server.refusals.append(TencentSmsServer.PHONE_LIMIT)
    with pytest.raises(SmsProviderError) as refused:
        gateway(server, clock).submit("+8613800138000", "hi")
    assert refused.value.code == "LimitExceeded.PhoneNumberThirtySecondLimit"
    assert "30 seconds" in refused.value.message
    assert refused.value.throttled and refused.value.retry and refused.value.request_id


def test_a_request_error_is_refused_with_its_code(server, clock):
    gw = gateway(server, clock)
    assert isinstance(gw, Gateway) and gw.adds_signature
    server.refusals.append(("request", "FailedOperation.SignatureIncorrectOrUnapproved",
                            "signature format is incorrect or signature is not approved"))
    with pytest.raises(GatewayError) as refused:
        gw.submit("+8613800138000", "hi")
    assert refused.value.code == "FailedOperation.SignatureIncorrectOrUnapproved"
    assert not refused.value.retry
    assert refused.value.reason.startswith("tencent refused: FailedOperation.")


def test_a_wrong_key_and_a_skewed_clock_are_refused(server, clock):
    with pytest.raises(SmsProviderError) as refused:
        gateway(server, clock, secret_key="not-the-key").submit("+8613800138000", "hi")
    assert refused.value.code == "AuthFailure.SignatureFailure"
    with pytest.raises(SmsProviderError, match="AuthFailure.SignatureExpire"):
        gateway(server, FakeClock(NOW + dt.timedelta(minutes=6))).submit("+8613800138000", "hi")
    assert server.received == []


def test_bad_input_is_refused_before_anything_is_sent(server, clock):
    with pytest.raises(ValueError, match="E.164"):
        gateway(server, clock).submit("8613800138000", "hi")
    with pytest.raises(ValueError, match="template id"):
        tencent.TencentSms("id", "key", "1400006666", "签名").submit("+8613800138000", "hi")
    with pytest.raises(ValueError, match="SmsSdkAppId"):
        tencent.TencentSms("id", "key", "", "签名")
    assert server.received == []


def test_a_provider_that_does_not_answer_in_time_is_a_clear_error(server, clock):
    server.delay = 5
    started = time.monotonic()
    with pytest.raises(SmsHttpError, match="no answer .* within 0.3 s"):
        gateway(server, clock, timeout=0.3).submit("+8613800138000", "hi")
    assert time.monotonic() - started < 3


def test_connection_refused_is_a_clear_error(clock):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gw = tencent.TencentSms("id", "key", "1400006666", "签名", template_id="1",
                            endpoint=f"http://127.0.0.1:{port}/", clock=clock)
    with pytest.raises(SmsHttpError, match="connection refused") as failed:
        gw.submit("+8613800138000", "hi")
    assert failed.value.retry and isinstance(failed.value, GatewayError)


def test_status_callback_as_documented():
    body = json.dumps([
        {"user_receive_time": "2015-10-17 08:03:04", "nationcode": "86", "mobile": "13800138000",
         "report_status": "SUCCESS", "errmsg": "DELIVRD", "description": "用户短信送达成功",
         "sid": "2645:000000000000000000000000000001"},
        {"user_receive_time": "2015-10-17 08:03:09", "nationcode": "86", "mobile": "13800138001",
         "report_status": "FAIL", "errmsg": "MN:0001", "description": "空号",
         "sid": "2645:000000000000000000000000000002"}], ensure_ascii=False)
    delivered, failed = tencent.parse_status_callback(body)
    assert delivered == Receipt("2645:000000000000000000000000000001", "delivered", None,
                         dt.datetime(2015, 10, 17, 0, 3, 4, tzinfo=dt.timezone.utc))
    assert failed == Receipt("2645:000000000000000000000000000002", "failed", "MN:0001: 空号",
                      dt.datetime(2015, 10, 17, 0, 3, 9, tzinfo=dt.timezone.utc))


def test_reply_callback_as_documented():
    body = '{"extend": "", "mobile": "13800138000", "nationcode": "86", "sign": "迪风科技", "text": "TD", "time": 1457336869}'
    assert tencent.parse_reply_callback(body.encode()) == [
        Reply("+8613800138000", "", "TD", dt.datetime(2016, 3, 7, 7, 47, 49, tzinfo=dt.timezone.utc))]
    assert json.loads(tencent.CALLBACK_ACK) == {"result": 0, "errmsg": "OK"}


@pytest.mark.parametrize("parse, body", [
    (tencent.parse_status_callback, b'{"sid": "1"}'),
    (tencent.parse_status_callback, b'[{"sid": "1", "report_status": "MAYBE", "user_receive_time": "2015-10-17 08:03:04"}]'),
    (tencent.parse_reply_callback, b'{"mobile": "13800138000", "nationcode": "86", "text": "TD"}'),
    (tencent.parse_reply_callback, b'{"mobile": "13800138000", "nationcode": "86", "text": "TD", "time": "soon"}'),
    (tencent.parse_reply_callback, b"[1, 2]"),
])
def test_a_malformed_callback_is_refused_clearly(parse, body):
    with pytest.raises(CallbackError, match="tencent callback"):
        parse(body)
