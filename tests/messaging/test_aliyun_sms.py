"""Alibaba Cloud SMS: the HMAC-SHA1 signature against the documentation's worked examples, and
SendSms through a loopback server that checks every signature itself."""
from __future__ import annotations

import datetime as dt
import socket
import time

import pytest

from messaging import aliyun
from messaging.gateway import Gateway, GatewayError, Receipt, Reply
from messaging.http_util import CallbackError, SmsHttpError, SmsProviderError
from models.clock import FakeClock
from tests.messaging.sms_http_servers import AliyunSmsServer, aliyun_signature_ok

# The SMS documentation's signature example (SendSms, key testId / testSecret).
SMS_DOC_PARAMS = {
    "AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123",
    "PhoneNumbers": "15300000001", "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0", "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}', "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}
SMS_DOC_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123"
    "%26PhoneNumbers%3D15300000001%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF"
    "%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4%25BF%25A1%25E6%25B5%258B%25E8%25AF"
    "%2595%25E4%25B8%2593%25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce"
    "%3D45e25e9b-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0%26TemplateCode"
    "%3DSMS_71390007%26TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D"
    "%26Timestamp%3D2017-07-12T02%253A42%253A19Z%26Version%3D2017-05-25")
# The RPC signature documentation's example (ECS DescribeRegions, key testid / testsecret).
RPC_DOC_PARAMS = {
    "Timestamp": "2016-02-23T12:46:24Z", "Format": "XML", "AccessKeyId": "testid",
    "Action": "DescribeRegions", "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "Version": "2014-05-26",
    "SignatureVersion": "1.0",
}

NOW = dt.datetime(2026, 12, 7, 2, 30, 5, tzinfo=dt.timezone.utc)


def test_string_to_sign_and_signature_match_the_sms_documentation():
    assert aliyun.string_to_sign("GET", SMS_DOC_PARAMS) == SMS_DOC_STRING_TO_SIGN
    assert aliyun.signature("GET", SMS_DOC_PARAMS, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_signature_matches_the_rpc_documentation():
    assert aliyun.signature("GET", RPC_DOC_PARAMS, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert aliyun.percent_encode("a b*c~d/é") == "a%20b%2Ac~d%2F%C3%A9"


def test_acs3_authorization_matches_the_v3_documentation():
    # "V3 request structure and signature": the RunInstances example
    headers = {"host": "ecs.cn-shanghai.aliyuncs.com", "x-acs-action": "RunInstances",
               "x-acs-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               "x-acs-date": "2023-10-26T10:22:32Z",
               "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
               "x-acs-version": "2014-05-26"}
    query = {"RegionId": "cn-shanghai",
             "ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"}
    canonical = aliyun.acs3_canonical_request("POST", query, headers, b"")
    assert aliyun.acs3_authorization("YourAccessKeyId", "YourAccessKeySecret", canonical) == (
        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;"
        "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
        "Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0")


def test_the_fixture_server_accepts_the_documented_request_and_nothing_else():
    signed = dict(SMS_DOC_PARAMS, Signature="zJDF+Lrzhj/ThnlvIToysFRq6t4=")
    assert aliyun_signature_ok("GET", signed, "testSecret")
    assert not aliyun_signature_ok("POST", signed, "testSecret")
    assert not aliyun_signature_ok("GET", dict(signed, PhoneNumbers="15300000002"), "testSecret")


@pytest.fixture
def clock():
    return FakeClock(NOW)


@pytest.fixture
def server(clock):
    with AliyunSmsServer({"LTAI5tTestKeyId": "s3cret-for-tests"}, clock) as srv:
        yield srv


def gateway(server, clock, secret="s3cret-for-tests", **kw):
    nonces = iter(f"nonce-{n}" for n in range(100))
    kw.setdefault("nonce", lambda: next(nonces))
    kw.setdefault("timeout", 2)
    return aliyun.AliyunSms("LTAI5tTestKeyId", secret, "迪风科技", template_code="SMS_000001",
                            endpoint=server.url, clock=clock, **kw)


def test_submit_is_signed_and_returns_the_biz_id(server, clock):
    ids = gateway(server, clock).submit("+8613800138000", "您好，我们的地址是中山路1号。")
    assert ids == ["90061974693649840001^0"]
    [params] = server.received
    assert params["PhoneNumbers"] == "13800138000"
    assert params["SignName"] == "迪风科技"
    assert params["TemplateCode"] == "SMS_000001"
    assert params["TemplateParam"] == '{"content":"您好，我们的地址是中山路1号。"}'
    assert params["Timestamp"] == "2026-12-07T02:30:05Z"
    assert params["SignatureNonce"] == "nonce-0"
    assert (params["SignatureMethod"], params["SignatureVersion"]) == ("HMAC-SHA1", "1.0")
    assert params["Format"] == "JSON"


def test_submit_signed_with_acs3(server, clock):
    v3 = gateway(server, clock, signing="ACS3-HMAC-SHA256")
    assert v3.submit("+8613800138000", "您好") == ["90061974693649840001^0"]
    [params] = server.received
    assert (params["PhoneNumbers"], params["TemplateParam"]) == ("13800138000", '{"content":"您好"}')
    assert "Signature" not in params and "AccessKeyId" not in params
    with pytest.raises(SmsProviderError, match="SignatureDoesNotMatch"):
        gateway(server, clock, secret="not-the-secret", signing="ACS3-HMAC-SHA256").submit(
            "+8613800138000", "hi")
    with pytest.raises(ValueError, match="signing"):
        gateway(server, clock, signing="MD5")


def test_a_template_with_its_own_parameters_and_a_number_abroad(server, clock):
    gateway(server, clock).submit("+85291234567", "ignored", template_code="SMS_000002",
                                  params={"name": "王先生", "amount": "1205.30"})
    [params] = server.received
    assert params["PhoneNumbers"] == "85291234567"
    assert params["TemplateCode"] == "SMS_000002"
    assert params["TemplateParam"] == '{"name":"王先生","amount":"1205.30"}'


def test_a_rate_limit_refusal_carries_the_providers_code_and_message(server, clock):
    server.refusals.append(AliyunSmsServer.LIMIT)
    with pytest.raises(SmsProviderError) as refused:
        gateway(server, clock).submit("+8613800138000", "hi")
    assert refused.value.code == "isv.BUSINESS_LIMIT_CONTROL"
    assert refused.value.message == "触发分钟级流控Permits:1"
    assert refused.value.throttled and refused.value.retry and refused.value.request_id
    assert refused.value.reason == str(refused.value)
    assert "isv.BUSINESS_LIMIT_CONTROL" in refused.value.reason


def test_it_is_a_gateway_whose_refusals_are_gateway_errors(server, clock):
    gw = gateway(server, clock)
    assert isinstance(gw, Gateway) and gw.adds_signature
    server.refusals.append(AliyunSmsServer.LIMIT)
    with pytest.raises(GatewayError) as throttled:
        gw.submit("+8613800138000", "hi")
    assert throttled.value.retry and throttled.value.reason.startswith("aliyun refused: isv.")
    server.refusals.append(("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"))
    with pytest.raises(GatewayError) as refused:
        gw.submit("+8613800138000", "hi")
    assert not refused.value.retry
    assert refused.value.reason == "aliyun refused: isv.MOBILE_NUMBER_ILLEGAL: 非法手机号"


def test_a_wrong_secret_is_a_signature_mismatch(server, clock):
    with pytest.raises(SmsProviderError) as refused:
        gateway(server, clock, secret="not-the-secret").submit("+8613800138000", "hi")
    assert refused.value.code == "SignatureDoesNotMatch" and not refused.value.retry
    assert server.received == []


def test_a_reused_nonce_and_a_skewed_clock_are_refused(server, clock):
    same = gateway(server, clock, nonce=lambda: "always-the-same")
    same.submit("+8613800138000", "one")
    with pytest.raises(SmsProviderError, match="SignatureNonceUsed"):
        same.submit("+8613800138000", "two")
    late = FakeClock(NOW - dt.timedelta(minutes=20))
    with pytest.raises(SmsProviderError, match="InvalidTimeStamp.Expired"):
        gateway(server, late).submit("+8613800138000", "three")
    assert len(server.received) == 1


def test_bad_input_is_refused_before_anything_is_sent(server, clock):
    with pytest.raises(ValueError, match="E.164"):
        gateway(server, clock).submit("13800138000", "hi")
    with pytest.raises(ValueError, match="template code"):
        aliyun.AliyunSms("id", "secret", "签名", endpoint=server.url).submit("+8613800138000", "hi")
    with pytest.raises(ValueError, match="access key secret"):
        aliyun.AliyunSms("id", "", "签名")
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
    gw = aliyun.AliyunSms("id", "secret", "签名", template_code="SMS_1",
                          endpoint=f"http://127.0.0.1:{port}/", clock=clock)
    with pytest.raises(SmsHttpError, match="connection refused") as failed:
        gw.submit("+8613800138000", "hi")
    assert failed.value.retry and "connection refused" in failed.value.reason
    assert isinstance(failed.value, GatewayError)


def test_status_callback_as_documented():
    # the first item is the documentation's example as printed
    body = """[{"phone_number": "1381111****", "send_time": "2017-01-01 00:00:00",
                "report_time": "2017-01-01 00:00:00", "success": true, "err_code": "DELIVERED",
                "err_msg": "用户接收成功", "sms_size": "1", "biz_id": "12345********",
                "out_id": "67890**"},
               {"phone_number": "13811113333", "send_time": "2017-01-01 11:12:13",
                "report_time": "2017-01-01 07:00:00", "success": false, "err_code": "MK:0001",
                "err_msg": "用户停机", "sms_size": "1", "biz_id": "12346", "out_id": ""}]"""
    delivered, failed = aliyun.parse_status_callback(body.encode())
    assert delivered == Receipt("12345********", "delivered", None,
                         dt.datetime(2016, 12, 31, 16, 0, tzinfo=dt.timezone.utc))
    assert failed == Receipt("12346", "failed", "MK:0001: 用户停机",
                      dt.datetime(2016, 12, 31, 23, 0, tzinfo=dt.timezone.utc))


def test_reply_callback_as_documented():
    body = """[{"phone_number": "13811112222", "content": "退订", "send_time": "2017-09-01 00:00:00",
                "dest_code": "1234", "sequence_id": "1234567890"}]"""
    [reply] = aliyun.parse_reply_callback(body)
    assert reply == Reply("+8613811112222", "1234", "退订",
                     dt.datetime(2017, 8, 31, 16, 0, tzinfo=dt.timezone.utc))
    assert aliyun.CALLBACK_ACK.decode() == '{"code": 0, "msg": "接收成功"}'


@pytest.mark.parametrize("body", [b"not json", b'{"biz_id": "1"}', b'[{"biz_id": "1"}]',
                                  b'[{"biz_id": "1", "success": "maybe", "report_time": "2017-01-01 00:00:00"}]',
                                  b'[{"biz_id": "1", "success": true, "report_time": "yesterday"}]'])
def test_a_malformed_status_callback_is_refused_clearly(body):
    with pytest.raises(CallbackError, match="aliyun callback"):
        aliyun.parse_status_callback(body)
