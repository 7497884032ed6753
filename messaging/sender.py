"""The sender: takes queued messages (models.sms.delivery.claim: two senders never send one
twice), releases what bulk jobs may send by now, submits through the configured gateway at
a rate, and records the ids, a retry for later or the failure. The gateway's receipts and
replies are stored as they come. Run by the dialer process, `dialfunnel sms` or the demo."""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time

from sqlalchemy.orm import sessionmaker

from messaging.gateway import Gateway, GatewayError, store_receipt, store_reply
from models.clock import SYSTEM_CLOCK
from models.schema import SmsTemplate
from models.sms.bulk import release
from models.sms.config import unsign
from models.sms.delivery import claim, fail_stalled, mark_failed, mark_retry, mark_submitted

log = logging.getLogger(__name__)
RECORD_TRIES = 3


class Sender:
    def __init__(self, maker: sessionmaker, gateway: Gateway, *, sender_id: str = "",
                 rate_per_second: float = 10.0, retry_s: float = 30.0, max_attempts: int = 5,
                 batch: int = 20, clock=SYSTEM_CLOCK, sleep=time.sleep, monotonic=time.monotonic):
        self.maker, self.gateway = maker, gateway
        self.sender_id = sender_id or f"{socket.gethostname()}:{os.getpid()}"
        self.interval = 1.0 / rate_per_second if rate_per_second > 0 else 0.0
        self.retry = dt.timedelta(seconds=retry_s)
        self.max_attempts, self.batch = max_attempts, batch
        self.clock, self.sleep, self.monotonic = clock, sleep, monotonic
        self._next_at = 0.0

    def start_gateway(self) -> None:
        name = self.gateway.name
        self.gateway.start(lambda receipt: store_receipt(self.maker, name, receipt),
                           lambda reply: store_reply(self.maker, name, reply))

    def _pace(self) -> None:
        """At most rate_per_second submits."""
        now = self.monotonic()
        if now < self._next_at:
            self.sleep(self._next_at - now)
            now = self._next_at
        self._next_at = now + self.interval

    def run_once(self) -> int:
        """One round: bulk releases, then the messages due now. Returns how many were tried."""
        with self.maker.begin() as session:
            release(session, clock=self.clock)
            fail_stalled(session, self.clock.now())
        with self.maker.begin() as session:
            work = [(m.id, m.to_number, self._text(session, m.text), m.attempts,
                     _template(session, m))
                    for m in claim(session, self.sender_id, self.clock.now(), self.batch)]
        for message_id, to_number, text, attempts, template in work:
            self._pace()
            self._send(message_id, to_number, text, attempts, *template)
        return len(work)

    def _text(self, session, text: str) -> str:
        return unsign(session, text) if self.gateway.adds_signature else text

    def _send(self, message_id: int, to_number: str, text: str, attempts: int,
              code: str | None, params: dict | None) -> None:
        try:
            ids = self.gateway.submit(to_number, text, template_code=code, params=params)
        except GatewayError as exc:
            self._refused(message_id, exc.reason, exc.retry, attempts)
            return
        except OSError as exc:
            self._refused(message_id, f"{type(exc).__name__}: {exc}", True, attempts)
            return
        except ValueError as exc:       # the gateway cannot take it (no template, bad number)
            self._refused(message_id, str(exc), False, attempts)
            return
        for attempt in range(RECORD_TRIES):   # the gateway has it: its ids must be kept
            try:
                with self.maker.begin() as session:
                    mark_submitted(session, message_id, self.gateway.name, ids, self.clock.now())
                return
            except Exception:
                log.exception("SMS %s sent as %s but not recorded (try %d)", message_id, ids,
                              attempt + 1)
                self.sleep(0.5 * (attempt + 1))

    def _refused(self, message_id: int, reason: str, retry: bool, attempts: int) -> None:
        now = self.clock.now()
        with self.maker.begin() as session:
            if retry and attempts < self.max_attempts:
                log.info("SMS %s refused for now (%s): again in %s", message_id, reason,
                         self.retry)
                mark_retry(session, message_id, reason, now + self.retry * attempts)
            else:
                log.warning("SMS %s failed: %s", message_id, reason)
                mark_failed(session, message_id, reason, now)

    def run(self, stop: threading.Event, idle_s: float = 1.0) -> None:
        while not stop.is_set():
            try:
                if self.run_once() == 0:
                    stop.wait(idle_s)
            except Exception:
                log.exception("SMS sender round failed")
                stop.wait(idle_s)


def _template(session, message) -> tuple[str | None, dict | None]:
    """The cloud gateway's template the message's SMS template names and the values that fill
    it, by variable name in the template's order (None, None: the text as it is; SMPP sends
    the text whatever it is given)."""
    template = session.get(SmsTemplate, message.template_id) if message.template_id else None
    if template is None or not template.gateway_code:
        return None, None
    params = message.template_params
    return template.gateway_code, dict(params) if params is not None else None
