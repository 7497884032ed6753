"""The gateway contract every SMS gateway implements (SMPP here; Alibaba Cloud and Tencent
Cloud SMS over HTTP in aliyun.py and tencent.py).

`submit` hands one message to the gateway and returns its message ids (one per part on SMPP,
one for the whole text on the cloud APIs); it raises GatewayError when the gateway refuses,
with ``retry`` True when the refusal is for now only (throttled, queue full, no connection).
Delivery receipts and replies come back as Receipt and Reply: a gateway that pushes them over
its own connection (SMPP) calls the handlers given to `start`; the HTTP gateways' callbacks
are parsed into the same two records by whoever receives the request. `store_receipt` and
`store_reply` write them through models.sms.delivery."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import sessionmaker

from models.sms.delivery import record_receipt, record_reply


class GatewayError(Exception):
    def __init__(self, reason: str, *, retry: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


@dataclass(frozen=True)
class Receipt:
    gateway_message_id: str
    status: str                 # "delivered" | "failed"
    reason: str | None          # the gateway's code and words for a failure
    at: dt.datetime             # aware, UTC


@dataclass(frozen=True)
class Reply:
    from_number: str            # E.164
    to_number: str              # our number (or the provider's extension code) it came to
    text: str
    at: dt.datetime             # aware, UTC


class Gateway:
    name = "gateway"
    adds_signature = False      # the provider puts the 【signature】 in itself (the cloud APIs)

    def submit(self, to_e164: str, text: str, *, template_code: str | None = None,
               params: dict | None = None) -> list[str]:
        raise NotImplementedError

    def start(self, on_receipt: Callable[[Receipt], None],
              on_reply: Callable[[Reply], None]) -> None:
        """Begin handing receipts and replies to the handlers (a push gateway); the HTTP
        gateways have nothing to start."""

    def close(self) -> None:
        pass


def store_receipt(maker: sessionmaker, gateway: str, *receipts: Receipt) -> None:
    """Receipts in one transaction (a callback's batch is stored whole or not at all)."""
    with maker.begin() as session:
        for receipt in receipts:
            record_receipt(session, gateway, receipt.gateway_message_id, receipt.status,
                           receipt.reason, receipt.at)


def store_reply(maker: sessionmaker, gateway: str, *replies: Reply) -> None:
    """Replies in one transaction (a callback's batch is stored whole or not at all)."""
    with maker.begin() as session:
        for reply in replies:
            record_reply(session, gateway, reply.from_number, reply.to_number, reply.text,
                         reply.at)
