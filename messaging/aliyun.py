"""Alibaba Cloud SMS (dysmsapi, API version 2017-05-25): SendSms over the RPC-style HTTP API,
signed with HMAC-SHA1 (SignatureVersion 1.0) as the "RPC signature" documentation specifies, or
with the newer ACS3-HMAC-SHA256 ("V3 request structure and signature"), and the parsers of its
HTTP push callbacks (SmsReport receipts, SmsUp replies)."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import urllib.parse
import uuid
from typing import Callable

from config.settings import ALIYUN_SIGNINGS as SIGNINGS
from messaging.gateway import Gateway, Receipt, Reply
from messaging.http_util import (CallbackError, SmsProviderError, beijing_time, e164, field,
                                 json_body, post)
from models.clock import SYSTEM_CLOCK

ENDPOINT = "https://dysmsapi.aliyuncs.com/"
API_VERSION = "2017-05-25"
# Refusals that mean "too many, send later" rather than "this message is wrong".
THROTTLE_CODES = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL",
                            "Throttling", "Throttling.User", "Throttling.Api"})
# What the callback URL answers so that Alibaba Cloud does not push the batch again.
CALLBACK_ACK = json.dumps({"code": 0, "msg": "接收成功"}, ensure_ascii=False).encode()


def percent_encode(value: str) -> str:
    """RFC 3986 encoding of UTF-8: only A-Z a-z 0-9 - _ . ~ stay as they are."""
    return urllib.parse.quote(value, safe="~")


def string_to_sign(method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}"
                         for k, v in sorted(params.items()) if k != "Signature")
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def signature(method: str, params: dict[str, str], access_key_secret: str) -> str:
    digest = hmac.new(f"{access_key_secret}&".encode(), string_to_sign(method, params).encode(),
                      hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def acs3_canonical_request(method: str, query: dict[str, str], headers: dict[str, str],
                           payload: bytes) -> str:
    """V3's CanonicalRequest for the path '/', signing every header given."""
    values = {name.lower(): str(value).strip() for name, value in headers.items()}
    names = sorted(values)
    return "\n".join([
        method, "/",
        "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(query.items())),
        "".join(f"{name}:{values[name]}\n" for name in names),
        ";".join(names),
        _sha256_hex(payload)])


def acs3_authorization(access_key_id: str, access_key_secret: str, canonical: str) -> str:
    signed_headers = canonical.split("\n")[-2]
    to_sign = f"ACS3-HMAC-SHA256\n{_sha256_hex(canonical.encode())}"
    sig = hmac.new(access_key_secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return (f"ACS3-HMAC-SHA256 Credential={access_key_id},SignedHeaders={signed_headers},"
            f"Signature={sig}")


def phone_numbers(to_e164: str) -> str:
    """SendSms's PhoneNumbers: the 11 digits for the Chinese mainland, else country code and
    number without the '+'."""
    if not (to_e164.startswith("+") and to_e164[1:].isdigit() and len(to_e164) > 4):
        raise ValueError(f"not an E.164 number: {to_e164!r}")
    return to_e164[3:] if to_e164.startswith("+86") else to_e164[1:]


class AliyunSms(Gateway):
    """Sends through one account's approved signature (SignName) and templates. Text without
    template parameters goes into the default template's variable `text_param`. `signing` is
    "HMAC-SHA1" (signature version 1.0) or "ACS3-HMAC-SHA256"."""

    name = "aliyun"
    adds_signature = True

    def __init__(self, access_key_id: str, access_key_secret: str, sign_name: str, *,
                 template_code: str = "", text_param: str = "content",
                 region: str = "cn-hangzhou", endpoint: str = ENDPOINT, timeout: float = 10.0,
                 signing: str = "HMAC-SHA1", clock=SYSTEM_CLOCK,
                 nonce: Callable[[], str] = lambda: uuid.uuid4().hex):
        for label, value in (("access key id", access_key_id),
                             ("access key secret", access_key_secret), ("sign name", sign_name)):
            if not value:
                raise ValueError(f"Alibaba Cloud SMS: the {label} is not set")
        if signing not in SIGNINGS:
            raise ValueError(f"Alibaba Cloud SMS: signing must be one of {', '.join(SIGNINGS)}")
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self.sign_name = sign_name
        self.template_code = template_code
        self.text_param = text_param
        self.region = region
        self.endpoint = endpoint
        self.timeout = timeout
        self.signing = signing
        self.clock = clock
        self.nonce = nonce

    def _timestamp(self) -> str:
        return self.clock.now().astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def signed_params(self, method: str, action_params: dict[str, str]) -> dict[str, str]:
        """Signature version 1.0: the action's parameters with the common ones and their
        Signature."""
        params = {
            "AccessKeyId": self.access_key_id,
            "Format": "JSON",
            "RegionId": self.region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self.nonce(),
            "SignatureVersion": "1.0",
            "Timestamp": self._timestamp(),
            "Version": API_VERSION,
            **action_params,
        }
        params["Signature"] = signature(method, params, self._secret)
        return params

    def acs3_headers(self, action: str, body: bytes) -> dict[str, str]:
        """ACS3-HMAC-SHA256: the signed headers of a POST whose parameters are its form body."""
        headers = {
            "host": urllib.parse.urlsplit(self.endpoint).netloc,
            "content-type": "application/x-www-form-urlencoded",
            "x-acs-action": action,
            "x-acs-content-sha256": _sha256_hex(body),
            "x-acs-date": self._timestamp(),
            "x-acs-signature-nonce": self.nonce(),
            "x-acs-version": API_VERSION,
        }
        canonical = acs3_canonical_request("POST", {}, headers, body)
        headers["Authorization"] = acs3_authorization(self.access_key_id, self._secret, canonical)
        return headers

    def submit(self, to_e164: str, text: str, *, template_code: str | None = None,
               params: dict | None = None) -> list[str]:
        """Send one message; its BizId. Raises SmsProviderError when Alibaba Cloud refuses it,
        SmsHttpError when it cannot be reached."""
        number = phone_numbers(to_e164)
        code = template_code or self.template_code
        if not code:
            raise ValueError("Alibaba Cloud SMS needs a template code (no default template is set)")
        if params is None:
            params = {self.text_param: text} if self.text_param else {}
        sms = {"PhoneNumbers": number, "SignName": self.sign_name, "TemplateCode": code}
        if params:
            sms["TemplateParam"] = json.dumps(params, ensure_ascii=False, separators=(",", ":"))
        if self.signing == "HMAC-SHA1":
            body = urllib.parse.urlencode(self.signed_params("POST", {"Action": "SendSms", **sms}),
                                          quote_via=urllib.parse.quote).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        else:
            body = urllib.parse.urlencode(sms, quote_via=urllib.parse.quote).encode()
            headers = self.acs3_headers("SendSms", body)
        status, reply = post(self.name, self.endpoint, body,
                             {**headers, "Accept": "application/json"}, self.timeout)
        result = str(reply.get("Code") or f"HTTP {status}")
        if result != "OK":
            raise SmsProviderError(self.name, result, str(reply.get("Message", "")),
                                   str(reply.get("RequestId", "")), result in THROTTLE_CODES)
        if not reply.get("BizId"):
            raise SmsProviderError(self.name, "NoBizId", "accepted without a BizId",
                                   str(reply.get("RequestId", "")))
        return [str(reply["BizId"])]

def _number(raw: object) -> str:
    digits = str(raw)
    if len(digits) == 11 and digits.startswith("1"):       # a mainland mobile, no country code
        return e164("86", digits)
    return e164("", digits)


def _success(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if str(raw).lower() in ("true", "false"):
        return str(raw).lower() == "true"
    raise CallbackError(f"aliyun callback: bad success flag {raw!r}")


def parse_status_callback(body: bytes | str) -> list[Receipt]:
    """SmsReport (HTTP batch push): a JSON array of delivery reports."""
    reports = []
    for item in json_body("aliyun", body, list):
        ok = _success(field("aliyun", item, "success"))
        reason = None if ok else ": ".join(
            s for s in (str(item.get("err_code") or ""), str(item.get("err_msg") or "")) if s) or None
        reports.append(Receipt(str(field("aliyun", item, "biz_id")),
                                      "delivered" if ok else "failed", reason,
                                      beijing_time("aliyun", field("aliyun", item, "report_time"))))
    return reports


def parse_reply_callback(body: bytes | str) -> list[Reply]:
    """SmsUp (HTTP batch push): a JSON array of the replies customers sent."""
    return [Reply(_number(field("aliyun", item, "phone_number")),
                       str(item.get("dest_code") or ""),
                       str(field("aliyun", item, "content")),
                       beijing_time("aliyun", field("aliyun", item, "send_time")))
            for item in json_body("aliyun", body, list)]
