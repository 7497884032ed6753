"""The cloud SMS providers' status and reply callbacks, served by the SMS sender process (the
web app may not import messaging/). A threaded stdlib HTTP server answers POSTs to

    /sms/callback/aliyun/status    Alibaba Cloud SmsReport (delivery receipts)
    /sms/callback/aliyun/reply     Alibaba Cloud SmsUp (replies)
    /sms/callback/tencent/status   Tencent Cloud "SMS sending status"
    /sms/callback/tencent/reply    Tencent Cloud "SMS reply"

parses the body with the provider's parser, stores the batch in one transaction and answers
the provider's CALLBACK_ACK. With a token set, a URL must carry it, as
/sms/callback/<token>/aliyun/status or .../aliyun/status?token=<token>; without it the request
is refused (403), so strangers cannot forge receipts. A body that is not what the provider
documents gets 400 and the reason; a failure to store gets 500, and the provider pushes again."""
from __future__ import annotations

import hmac
import logging
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy.orm import sessionmaker

from messaging import aliyun, tencent
from messaging.gateway import store_receipt, store_reply
from messaging.http_util import CallbackError

log = logging.getLogger(__name__)
PREFIX = "/sms/callback/"
PROVIDERS = {"aliyun": aliyun, "tencent": tencent}
MAX_BODY = 1 << 20
JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"


class _Refused(Exception):
    def __init__(self, status: int, why: str):
        super().__init__(why)
        self.status = status


def _route(target: str, token: str) -> tuple[str, str]:
    """(provider, kind) the request target names; _Refused when it names none or lacks the
    token."""
    parts = urllib.parse.urlsplit(target)
    if not parts.path.startswith(PREFIX):
        raise _Refused(404, "not found")
    steps = parts.path[len(PREFIX):].strip("/").split("/")
    given = urllib.parse.parse_qs(parts.query).get("token", [""])[0]
    if len(steps) == 3:
        given, steps = steps[0], steps[1:]
    if len(steps) != 2 or steps[0] not in PROVIDERS or steps[1] not in ("status", "reply"):
        raise _Refused(404, "not found")
    if token and not hmac.compare_digest(given.encode(), token.encode()):
        raise _Refused(403, "wrong or missing callback token")
    return steps[0], steps[1]


def handle(maker: sessionmaker, token: str, target: str, body: bytes) -> tuple[int, str, bytes]:
    """(HTTP status, content type, body) of the answer to one callback POST."""
    try:
        provider, kind = _route(target, token)
    except _Refused as exc:
        if exc.status == 403:
            log.warning("SMS callback refused: %s", exc)
        return exc.status, TEXT, str(exc).encode()
    module = PROVIDERS[provider]
    try:
        if kind == "status":
            store_receipt(maker, provider, *module.parse_status_callback(body))
        else:
            store_reply(maker, provider, *module.parse_reply_callback(body))
    except CallbackError as exc:
        log.warning("SMS callback %s/%s refused: %s", provider, kind, exc)
        return 400, TEXT, str(exc).encode()
    except Exception:
        log.exception("SMS callback %s not stored", provider)
        return 500, TEXT, b"not stored, try again"
    return 200, JSON, module.CALLBACK_ACK


class CallbackServer:
    """The callback endpoints on host:port (port 0: a free one), in a thread."""

    def __init__(self, maker: sessionmaker, host: str = "127.0.0.1", port: int = 0,
                 token: str = ""):
        owner = self
        self.maker, self.token = maker, token

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                size = self.headers.get("Content-Length", "")
                if not size.isdigit():
                    return self._answer(411, TEXT, b"Content-Length needed")
                if int(size) > MAX_BODY:
                    return self._answer(413, TEXT, b"body too large")
                body = self.rfile.read(int(size))
                self._answer(*handle(owner.maker, owner.token, self.path, body))

            def do_GET(self):
                self._answer(405, TEXT, b"POST only")

            def _answer(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                if status >= 400:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt, *args):
                """Quiet: the request line can carry the token; `handle` logs refusals."""

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[:2]
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.2,),
                                        name="sms-callbacks", daemon=True)

    @property
    def url(self) -> str:
        """What the paths (and the token, if any) go after."""
        return f"http://{self.host}:{self.port}{PREFIX}"

    def start(self) -> CallbackServer:
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self.httpd.shutdown()
            self._thread.join(5)
        self.httpd.server_close()

    def __enter__(self) -> CallbackServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
