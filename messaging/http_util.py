"""What the HTTP SMS gateways (Alibaba Cloud, Tencent Cloud) share: one POST with a timeout,
their errors (the gateway contract's GatewayError, with `reason` and `retry`) and the helpers
of their callback parsers (which give the contract's Receipt and Reply)."""
from __future__ import annotations

import datetime as dt
import http.client
import json
import socket
import urllib.parse

from messaging.gateway import GatewayError

# Both providers stamp callback times in Beijing time, which has no daylight saving.
BEIJING = dt.timezone(dt.timedelta(hours=8), "CST")


class SmsHttpError(GatewayError):
    """The provider could not be reached or answered something that is not its API:
    connection refused, timeout, a reply that is not JSON. Worth trying again later."""

    def __init__(self, gateway: str, reason: str):
        super().__init__(f"{gateway}: {reason}", retry=True)
        self.gateway = gateway


class SmsProviderError(GatewayError):
    """The provider refused the message; `code` and `message` are its own words.
    `throttled` marks a rate limit (send later), not a bad message."""

    def __init__(self, gateway: str, code: str, message: str, request_id: str = "",
                 throttled: bool = False):
        super().__init__(f"{gateway} refused: {code}: {message}", retry=throttled)
        self.gateway = gateway
        self.code = code
        self.message = message
        self.request_id = request_id
        self.throttled = throttled


class CallbackError(ValueError):
    """A status or reply callback body that is not what the provider documents."""


def post(gateway: str, url: str, body: bytes, headers: dict[str, str],
         timeout: float) -> tuple[int, dict]:
    """POST `body` to `url`; the HTTP status and the JSON object the provider answered."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SmsHttpError(gateway, f"bad endpoint URL {url!r}")
    conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_class(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", parts.path or "/", body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        status = resp.status
    except (socket.timeout, TimeoutError):
        raise SmsHttpError(gateway, f"no answer from {parts.netloc} within {timeout:g} s") from None
    except ConnectionRefusedError:
        raise SmsHttpError(gateway, f"connection refused by {parts.netloc}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise SmsHttpError(gateway, f"{parts.netloc}: {exc.__class__.__name__}: {exc}") from None
    finally:
        conn.close()
    try:
        data = json.loads(raw)
    except ValueError:
        raise SmsHttpError(gateway, f"HTTP {status}, not JSON: {raw[:200]!r}") from None
    if not isinstance(data, dict):
        raise SmsHttpError(gateway, f"HTTP {status}, unexpected JSON: {raw[:200]!r}")
    return status, data


def json_body(gateway: str, body: bytes | str, kind: type | tuple[type, ...]) -> object:
    """A callback's JSON body, which must be a `kind` (list, dict or either)."""
    try:
        data = json.loads(body)
    except ValueError:
        raise CallbackError(f"{gateway} callback: not JSON") from None
    if not isinstance(data, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise CallbackError(f"{gateway} callback: expected a JSON {names}")
    return data


def field(gateway: str, item: dict, name: str) -> object:
    if not isinstance(item, dict) or name not in item:
        raise CallbackError(f"{gateway} callback: missing {name!r}")
    return item[name]


def beijing_time(gateway: str, text: object) -> dt.datetime:
    """'2017-01-01 08:00:00' in Beijing time, as an aware UTC datetime."""
    try:
        local = dt.datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise CallbackError(f"{gateway} callback: bad time {text!r}") from None
    return local.replace(tzinfo=BEIJING).astimezone(dt.timezone.utc)


def e164(country_code: str, number: str) -> str:
    """'+<country code><number>' from a callback's separate or national parts."""
    digits = "".join(ch for ch in str(number) if ch.isdigit())
    if str(number).startswith("+"):
        return "+" + digits
    return f"+{country_code}{digits}"
