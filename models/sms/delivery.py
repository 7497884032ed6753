"""What happens to a message after it is queued: a sender claims it (a conditional UPDATE, so
two senders never send one twice), records the gateway's ids or the refusal; the gateway's
delivery receipts and the replies come back through record_receipt and record_reply."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from models.db import expire_loaded, lock_key
from models.phones import normalize_phone
from models.schema import Contact, Customer, SmsMessage, SmsPart, User
from models.sms.config import is_opt_out
from models.sms.optouts import opt_out
from models.sms.segments import split
from models.sms.sending import log_contact

RECEIPT_STATUSES = ("delivered", "failed")


def claim(session: Session, sender_id: str, now: dt.datetime, limit: int = 10) -> list[SmsMessage]:
    """Queued messages due now, now ``sending`` and this sender's."""
    ids = list(session.scalars(
        select(SmsMessage.id).where(SmsMessage.status == "queued",
                                    or_(SmsMessage.not_before.is_(None),
                                        SmsMessage.not_before <= now))
        .order_by(SmsMessage.id).limit(limit)))
    mine = []
    for message_id in ids:
        done = session.execute(
            update(SmsMessage).where(SmsMessage.id == message_id, SmsMessage.status == "queued")
            .values(status="sending", claimed_by=sender_id, claimed_at=now,
                    attempts=SmsMessage.attempts + 1)
            .execution_options(synchronize_session=False))
        if done.rowcount == 1:
            expire_loaded(session, SmsMessage, message_id)
            mine.append(session.get(SmsMessage, message_id))
    return mine


STALLED = dt.timedelta(minutes=10)


def fail_stalled(session: Session, now: dt.datetime, after: dt.timedelta = STALLED) -> int:
    """Messages a sender claimed and never finished (its process died mid-submit) fail with
    a reason that says the gateway may have them: sent again they could reach the customer
    twice. Returns how many."""
    done = session.execute(
        update(SmsMessage).where(SmsMessage.status == "sending",
                                 SmsMessage.claimed_at < now - after)
        .values(status="failed", reason="sms.sender_lost", done_at=now)
        .execution_options(synchronize_session=False))
    return done.rowcount


def _lock_part(session: Session, gateway: str, gateway_message_id: str) -> None:
    """A receipt can come while its submit is being recorded: each inserts the part when it
    finds none, so they take turns (else one fails on the unique index, on PostgreSQL)."""
    lock_key(session, f"sms_part:{gateway}:{gateway_message_id}")


def _status_from_parts(message: SmsMessage, parts: list[SmsPart], at: dt.datetime) -> None:
    """A message's parts are all known once it is sent (mark_submitted links them)."""
    failed = [p for p in parts if p.status == "failed"]
    if failed:
        message.status, message.reason = "failed", failed[0].reason
        message.done_at = message.done_at or at
    elif parts and all(p.status == "delivered" for p in parts):
        message.status, message.done_at = "delivered", at


def mark_submitted(session: Session, message_id: int, gateway: str, gateway_ids: list[str],
                   now: dt.datetime) -> SmsMessage:
    """The gateway took the message: ``sent``, with one part per id (receipts that came first
    are attached now)."""
    message = session.get(SmsMessage, message_id)
    message.status, message.gateway, message.sent_at, message.reason = "sent", gateway, now, None
    parts = []
    for gateway_id in gateway_ids:
        _lock_part(session, gateway, gateway_id)
        part = session.scalar(select(SmsPart).where(SmsPart.gateway == gateway,
                                                    SmsPart.gateway_message_id == gateway_id))
        if part is None:
            part = SmsPart(gateway=gateway, gateway_message_id=gateway_id, status="sent")
            session.add(part)
        part.message_id = message.id
        parts.append(part)
    session.flush()
    _status_from_parts(message, parts, max([p.receipt_at for p in parts if p.receipt_at],
                                           default=now))
    session.flush()
    return message


def mark_retry(session: Session, message_id: int, reason: str, not_before: dt.datetime) -> None:
    """Refused for now (throttled, no connection): queued again for `not_before`."""
    message = session.get(SmsMessage, message_id)
    message.status, message.reason, message.not_before = "queued", reason[:200], not_before
    message.claimed_by = None
    session.flush()


def mark_failed(session: Session, message_id: int, reason: str, now: dt.datetime) -> None:
    message = session.get(SmsMessage, message_id)
    message.status, message.reason, message.done_at = "failed", reason[:200], now
    session.flush()


def record_receipt(session: Session, gateway: str, gateway_message_id: str, status: str,
                   reason: str | None, at: dt.datetime) -> SmsMessage | None:
    """A delivery receipt: the part's status, then the message's (delivered once every part
    is, failed with the reason when one is). A receipt for an id not recorded yet is kept and
    applied when its submit is recorded. Returns the message, None for such an orphan."""
    if status not in RECEIPT_STATUSES:
        raise ValueError(f"not a receipt status: {status!r}")
    _lock_part(session, gateway, gateway_message_id)
    part = session.scalar(select(SmsPart).where(SmsPart.gateway == gateway,
                                                SmsPart.gateway_message_id == gateway_message_id))
    if part is None:
        part = SmsPart(gateway=gateway, gateway_message_id=gateway_message_id)
        session.add(part)
    part.status, part.reason, part.receipt_at = status, (reason or "")[:200] or None, at
    session.flush()
    if part.message_id is None:
        return None
    message = session.get(SmsMessage, part.message_id)
    parts = list(session.scalars(select(SmsPart).where(SmsPart.message_id == message.id)))
    _status_from_parts(message, parts, at)
    session.flush()
    return message


def _owner(session: Session, number: str) -> tuple[Customer | None, int | None, User | None]:
    """(customer, contact id, salesperson) a reply from `number` belongs to: the customer of
    the last SMS sent to it, else the customer or contact with that mobile."""
    last = session.scalar(select(SmsMessage).where(SmsMessage.direction == "out",
                                                   SmsMessage.to_number == number,
                                                   SmsMessage.customer_id.is_not(None))
                          .order_by(SmsMessage.id.desc()).limit(1))
    if last is not None:
        user = session.get(User, last.user_id) if last.user_id else None
        return session.get(Customer, last.customer_id), last.contact_id, user
    customer = session.scalar(select(Customer).where(Customer.mobile_e164 == number)
                              .order_by(Customer.id).limit(1))
    if customer is not None:
        return customer, None, None
    contact = session.scalar(select(Contact).where(Contact.mobile_e164 == number)
                             .order_by(Contact.id).limit(1))
    if contact is not None:
        return session.get(Customer, contact.customer_id), contact.id, None
    return None, None, None


def record_reply(session: Session, gateway: str, from_number: str, to_number: str, text: str,
                 at: dt.datetime) -> SmsMessage:
    """An SMS a customer sent us: attached to its customer (a contact record), and an opt-out
    word (退订, TD, the admin's words) opts the number out of SMS at once."""
    number = normalize_phone(from_number) or str(from_number)[:20]
    customer, contact_id, user = _owner(session, number)
    encoding, parts = split(text or "")
    message = SmsMessage(direction="in", customer_id=customer.id if customer else None,
                         contact_id=contact_id, user_id=user.id if user else None,
                         to_number=str(to_number)[:20], from_number=number, text=text or "",
                         segments=len(parts), encoding=encoding, status="received",
                         gateway=gateway, attempts=0, created_at=at, done_at=at)
    session.add(message)
    session.flush()
    if is_opt_out(session, text):
        opt_out(session, number, reason="短信回复退订", message_id=message.id,
                clock=_At(at))
    if customer is not None:
        log_contact(session, message, user, customer, clock=_At(at))
    return message


class _At:
    """A clock stopped at the time a gateway gave."""

    def __init__(self, at: dt.datetime):
        self.at = at

    def now(self) -> dt.datetime:
        return self.at
