"""Loopback stand-ins for the Alibaba Cloud and Tencent Cloud SMS APIs. Each recomputes the
request's signature with its own code, from the bytes and headers it received, and answers as
the provider's documentation shows: the success body, the documented error bodies (signature
mismatch, expired timestamp, reused nonce, unknown key) and refusals a test asks for."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import itertools
import json
import re
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server:
    """One ThreadingHTTPServer on 127.0.0.1, serving `answer(handler, body)` in a thread."""

    def __init__(self, secrets: dict[str, str], clock):
        self.secrets = secrets
        self.clock = clock
        self.received: list[dict] = []      # what each accepted request carried
        self.refusals: list[tuple] = []     # refusals to give, in order, to the next requests
        self.delay = 0.0                    # seconds to wait before answering
        self._released = threading.Event()
        self._ids = itertools.count(1)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if owner.delay:
                    owner._released.wait(owner.delay)
                status, reply = owner.answer(self, body)
                raw = json.dumps(reply, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json;charset=utf-8")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:             # the client gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self):
        self._released.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def answer(self, handler, body: bytes) -> tuple[int, dict]:
        raise NotImplementedError


def _rfc3986(text: str) -> str:
    safe = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
    return "".join(chr(b) if b in safe else f"%{b:02X}" for b in text.encode("utf-8"))


def aliyun_signature_ok(method: str, params: dict[str, str], secret: str) -> bool:
    """Alibaba Cloud's check of an RPC request signed with HMAC-SHA1, signature version 1.0."""
    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    canonical = "&".join(_rfc3986(k) + "=" + _rfc3986(v) for k, v in pairs)
    to_sign = "&".join([method, _rfc3986("/"), _rfc3986(canonical)])
    mac = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(base64.b64encode(mac).decode(), params.get("Signature", ""))


class AliyunSmsServer(_Server):
    """dysmsapi's SendSms on POST with a form body, signed with HMAC-SHA1 (version 1.0) in the
    parameters or ACS3-HMAC-SHA256 in the headers. `refusals` items: (Code, Message)."""

    LIMIT = ("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")

    def __init__(self, secrets: dict[str, str], clock):
        super().__init__(secrets, clock)
        self._nonces: set[str] = set()

    def answer(self, handler, body: bytes) -> tuple[int, dict]:
        request_id = str(uuid.uuid4()).upper()

        def error(status: int, code: str, message: str) -> tuple[int, dict]:
            return status, {"RequestId": request_id, "HostId": "dysmsapi.aliyuncs.com",
                            "Code": code, "Message": message}

        params = dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        auth = handler.headers.get("Authorization")
        if auth:
            refused = self._acs3_refusal(handler, body, auth)
            stamp_text = handler.headers.get("x-acs-date", "")
            nonce = handler.headers.get("x-acs-signature-nonce", "")
            params.update(Action=handler.headers.get("x-acs-action", ""),
                          Version=handler.headers.get("x-acs-version", ""))
        else:
            refused = self._v1_refusal(handler.command, params)
            stamp_text, nonce = params.get("Timestamp", ""), params.get("SignatureNonce", "")
        if refused:
            return error(*refused)
        try:
            stamp = dt.datetime.strptime(stamp_text, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return error(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
        if abs(stamp.replace(tzinfo=dt.timezone.utc) - self.clock.now()) > dt.timedelta(minutes=15):
            return error(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        if not nonce or nonce in self._nonces:
            return error(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        self._nonces.add(nonce)
        if params.get("Action") != "SendSms" or params.get("Version") != "2017-05-25":
            return error(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
        self.received.append(params)
        if self.refusals:
            code, message = self.refusals.pop(0)
            return 200, {"RequestId": request_id, "Code": code, "Message": message}
        return 200, {"RequestId": request_id, "Code": "OK", "Message": "OK",
                     "BizId": f"9006197469364984{next(self._ids):04d}^0"}

    def _v1_refusal(self, method: str, params: dict[str, str]) -> tuple | None:
        secret = self.secrets.get(params.get("AccessKeyId", ""))
        if secret is None:
            return 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
        if not aliyun_signature_ok(method, params, secret):
            return 400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."
        return None

    def _acs3_refusal(self, handler, body: bytes, auth: str) -> tuple | None:
        match = _ACS3.match(auth)
        if not match:
            return 400, "IncompleteSignature", "The request signature does not conform to Aliyun standards."
        secret = self.secrets.get(match["id"])
        if secret is None:
            return 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
        names = match["signed"].split(";")
        if "host" not in names or "x-acs-content-sha256" not in names:
            return 400, "IncompleteSignature", "The request signature does not conform to Aliyun standards."
        if handler.headers.get("x-acs-content-sha256") != hashlib.sha256(body).hexdigest():
            return 400, "ContentSHA256NotMatched", "The x-acs-content-sha256 header does not match the body."
        path, _, query = handler.path.partition("?")
        pairs = sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
        canonical = "\n".join([
            handler.command, path,
            "&".join(_rfc3986(k) + "=" + _rfc3986(v) for k, v in pairs),
            "".join(f"{n}:{(handler.headers.get(n) or '').strip()}\n" for n in names),
            match["signed"],
            handler.headers["x-acs-content-sha256"]])
        to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
        expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, match["signature"]):
            return 400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."
        return None


_ACS3 = re.compile(r"ACS3-HMAC-SHA256 Credential=(?P<id>[^,]+),SignedHeaders=(?P<signed>[a-z0-9;-]+),"
                   r"Signature=(?P<signature>[0-9a-f]{64})$")


_AUTH = re.compile(r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>[\d-]+)/(?P<service>\w+)/tc3_request,"
                   r" SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$")


def tencent_signature(secret_key: str, date: str, service: str, string_to_sign: str) -> str:
    key = ("TC3" + secret_key).encode()
    for part in (date, service, "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


class TencentSmsServer(_Server):
    """sms.tencentcloudapi.com's SendSms (2021-01-11). `refusals` items: ("number", Code,
    Message) for a per-number status, ("request", Code, Message) for a request error."""

    PHONE_LIMIT = ("number", "LimitExceeded.PhoneNumberThirtySecondLimit",
                   "the number of sms messages sent from a single mobile number within 30 seconds exceeds the upper limit")

    def answer(self, handler, body: bytes) -> tuple[int, dict]:
        request_id = str(uuid.uuid4())

        def error(code: str, message: str) -> tuple[int, dict]:
            return 200, {"Response": {"Error": {"Code": code, "Message": message},
                                      "RequestId": request_id}}

        match = _AUTH.match(handler.headers.get("Authorization", ""))
        if not match:
            return error("AuthFailure.InvalidAuthorization", "Authorization is not valid.")
        secret_key = self.secrets.get(match["id"])
        if secret_key is None:
            return error("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
        stamp = handler.headers.get("X-TC-Timestamp", "")
        if not stamp.isdigit():
            return error("MissingParameter", "The request is missing a required parameter `Timestamp`.")
        signed_at = dt.datetime.fromtimestamp(int(stamp), dt.timezone.utc)
        if abs(signed_at - self.clock.now()) > dt.timedelta(minutes=5):
            return error("AuthFailure.SignatureExpire", "Signature expired. Timestamp and server"
                         " time cannot differ by more than 5 minutes.")
        names = match["signed"].split(";")
        if "content-type" not in names or "host" not in names or names != sorted(names):
            return error("AuthFailure.InvalidAuthorization",
                         "SignedHeaders must list content-type and host, sorted.")
        headers = "".join(f"{n}:{(handler.headers.get(n) or '').strip().lower()}\n" for n in names)
        canonical = "\n".join(["POST", "/", "", headers, match["signed"],
                               hashlib.sha256(body).hexdigest()])
        scope = f"{match['date']}/{match['service']}/tc3_request"
        to_sign = "\n".join(["TC3-HMAC-SHA256", stamp, scope,
                             hashlib.sha256(canonical.encode()).hexdigest()])
        expected = tencent_signature(secret_key, match["date"], match["service"], to_sign)
        if (match["date"] != signed_at.strftime("%Y-%m-%d") or match["service"] != "sms"
                or not hmac.compare_digest(expected, match["signature"])):
            return error("AuthFailure.SignatureFailure", "The provided credentials could not be"
                         " validated. Please check your signature is correct.")
        if (handler.headers.get("X-TC-Action") != "SendSms"
                or handler.headers.get("X-TC-Version") != "2021-01-11"):
            return error("InvalidAction", "The requested action does not exist.")
        request = json.loads(body)
        self.received.append({"headers": dict(handler.headers), "body": request})
        refusal = self.refusals.pop(0) if self.refusals else None
        if refusal and refusal[0] == "request":
            return error(refusal[1], refusal[2])
        statuses = []
        for number in request["PhoneNumberSet"]:
            if refusal:
                statuses.append({"SerialNo": "", "PhoneNumber": number, "Fee": 0, "SessionContext": "",
                                 "Code": refusal[1], "Message": refusal[2], "IsoCode": "CN"})
            else:
                statuses.append({"SerialNo": f"2645:{next(self._ids):030d}", "PhoneNumber": number,
                                 "Fee": 1, "SessionContext": "", "Code": "Ok",
                                 "Message": "send success", "IsoCode": "CN"})
        return 200, {"Response": {"SendStatusSet": statuses, "RequestId": request_id}}
