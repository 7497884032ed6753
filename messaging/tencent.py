"""Tencent Cloud SMS (API 3.0, version 2021-01-11): SendSms signed with TC3-HMAC-SHA256 as the
"signature v3" documentation specifies, and the parsers of its status and reply callbacks."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import urllib.parse

from messaging.gateway import Gateway, Receipt, Reply
from messaging.http_util import (CallbackError, SmsProviderError, beijing_time, e164, field,
                                 json_body, post)
from models.clock import SYSTEM_CLOCK

ENDPOINT = "https://sms.tencentcloudapi.com/"
SERVICE = "sms"
API_VERSION = "2021-01-11"
ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"
# What the callback URL answers so that Tencent Cloud counts the push as received.
CALLBACK_ACK = json.dumps({"result": 0, "errmsg": "OK"}).encode()


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def canonical_request(host: str, payload: bytes, content_type: str = CONTENT_TYPE) -> str:
    """The CanonicalRequest of a POST to '/' signing the content-type and host headers."""
    headers = f"content-type:{content_type.strip().lower()}\nhost:{host.strip().lower()}\n"
    return "\n".join(["POST", "/", "", headers, "content-type;host", _sha256_hex(payload)])


def credential_scope(timestamp: int, service: str) -> str:
    day = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%d")
    return f"{day}/{service}/tc3_request"


def string_to_sign(timestamp: int, service: str, canonical: str) -> str:
    return "\n".join([ALGORITHM, str(timestamp), credential_scope(timestamp, service),
                      _sha256_hex(canonical.encode())])


def signature(secret_key: str, timestamp: int, service: str, canonical: str) -> str:
    """HMAC-SHA256 with the key derived from the UTC date, the service and "tc3_request"."""
    day = credential_scope(timestamp, service).split("/")[0]
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), day), service), "tc3_request")
    return hmac.new(key, string_to_sign(timestamp, service, canonical).encode(),
                    hashlib.sha256).hexdigest()


def authorization(secret_id: str, secret_key: str, timestamp: int, service: str,
                  canonical: str) -> str:
    return (f"{ALGORITHM} Credential={secret_id}/{credential_scope(timestamp, service)}, "
            f"SignedHeaders=content-type;host, "
            f"Signature={signature(secret_key, timestamp, service, canonical)}")


def _throttled(code: str) -> bool:
    return code.startswith("LimitExceeded") or code.startswith("RequestLimitExceeded")


class TencentSms(Gateway):
    """Sends through one SMS application (SmsSdkAppId) with its approved signature and
    templates. Text without template parameters is the default template's only parameter."""

    name = "tencent"
    adds_signature = True

    def __init__(self, secret_id: str, secret_key: str, sdk_app_id: str, sign_name: str, *,
                 template_id: str = "", region: str = "ap-guangzhou",
                 endpoint: str = ENDPOINT, timeout: float = 10.0, clock=SYSTEM_CLOCK):
        for label, value in (("SecretId", secret_id), ("SecretKey", secret_key),
                             ("SmsSdkAppId", sdk_app_id), ("sign name", sign_name)):
            if not value:
                raise ValueError(f"Tencent Cloud SMS: the {label} is not set")
        self.secret_id = secret_id
        self._secret_key = secret_key
        self.sdk_app_id = sdk_app_id
        self.sign_name = sign_name
        self.template_id = template_id
        self.region = region
        self.endpoint = endpoint
        self.host = urllib.parse.urlsplit(endpoint).netloc
        self.timeout = timeout
        self.clock = clock

    def signed_headers(self, action: str, payload: bytes) -> dict[str, str]:
        timestamp = int(self.clock.now().timestamp())
        auth = authorization(self.secret_id, self._secret_key, timestamp, SERVICE,
                             canonical_request(self.host, payload))
        return {"Authorization": auth, "Content-Type": CONTENT_TYPE, "Host": self.host,
                "X-TC-Action": action, "X-TC-Timestamp": str(timestamp),
                "X-TC-Version": API_VERSION, "X-TC-Region": self.region}

    def submit(self, to_e164: str, text: str, *, template_code: str | None = None,
               params: dict | list | None = None) -> list[str]:
        """Send one message; its SerialNo. `params` fill the template in order (a dict's
        values in its order). Raises SmsProviderError when Tencent Cloud refuses it,
        SmsHttpError when it cannot be reached."""
        if not (to_e164.startswith("+") and to_e164[1:].isdigit() and len(to_e164) > 4):
            raise ValueError(f"not an E.164 number: {to_e164!r}")
        template = template_code or self.template_id
        if not template:
            raise ValueError("Tencent Cloud SMS needs a template id (no default template is set)")
        values = [text] if params is None else list(
            params.values() if isinstance(params, dict) else params)
        payload = json.dumps({"PhoneNumberSet": [to_e164], "SmsSdkAppId": self.sdk_app_id,
                              "SignName": self.sign_name, "TemplateId": template,
                              "TemplateParamSet": [str(v) for v in values]},
                             ensure_ascii=False).encode()
        status, reply = post(self.name, self.endpoint, payload,
                             self.signed_headers("SendSms", payload), self.timeout)
        response = reply.get("Response")
        if not isinstance(response, dict):
            raise SmsProviderError(self.name, f"HTTP {status}", "no Response in the reply")
        request_id = str(response.get("RequestId", ""))
        if "Error" in response:
            error = response["Error"] if isinstance(response["Error"], dict) else {}
            code = str(error.get("Code", "Error"))
            raise SmsProviderError(self.name, code, str(error.get("Message", "")), request_id,
                                   _throttled(code))
        sent = response.get("SendStatusSet") or []
        if not sent or not isinstance(sent[0], dict):
            raise SmsProviderError(self.name, "NoSendStatus", "no SendStatusSet", request_id)
        code = str(sent[0].get("Code", ""))
        if code != "Ok":
            raise SmsProviderError(self.name, code, str(sent[0].get("Message", "")), request_id,
                                   _throttled(code))
        return [str(sent[0]["SerialNo"])]

def parse_status_callback(body: bytes | str) -> list[Receipt]:
    """"SMS sending status notification": a JSON array, `sid` being SendSms's SerialNo."""
    reports = []
    for item in json_body("tencent", body, list):
        state = str(field("tencent", item, "report_status"))
        if state not in ("SUCCESS", "FAIL"):
            raise CallbackError(f"tencent callback: bad report_status {state!r}")
        reason = None if state == "SUCCESS" else ": ".join(
            s for s in (str(item.get("errmsg") or ""), str(item.get("description") or "")) if s) or None
        reports.append(Receipt(str(field("tencent", item, "sid")),
                                      "delivered" if state == "SUCCESS" else "failed", reason,
                                      beijing_time("tencent", field("tencent", item, "user_receive_time"))))
    return reports


def parse_reply_callback(body: bytes | str) -> list[Reply]:
    """"SMS reply": one JSON object per reply (an array of them is taken too)."""
    data = json_body("tencent", body, (dict, list))
    replies = []
    for item in data if isinstance(data, list) else [data]:
        when = field("tencent", item, "time")
        if isinstance(when, bool) or not isinstance(when, (int, float, str)) or not str(when).isdigit():
            raise CallbackError(f"tencent callback: bad time {when!r}")
        replies.append(Reply(e164(str(field("tencent", item, "nationcode")),
                                       str(field("tencent", item, "mobile"))),
                                  str(item.get("extend") or ""),
                                  str(field("tencent", item, "text")),
                                  dt.datetime.fromtimestamp(int(when), dt.timezone.utc)))
    return replies
